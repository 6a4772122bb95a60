// The VIRTIO device status over a session as a row of spans for the timeline: reset →
// ACKNOWLEDGE → DRIVER → FEATURES_OK → DRIVER_OK, NEEDS_RESET, resets. The steps come from the
// conformance checker (set by SET_STATUS, read by GET_STATUS, or inferred from the transport),
// the same derivation `check` and `summary`'s "Device status" line use.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "decoders/conformance/checker.hpp"

namespace vhs {
class Store;
}

namespace vhs::view {

struct LifecycleSpan {
  uint64_t start = 0;  // the step's message
  uint64_t end = 0;    // the next step, or the session's end
  uint8_t status = 0;
  bool inferred = false;  // STATUS not negotiated: implied by SET_FEATURES, a ring start, a reset
  uint32_t entry = 0;     // the message that set or implied it (a store entry)
  std::string label;      // lifecycle_label(status)
};

// The furthest stage the status bits say: "reset" (0), "ACKNOWLEDGE", "DRIVER", "FEATURES_OK",
// "DRIVER_OK", and over those "NEEDS_RESET" and "FAILED" (VIRTIO "Device Status Field").
std::string lifecycle_label(uint8_t status);

// One span per step, each lasting until the next one; the last until `end_ns`.
std::vector<LifecycleSpan> lifecycle_spans(std::span<const LifecycleStep> steps, uint64_t end_ns);

// The spans of the store's session `session` (an index into Store::sessions()), to the session's
// last record.
std::vector<LifecycleSpan> session_lifecycle(const Store& store, size_t session);
// The same from the steps of the session's replay (StoreSessionReplay, run a slice at a time).
std::vector<LifecycleSpan> session_lifecycle(const Store& store, size_t session,
                                             std::span<const LifecycleStep> steps);

}  // namespace vhs::view
