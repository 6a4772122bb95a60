// Ring-state records of a loaded capture, decoded independently of the Store's ring timeline (so
// a test cross-checks it rather than reusing it).
#pragma once

#include <cstdint>
#include <optional>

#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::test {

// The last sample the recorder took of `queue` (RingState records are taken on change and when
// the ring stops). Fails the test for a RingState record that does not decode.
std::optional<RingSnapshot> last_ring_state(const Store& store, uint32_t queue);

}  // namespace vhs::test
