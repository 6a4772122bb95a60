// Synthetic guest memory and a split ring whose driver and device sides a test plays by hand:
// for the split-ring reader (ring_split_test) and the ring follower (split_follower_test).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::test {

constexpr uint64_t kVersion1 = uint64_t{1} << 32;
constexpr uint64_t kEventIdx = uint64_t{1} << 29;

// Two regions at non-zero GPAs whose UVAs are unrelated to the GPAs: ring translation mistakes
// (using a UVA as a GPA or the reverse) land outside memory and fail loudly.
class Guest {
 public:
  static constexpr uint64_t kGpa0 = 0x10000, kSize0 = 0x10000, kUva0 = 0x7f0000010000;
  static constexpr uint64_t kGpa1 = 0x100000, kSize1 = 0x40000, kUva1 = 0x7f2000000000;

  Guest() : r0_(kSize0), r1_(kSize1) {}

  std::vector<MemRegionValue> regions() const {
    return {{kGpa0, kSize0, kUva0, 0}, {kGpa1, kSize1, kUva1, 0x10000}};
  }
  MemoryMap map() const { return MemoryMap(regions()); }
  RegionMemory view() const { return RegionMemory(map(), {r0_, r1_}); }

  uint8_t* at(uint64_t gpa) {
    if (gpa >= kGpa0 && gpa < kGpa0 + kSize0) return r0_.data() + (gpa - kGpa0);
    if (gpa >= kGpa1 && gpa < kGpa1 + kSize1) return r1_.data() + (gpa - kGpa1);
    ADD_FAILURE() << "test wrote outside guest memory at " << std::hex << gpa;
    return scrap_.data();
  }
  void w16(uint64_t gpa, uint16_t v) { put(gpa, v, 2); }
  void w32(uint64_t gpa, uint32_t v) { put(gpa, v, 4); }
  void w64(uint64_t gpa, uint64_t v) { put(gpa, v, 8); }
  static uint64_t uva(uint64_t gpa) {
    return gpa >= kGpa1 ? gpa - kGpa1 + kUva1 : gpa - kGpa0 + kUva0;
  }

  std::vector<uint8_t>& r0() { return r0_; }
  std::vector<uint8_t>& r1() { return r1_; }

 private:
  void put(uint64_t gpa, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) at(gpa + i)[0] = static_cast<uint8_t>(v >> (8 * i));
  }
  std::vector<uint8_t> r0_, r1_;
  std::array<uint8_t, 16> scrap_{};
};

// A split ring of size n in region 0; the driver and device sides are played by the test.
struct SplitRing {
  Guest& g;
  uint16_t n;
  uint64_t desc = Guest::kGpa0, avail = Guest::kGpa0 + 0x1000, used = Guest::kGpa0 + 0x2000;
  uint16_t aidx = 0, uidx = 0;

  void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    g.w64(desc + 16 * i, addr);
    g.w32(desc + 16 * i + 8, len);
    g.w16(desc + 16 * i + 12, flags);
    g.w16(desc + 16 * i + 14, next);
  }
  void start_at(uint16_t idx) {  // as if the ring had already turned over this many times
    aidx = uidx = idx;
    g.w16(avail + 2, aidx);
    g.w16(used + 2, uidx);
  }
  void publish(uint16_t head) {
    g.w16(avail + 4 + 2 * (aidx % n), head);
    g.w16(avail + 2, ++aidx);
  }
  void complete(uint32_t id, uint32_t len = 0) {
    g.w32(used + 4 + 8 * (uidx % n), id);
    g.w32(used + 4 + 8 * (uidx % n) + 4, len);
    g.w16(used + 2, ++uidx);
  }
  VringAddrValue addr() const {
    return {0, 0, Guest::uva(desc), Guest::uva(used), Guest::uva(avail), 0};
  }
  RingLocation loc(uint64_t features = kVersion1) const {
    return locate_ring(g.map(), 0, n, addr(), features, DeviceKind::Unknown);
  }
  // A one-descriptor buffer per head, each in region 1.
  void simple_buffers() {
    for (uint16_t i = 0; i < n; ++i) set_desc(i, Guest::kGpa1 + 0x1000 * i, 512, 0);
  }
};

}  // namespace vhs::test
