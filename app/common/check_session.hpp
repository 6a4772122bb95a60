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

// The same replay a slice at a time, for a viewer that keeps each frame short: advance() feeds the
// next `budget` of the session's records to the checker; once it returns true, result() is what
// check_store_session returns for the store as it was then. The session is named by its index
// in Store::sessions() (the vector may grow between slices).
class StoreSessionReplay {
 public:
  StoreSessionReplay(const Store& store, size_t session_index);
  bool advance(const Store& store, size_t budget);
  SessionCheck result(const Store& store);
  size_t session_index() const { return session_index_; }

 private:
  size_t session_index_;
  ConformanceChecker checker_;
  uint32_t next_;
};

}  // namespace vhs
