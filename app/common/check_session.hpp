// Running the conformance checker (decoders/conformance) over one session of a Store: the
// session's records replayed in order, as the Store itself ingested them. `vhostscope check` and
// `summary` both read violations from here, so they cannot disagree.
#pragma once

#include <vector>

#include "captures/model/store.hpp"
#include "decoders/conformance/checker.hpp"

namespace vhs {

// Every violation of every rule (no profile or blame filter), in the order found. Message
// references are store entry indices.
std::vector<Violation> check_store_session(const Store& store, const StoreSession& session);

}  // namespace vhs
