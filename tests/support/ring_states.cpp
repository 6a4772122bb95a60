#include "support/ring_states.hpp"

#include <string>

#include <gtest/gtest.h>

namespace vhs::test {

std::optional<RingSnapshot> last_ring_state(const Store& store, uint32_t queue) {
  std::optional<RingSnapshot> last;
  for (size_t i = 0; i < store.size(); ++i) {
    if (store.entry(i).kind != RecordKind::RingState) continue;
    std::string error;
    auto snap = decode_ring_snapshot(store.bytes(i), &error);
    EXPECT_TRUE(snap.has_value()) << "#" << i << ": " << error;
    if (snap && snap->queue == queue) last = snap;
  }
  return last;
}

}  // namespace vhs::test
