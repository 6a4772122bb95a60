// Packed virtqueues over synthetic guest memory: driver/device positions and wrap counters, event
// areas, in-flight buffers (in order, across wraps, out of order, with a vring base), chains with
// NEXT and indirect tables, broken chains, and random memory.
#include <array>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/packed_ring.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {
namespace {

constexpr uint64_t kVersion1 = uint64_t{1} << 32;
constexpr uint64_t kPacked = uint64_t{1} << 34;
constexpr uint64_t kEventIdx = uint64_t{1} << 29;

// Ring memory (region 0) and buffer memory (region 1) at non-zero GPAs, UVAs elsewhere.
class Guest {
 public:
  static constexpr uint64_t kGpa0 = 0x40000, kSize0 = 0x10000, kUva0 = 0x7fa000000000;
  static constexpr uint64_t kGpa1 = 0x200000, kSize1 = 0x10000, kUva1 = 0x7fb000000000;

  Guest() : r0_(kSize0), r1_(kSize1) {}
  MemoryMap map() const {
    std::vector<MemRegionValue> rs = {{kGpa0, kSize0, kUva0, 0}, {kGpa1, kSize1, kUva1, 0}};
    return MemoryMap(rs);
  }
  RegionMemory view() const { return RegionMemory(map(), {r0_, r1_}); }
  void put(uint64_t gpa, uint64_t v, int n) {
    std::vector<uint8_t>& r = gpa >= kGpa1 ? r1_ : r0_;
    const uint64_t base = gpa >= kGpa1 ? kGpa1 : kGpa0;
    ASSERT_LE(gpa - base + n, r.size());
    for (int i = 0; i < n; ++i) r[gpa - base + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  static uint64_t uva(uint64_t gpa) {
    return gpa >= kGpa1 ? gpa - kGpa1 + kUva1 : gpa - kGpa0 + kUva0;
  }
  std::vector<uint8_t>& r0() { return r0_; }

 private:
  std::vector<uint8_t> r0_, r1_;
};

struct Buf {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;  // kDescWrite / kDescIndirect
};

// The driver and device sides of a packed ring, as the spec has them write it.
struct PackedRing {
  Guest& g;
  uint16_t n;
  uint64_t desc = Guest::kGpa0, driver = Guest::kGpa0 + 0x8000, device = Guest::kGpa0 + 0x9000;
  uint16_t avail_pos = 0, used_pos = 0;
  bool avail_wrap = true, used_wrap = true;

  void set_desc(uint16_t slot, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags) {
    g.put(desc + 16 * slot, addr, 8);
    g.put(desc + 16 * slot + 8, len, 4);
    g.put(desc + 16 * slot + 12, id, 2);
    g.put(desc + 16 * slot + 14, flags, 2);
  }
  static uint16_t avail_flags(bool wrap) { return wrap ? kPackedDescAvail : kPackedDescUsed; }

  // Makes one buffer available (id in every descriptor, as Linux writes it); the head's flags are
  // written last, as a real driver must. Returns the head slot.
  uint16_t publish(uint16_t id, std::vector<Buf> bufs) {
    const uint16_t head = avail_pos;
    uint16_t head_flags = 0;
    for (size_t i = 0; i < bufs.size(); ++i) {
      const uint16_t flags = static_cast<uint16_t>(
          bufs[i].flags | (i + 1 < bufs.size() ? kDescNext : 0) | avail_flags(avail_wrap));
      if (i == 0) head_flags = flags;
      set_desc(avail_pos, bufs[i].addr, bufs[i].len, id, i == 0 ? 0 : flags);
      if (++avail_pos == n) {
        avail_pos = 0;
        avail_wrap = !avail_wrap;
      }
    }
    g.put(desc + 16 * head + 14, head_flags, 2);
    return head;
  }
  uint16_t publish_one(uint16_t id) { return publish(id, {{Guest::kGpa1 + 0x100 * id, 64, 0}}); }

  // The device's used entry for buffer `id` that took `descs` ring slots.
  void complete(uint16_t id, uint32_t len, uint16_t descs) {
    const uint16_t both = used_wrap ? (kPackedDescAvail | kPackedDescUsed) : 0;
    set_desc(used_pos, 0, len, id, static_cast<uint16_t>(both | (len ? kDescWrite : 0)));
    used_pos = static_cast<uint16_t>(used_pos + descs);
    if (used_pos >= n) {
      used_pos = static_cast<uint16_t>(used_pos - n);
      used_wrap = !used_wrap;
    }
  }
  RingLocation loc(uint64_t features = kVersion1 | kPacked) const {
    const VringAddrValue a{0, 0, Guest::uva(desc), Guest::uva(device), Guest::uva(driver), 0};
    return locate_ring(g.map(), 0, n, a, features, DeviceKind::Unknown);
  }
};

RingSnapshot snap(const Guest& g, const RingLocation& loc) {
  return take_ring_snapshot(g.view(), loc);
}

uint16_t pos(uint16_t index, bool wrap) {
  return static_cast<uint16_t>(index | (wrap ? 0x8000 : 0));
}

TEST(PackedRing, LocatesAllThreeParts) {
  Guest g;
  PackedRing r{g, 8};
  const RingLocation loc = r.loc();
  EXPECT_TRUE(loc.readable());
  EXPECT_EQ(loc.type, RingType::Packed);
  EXPECT_EQ(loc.desc, r.desc);
  EXPECT_EQ(loc.driver, r.driver);
  EXPECT_EQ(loc.device, r.device);
  // Packed sizes need not be powers of two.
  const VringAddrValue a{0, 0, Guest::uva(r.desc), Guest::uva(r.device), Guest::uva(r.driver), 0};
  EXPECT_TRUE(locate_ring(g.map(), 0, 6, a, kVersion1 | kPacked, DeviceKind::Unknown).readable());
  EXPECT_FALSE(
      locate_ring(g.map(), 0, 40000, a, kVersion1 | kPacked, DeviceKind::Unknown).readable());
}

TEST(PackedRing, FreshRingIsEmptyWithBothCountersAtOne) {
  Guest g;
  PackedRing r{g, 8};
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_TRUE(s.indices_ok);
  EXPECT_EQ(s.type, RingType::Packed);
  EXPECT_EQ(s.avail_idx, pos(0, true));
  EXPECT_EQ(s.used_idx, pos(0, true));
  EXPECT_EQ(s.inflight, 0u);
  EXPECT_TRUE(s.heads.empty());
  EXPECT_TRUE(s.faults.empty());
}

TEST(PackedRing, ReadsEventSuppressionAreas) {
  Guest g;
  PackedRing r{g, 8};
  g.put(r.driver, 0x8003, 2);
  g.put(r.driver + 2, kPackedEventDesc, 2);
  g.put(r.device, 0x0005, 2);
  g.put(r.device + 2, kPackedEventDisable, 2);
  const RingSnapshot s = snap(g, r.loc(kVersion1 | kPacked | kEventIdx));
  EXPECT_EQ(s.used_event, 0x8003);
  EXPECT_EQ(s.avail_flags, kPackedEventDesc);
  EXPECT_EQ(s.avail_event, 0x0005);
  EXPECT_EQ(s.used_flags, kPackedEventDisable);
  EXPECT_TRUE(s.event_idx);
}

TEST(PackedRing, PublishedBuffersAreInFlightWithTheirChains) {
  Guest g;
  PackedRing r{g, 8};
  const uint64_t table = Guest::kGpa1 + 0x4000;
  g.put(table + 0, Guest::kGpa1 + 0x5000, 8);
  g.put(table + 8, 16, 4);
  g.put(table + 16, Guest::kGpa1 + 0x6000, 8);
  g.put(table + 24, 4096, 4);
  g.put(table + 30, kDescWrite, 2);
  r.publish(10, {{Guest::kGpa1, 16, 0}, {Guest::kGpa1 + 0x1000, 512, kDescWrite}});
  r.publish(11, {{Guest::kGpa1 + 0x2000, 64, 0}});
  r.publish(12, {{table, 32, kDescIndirect}});
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.avail_idx, pos(4, true));
  EXPECT_EQ(s.used_idx, pos(0, true));
  EXPECT_EQ(s.inflight, 3u);
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{10, 11, 12}));
  ASSERT_TRUE(s.oldest);
  EXPECT_EQ(s.oldest->head, 10);
  EXPECT_EQ(s.oldest->descs, 2);
  EXPECT_EQ(s.oldest->readable_bytes, 16u);
  EXPECT_EQ(s.oldest->writable_bytes, 512u);
  EXPECT_TRUE(s.faults.empty());

  Chain c;
  walk_packed_chain(g.view(), r.loc(), 3, 1, c);
  EXPECT_EQ(c.error, ChainError::None);
  EXPECT_EQ(c.id, 12);
  EXPECT_EQ(c.ring_descs, 1);
  ASSERT_EQ(c.descs.size(), 2u);
  EXPECT_TRUE(c.descs[1].in_indirect);
  EXPECT_EQ(c.writable_bytes, 4096u);
}

TEST(PackedRing, InOrderCompletionSkipsTheCompletedBuffersTail) {
  Guest g;
  PackedRing r{g, 8};
  r.publish(10, {{Guest::kGpa1, 16, 0}, {Guest::kGpa1 + 0x1000, 512, kDescWrite}});
  r.publish_one(11);
  r.publish_one(12);
  r.complete(10, 512, 2);  // used entry over slot 0; slot 1 still shows buffer 10's tail
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.used_idx, pos(2, true));
  EXPECT_EQ(s.inflight, 2u);
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{11, 12}));
}

TEST(PackedRing, WrapCountersFlipAtTheEnd) {
  Guest g;
  PackedRing r{g, 4};
  for (uint16_t id : {1, 2, 3}) r.publish_one(id);
  for (uint16_t id : {1, 2, 3}) r.complete(id, 0, 1);
  r.publish_one(4);  // slot 3
  r.publish_one(5);  // slot 0, second lap: AVAIL bit now 0
  RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.avail_idx, pos(1, false));
  EXPECT_EQ(s.used_idx, pos(3, true));
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{4, 5}));

  r.complete(4, 0, 1);  // the device wraps too
  s = snap(g, r.loc());
  EXPECT_EQ(s.used_idx, pos(0, false));
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{5}));

  r.complete(5, 0, 1);
  s = snap(g, r.loc());
  EXPECT_EQ(s.inflight, 0u);
  EXPECT_EQ(s.used_idx, pos(1, false));
  EXPECT_EQ(s.avail_idx, pos(1, false));
}

TEST(PackedRing, FullRingIsAllInFlight) {
  Guest g;
  PackedRing r{g, 4};
  for (uint16_t id : {7, 8, 9, 6}) r.publish_one(id);
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.avail_idx, pos(0, false));
  EXPECT_EQ(s.used_idx, pos(0, true));
  EXPECT_EQ(s.inflight, 4u);
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{7, 8, 9, 6}));
}

// The documented out-of-order limit: buffer 3 completed ahead of 1 and 2 stays listed until the
// device's used position passes its slot; buffer 1 shows only its tail.
TEST(PackedRing, OutOfOrderCompletionKeepsTheDocumentedShape) {
  Guest g;
  PackedRing r{g, 8};
  r.publish(1, {{Guest::kGpa1, 16, 0}, {Guest::kGpa1 + 0x1000, 512, kDescWrite}});
  r.publish_one(2);
  r.publish_one(3);
  r.complete(3, 0, 1);  // used entry for 3 lands on slot 0 (buffer 1's head)
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.used_idx, pos(1, true));
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{1, 2, 3}));
}

TEST(PackedRing, VringBaseReplacesTheInferredUsedPosition) {
  Guest g;
  PackedRing r{g, 8};
  for (uint16_t id : {1, 2, 3}) r.publish_one(id);
  RingLocation loc = r.loc();
  // GET_VRING_BASE encoding: next avail 3 wrap 1, next used 1 wrap 1 (spec "Vring descriptor
  // indices for packed virtqueues").
  loc.vring_base = 3u | (1u << 15) | (1u << 16) | (1u << 31);
  RingSnapshot s = snap(g, loc);
  EXPECT_EQ(s.used_idx, pos(1, true));
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{2, 3}));
  EXPECT_EQ(s.vring_base, loc.vring_base);
  // A base that cannot be right (used position ahead of the driver) is ignored.
  loc.vring_base = (5u << 16) | (1u << 31);
  s = snap(g, loc);
  EXPECT_EQ(s.used_idx, pos(0, true));
  EXPECT_EQ(s.inflight, 3u);
}

TEST(PackedRing, ChainRunningPastTheAvailableDescriptors) {
  Guest g;
  PackedRing r{g, 8};
  r.set_desc(0, Guest::kGpa1, 16, 9,
             kDescNext | kPackedDescAvail);  // NEXT, but slot 1 is not available
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.inflight, 1u);
  EXPECT_TRUE(s.heads_approximate);
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_EQ(s.faults[0].kind, RingFaultKind::Chain);
  EXPECT_EQ(s.faults[0].chain, ChainError::NextOutOfRange);
  EXPECT_EQ(s.faults[0].head, 0);
}

TEST(PackedRing, IndirectRulesBroken) {
  Guest g;
  PackedRing r{g, 8};
  const uint64_t table = Guest::kGpa1 + 0x4000;
  g.put(table + 14, kDescIndirect, 2);  // entry 0 nested
  r.publish(1, {{table, 32, kDescIndirect}});
  Chain c;
  walk_packed_chain(g.view(), r.loc(), 0, 1, c);
  EXPECT_EQ(c.error, ChainError::NestedIndirect);
  r.set_desc(0, table, 32, 1, kDescIndirect | kDescNext | kPackedDescAvail);
  walk_packed_chain(g.view(), r.loc(), 0, 2, c);
  EXPECT_EQ(c.error, ChainError::IndirectWithNext);
  r.set_desc(0, table, 20, 1, kDescIndirect | kPackedDescAvail);
  walk_packed_chain(g.view(), r.loc(), 0, 1, c);
  EXPECT_EQ(c.error, ChainError::IndirectBadLength);
  walk_packed_chain(g.view(), r.loc(), 8, 1, c);
  EXPECT_EQ(c.error, ChainError::HeadOutOfRange);
}

TEST(PackedRing, SnapshotRoundTripsThroughItsEncoding) {
  Guest g;
  PackedRing r{g, 8};
  r.publish(10, {{Guest::kGpa1, 16, 0}, {Guest::kGpa1 + 0x1000, 512, kDescWrite}});
  r.publish_one(11);
  const RingSnapshot s = snap(g, r.loc());
  auto back = decode_ring_snapshot(encode_ring_snapshot(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  EXPECT_EQ(
      describe_ring_snapshot(s),
      "q0 packed size 8 avail 3/w1 used 0/w1 driver_evt 0x0/0 device_evt 0x0/0 inflight 2 [10 11] "
      "oldest head 10: 2 descs, 16 readable + 512 writable bytes");
}

TEST(PackedRing, RandomMemoryDoesNotCrash) {
  Guest g;
  std::mt19937_64 rng(11);
  RingScratch scratch;
  RingSnapshot s;
  Chain c;
  for (int round = 0; round < 300; ++round) {
    for (auto& b : g.r0()) b = static_cast<uint8_t>(rng());
    for (size_t i = 0; i + 8 <= 0x4000; i += 16)
      if (rng() % 2) g.put(Guest::kGpa0 + i, Guest::kGpa1 + rng() % Guest::kSize1, 8);
    const uint32_t n = 1 + static_cast<uint32_t>(rng() % 1024);
    const VringAddrValue a{0,
                           0,
                           Guest::kUva0,
                           Guest::kUva0 + 0x8000 + rng() % 0x1000,
                           Guest::kUva0 + 0x8000 + rng() % 0x1000,
                           0};
    RingLocation loc =
        locate_ring(g.map(), 1, n, a, kVersion1 | kPacked, static_cast<DeviceKind>(rng() % 3));
    if (rng() % 2) loc.vring_base = static_cast<uint32_t>(rng());
    take_ring_snapshot(g.view(), loc, scratch, s);
    EXPECT_LE(s.inflight, n);
    auto back = decode_ring_snapshot(encode_ring_snapshot(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
    walk_packed_chain(g.view(), loc, static_cast<uint16_t>(rng() % (n + 2)),
                      static_cast<uint32_t>(rng() % (n + 1)), c);
  }
}

}  // namespace
}  // namespace vhs
