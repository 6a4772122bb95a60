// Running the conformance checker (decoders/conformance) over one session of a Store: the
// session's records replayed in order, as the Store itself ingested them. `vhostscope check` and
// `summary` both read violations from here, so they cannot disagree.
#pragma once

#include <vector>

#include "captures/model/store.hpp"
#include "decoders/conformance/checker.hpp"

namespace vhs {

struct SessionCheck {
  // Every violation of every rule (no profile or blame filter), in the order found.
  std::vector<Violation> violations;
  // The VIRTIO device status over the session (set or inferred).
  std::vector<LifecycleStep> lifecycle;
};

// Message references in the result are store entry indices.
SessionCheck check_store_session(const Store& store, const StoreSession& session);

}  // namespace vhs
