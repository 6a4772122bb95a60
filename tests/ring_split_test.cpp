// Split virtqueues over synthetic guest memory: address translation, index words, in-flight heads
// (in order, out of order, across the u16 wrap, a long random run), chain walks (direct, indirect,
// loops, out of range, unmapped), snapshot faults, the RingState encoding, and random memory.
#include <array>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "decoders/virtio/split_ring.hpp"
#include "support/split_guest.hpp"

namespace vhs {
namespace {

using test::Guest;
using test::kEventIdx;
using test::kVersion1;
using test::SplitRing;

RingSnapshot snap(const Guest& g, const RingLocation& loc) {
  return take_ring_snapshot(g.view(), loc);
}

std::vector<uint16_t> heads(std::initializer_list<int> v) { return {v.begin(), v.end()}; }

// ---- memory map ----

TEST(MemoryMap, TranslatesBothWays) {
  Guest g;
  const MemoryMap m = g.map();
  auto r = m.find_uva(Guest::kUva1 + 0x123);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->region, 1u);
  EXPECT_EQ(r->offset, 0x123u);
  EXPECT_EQ(r->remaining, Guest::kSize1 - 0x123);
  EXPECT_EQ(m.uva_to_gpa(Guest::kUva0 + 0x10), Guest::kGpa0 + 0x10);
  EXPECT_EQ(m.gpa_to_uva(Guest::kGpa1 + 0x20), Guest::kUva1 + 0x20);
  auto last = m.find_gpa(Guest::kGpa0 + Guest::kSize0 - 1);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->remaining, 1u);
}

TEST(MemoryMap, MissesAndWrapsAreValuesNotCrashes) {
  Guest g;
  const MemoryMap m = g.map();
  EXPECT_FALSE(m.find_gpa(0));
  EXPECT_FALSE(m.find_gpa(Guest::kGpa0 + Guest::kSize0));                 // one past the end
  EXPECT_FALSE(m.uva_to_gpa(Guest::kGpa0));                               // a GPA is not a UVA
  EXPECT_FALSE(m.uva_range_to_gpa(Guest::kUva0 + Guest::kSize0 - 4, 8));  // runs off the region
  EXPECT_FALSE(m.uva_range_to_gpa(UINT64_MAX - 2, 8));                    // wraps 2^64
  EXPECT_FALSE(m.gpa_range_mapped(Guest::kGpa1, UINT64_MAX));
  EXPECT_TRUE(m.gpa_range_mapped(Guest::kGpa1, 0));

  // A region whose range wraps 2^64 or has size 0 never matches, but keeps its index.
  std::vector<MemRegionValue> hostile = {
      {UINT64_MAX - 0x10, 0x100, 0x1000, 0}, {0x5000, 0, 0x9000, 0}, {0x2000, 0x1000, 0x8000, 0}};
  const MemoryMap h(hostile);
  EXPECT_FALSE(h.find_gpa(UINT64_MAX - 1));
  EXPECT_FALSE(h.find_gpa(0x5000));
  auto ok = h.find_gpa(0x2800);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->region, 2u);
}

TEST(MemoryMap, RangesAcrossAdjacentRegionsAndOverlaps) {
  // Adjacent in both spaces: a range may cross. Adjacent in GPA only: a UVA range may not.
  std::vector<MemRegionValue> rs = {
      {0x0, 0x1000, 0xa000, 0}, {0x1000, 0x1000, 0xb000, 0}, {0x2000, 0x1000, 0xf000, 0}};
  const MemoryMap m(rs);
  EXPECT_EQ(m.uva_range_to_gpa(0xaff0, 0x20), 0xff0u);
  EXPECT_FALSE(m.uva_range_to_gpa(0xbff0, 0x20));
  EXPECT_TRUE(m.gpa_range_mapped(0x0, 0x3000));
  EXPECT_FALSE(m.gpa_range_mapped(0x0, 0x3001));

  // Overlapping regions (malformed table): first region in table order wins.
  std::vector<MemRegionValue> ov = {{0x1000, 0x2000, 0x10000, 0}, {0x0, 0x8000, 0x20000, 0}};
  const MemoryMap o(ov);
  EXPECT_EQ(o.find_gpa(0x1800)->region, 0u);
  EXPECT_EQ(o.find_gpa(0x4000)->region, 1u);
}

TEST(RegionMemory, ReadsAcrossRegionsAndRefusesShortBacking) {
  std::vector<MemRegionValue> rs = {{0x1000, 0x10, 0xa000, 0}, {0x1010, 0x10, 0xb000, 0}};
  std::vector<uint8_t> a(0x10), b(0x8);  // region 1 is only half backed
  for (int i = 0; i < 0x10; ++i) a[i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 0x8; ++i) b[i] = static_cast<uint8_t>(0x80 + i);
  const RegionMemory mem(MemoryMap(rs), {a, b});
  std::array<uint8_t, 4> out{};
  ASSERT_TRUE(mem.read(0x100e, out));
  EXPECT_EQ(out, (std::array<uint8_t, 4>{0x0e, 0x0f, 0x80, 0x81}));
  EXPECT_FALSE(mem.read(0x1016, out));  // bytes 0x1018.. have no backing
  EXPECT_FALSE(mem.read(0x0ffe, out));  // starts before memory
  EXPECT_TRUE(mem.mapped(0x1000, 0x18));
  EXPECT_FALSE(mem.mapped(0x1000, 0x19));
  EXPECT_EQ(read_le16(mem, 0x1001), 0x0201);
  EXPECT_FALSE(read_le64(mem, UINT64_MAX - 3));
}

// ---- locating ----

TEST(SplitRing, LocateTranslatesUvaToGpa) {
  Guest g;
  SplitRing r{g, 8};
  const RingLocation loc = r.loc(kVersion1 | kEventIdx);
  EXPECT_TRUE(loc.readable());
  EXPECT_EQ(loc.type, RingType::Split);
  EXPECT_TRUE(loc.event_idx);
  EXPECT_EQ(loc.size, 8);
  EXPECT_EQ(loc.desc, r.desc);
  EXPECT_EQ(loc.driver, r.avail);
  EXPECT_EQ(loc.device, r.used);
}

TEST(SplitRing, LocateReportsUnmappedPartsAndBadSizes) {
  Guest g;
  SplitRing r{g, 8};
  VringAddrValue a = r.addr();
  a.used_user_addr = r.used;  // a GPA passed where a UVA belongs
  const RingLocation loc = locate_ring(g.map(), 3, 8, a, kVersion1, DeviceKind::Unknown);
  ASSERT_EQ(loc.faults.size(), 1u);
  EXPECT_EQ(loc.faults[0].kind, RingFaultKind::PartUnmapped);
  EXPECT_EQ(loc.faults[0].index, 2u);
  EXPECT_EQ(loc.faults[0].value, r.used);
  const RingSnapshot s = snap(g, loc);
  EXPECT_FALSE(s.indices_ok);
  EXPECT_EQ(s.queue, 3u);
  EXPECT_EQ(s.faults, loc.faults);

  // The avail ring's tail (used_event) must fit too: end the region right after the ring entries.
  VringAddrValue edge = r.addr();
  edge.avail_user_addr = Guest::kUva0 + Guest::kSize0 - (4 + 2 * 8);
  EXPECT_TRUE(locate_ring(g.map(), 0, 8, edge, kVersion1, DeviceKind::Unknown).readable());
  EXPECT_FALSE(
      locate_ring(g.map(), 0, 8, edge, kVersion1 | kEventIdx, DeviceKind::Unknown).readable());

  // With ACCESS_PLATFORM the addresses are IOVAs: not read, and nothing reported against them.
  const RingLocation iova = r.loc(kVersion1 | (uint64_t{1} << 33));
  EXPECT_TRUE(iova.iova);
  EXPECT_TRUE(iova.faults.empty());
  const RingSnapshot none = snap(g, iova);
  EXPECT_FALSE(none.indices_ok);
  EXPECT_TRUE(none.faults.empty());

  for (uint32_t bad : {0u, 6u, 65536u}) {
    const RingLocation l = locate_ring(g.map(), 0, bad, r.addr(), kVersion1, DeviceKind::Unknown);
    ASSERT_EQ(l.faults.size(), 1u) << bad;
    EXPECT_EQ(l.faults[0].kind, RingFaultKind::SizeInvalid);
    EXPECT_EQ(l.faults[0].value, bad);
  }
}

// ---- indices and in-flight heads ----

TEST(SplitRing, ReadsIndicesAndEventWords) {
  Guest g;
  SplitRing r{g, 8};
  g.w16(r.avail, kAvailNoInterrupt);
  g.w16(r.avail + 2, 5);
  g.w16(r.avail + 4 + 2 * 8, 3);  // used_event
  g.w16(r.used, kUsedNoNotify);
  g.w16(r.used + 2, 2);
  g.w16(r.used + 4 + 8 * 8, 4);  // avail_event
  auto x = read_split_indices(g.view(), r.loc(kVersion1 | kEventIdx));
  ASSERT_TRUE(x);
  EXPECT_EQ(x->avail_flags, 1);
  EXPECT_EQ(x->avail_idx, 5);
  EXPECT_EQ(x->used_event, 3);
  EXPECT_EQ(x->used_flags, 1);
  EXPECT_EQ(x->used_idx, 2);
  EXPECT_EQ(x->avail_event, 4);
  // Without EVENT_IDX the event words are not read.
  auto y = read_split_indices(g.view(), r.loc(kVersion1));
  ASSERT_TRUE(y);
  EXPECT_EQ(y->used_event, 0);
}

TEST(SplitRing, InOrderInflight) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  for (uint16_t h : {3, 1, 4, 0, 5}) r.publish(h);
  r.complete(3, 512);
  r.complete(1, 512);
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_TRUE(s.indices_ok);
  EXPECT_EQ(s.avail_idx, 5);
  EXPECT_EQ(s.used_idx, 2);
  EXPECT_EQ(s.inflight, 3u);
  EXPECT_EQ(s.heads, heads({4, 0, 5}));
  EXPECT_FALSE(s.heads_approximate);
  ASSERT_TRUE(s.oldest);
  EXPECT_EQ(s.oldest->head, 4);
  EXPECT_EQ(s.oldest->readable_bytes, 512u);
  EXPECT_TRUE(s.faults.empty());
}

TEST(SplitRing, OutOfOrderCompletionsAreExcluded) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  for (uint16_t h : {0, 1, 2, 3}) r.publish(h);
  r.complete(2);
  r.complete(0);
  // Avail slots [used, avail) would say {2, 3}; the used ids say 2 is done and 1 is not.
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.inflight, 2u);
  EXPECT_EQ(s.heads, heads({1, 3}));
  EXPECT_FALSE(s.heads_approximate);

  // Head 2 goes round again (LIFO reuse, as Linux does) and is in flight once more.
  r.publish(2);
  const RingSnapshot t = snap(g, r.loc());
  EXPECT_EQ(t.heads, heads({1, 3, 2}));
}

TEST(SplitRing, FreeRunningIndicesWrapAt65536) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  r.start_at(65533);
  for (uint16_t h : {6, 7, 0, 1, 2}) r.publish(h);  // avail idx runs 65533 .. 65535, 0, 1 -> 2
  r.complete(6);
  r.complete(7);
  r.complete(1);
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.avail_idx, 2);
  EXPECT_EQ(s.used_idx, 0);
  EXPECT_EQ(s.inflight, 2u);
  EXPECT_EQ(s.heads, heads({0, 2}));
  EXPECT_FALSE(s.heads_approximate);
}

// A driver with a LIFO free list and a device that completes one of the three oldest buffers at
// random, for thousands of steps across the u16 wrap. Whenever the windows of split_ring.hpp line
// up (no buffer older than N publications) the heads must be exact, in publication order.
TEST(SplitRing, LongRandomRunMatchesTheTruth) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  r.start_at(65000);
  std::mt19937 rng(20240611);
  std::vector<uint16_t> free_heads = {7, 6, 5, 4, 3, 2, 1, 0};
  struct Pub {
    uint16_t pos, head;
  };
  std::deque<Pub> outstanding;
  std::deque<std::pair<uint16_t, uint16_t>> completions;  // (used position, publication position)
  RingScratch scratch;
  RingSnapshot s;
  int checked = 0;
  for (int step = 0; step < 6000; ++step) {
    if (!free_heads.empty() && (outstanding.empty() || rng() % 2)) {
      const uint16_t h = free_heads.back();
      free_heads.pop_back();
      outstanding.push_back({r.aidx, h});
      r.publish(h);
    } else {
      const size_t i = rng() % std::min<size_t>(3, outstanding.size());
      const Pub p = outstanding[i];
      outstanding.erase(outstanding.begin() + static_cast<long>(i));
      completions.push_back({r.uidx, p.pos});
      if (completions.size() > 16) completions.pop_front();
      r.complete(p.head);
      free_heads.push_back(p.head);
    }
    take_ring_snapshot(g.view(), r.loc(), scratch, s);
    ASSERT_EQ(s.inflight, outstanding.size());
    const uint16_t window = static_cast<uint16_t>(r.aidx - 8);
    bool aligned = true;
    for (const Pub& p : outstanding) aligned &= static_cast<uint16_t>(p.pos - window) < 8;
    for (auto [q, p] : completions)
      if (static_cast<uint16_t>(q - window) < static_cast<uint16_t>(r.uidx - window))
        aligned &= static_cast<uint16_t>(p - window) < 8;
    if (!aligned) continue;
    ++checked;
    std::vector<uint16_t> truth;
    for (const Pub& p : outstanding) truth.push_back(p.head);
    ASSERT_EQ(s.heads, truth) << "step " << step;
    ASSERT_FALSE(s.heads_approximate) << "step " << step;
  }
  EXPECT_GT(checked, 1500);  // about a third of the steps have a buffer older than a lap
}

// The documented limit: a buffer in flight while a whole lap of newer ones went round has lost its
// avail slot, so no snapshot can name it; the count stays exact.
TEST(SplitRing, BufferStuckForALapKeepsAnExactCount) {
  Guest g;
  SplitRing r{g, 4};
  r.simple_buffers();
  r.publish(0);  // stays in flight for good
  for (int i = 0; i < 6; ++i) {
    const uint16_t h = static_cast<uint16_t>(1 + i % 3);
    r.publish(h);
    r.complete(h);
  }
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.inflight, 1u);
  EXPECT_EQ(s.heads.size(), 1u);
}

TEST(SplitRing, IndexAheadOfUsedByMoreThanSizeIsAFault) {
  Guest g;
  SplitRing r{g, 8};
  g.w16(r.avail + 2, 300);
  g.w16(r.used + 2, 10);
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_TRUE(s.indices_ok);
  EXPECT_EQ(s.inflight, 0u);
  EXPECT_TRUE(s.heads.empty());
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_EQ(s.faults[0], (RingFault{RingFaultKind::IndexAhead, ChainError::None, 0, 10, 300}));
}

TEST(SplitRing, VringBaseSplitsFetchedFromPending) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  for (uint16_t h : {0, 1, 2, 3}) r.publish(h);
  r.complete(0);
  RingLocation loc = r.loc();
  loc.vring_base = 2;  // the back-end fetched heads 0 and 1
  RingSnapshot s = snap(g, loc);
  EXPECT_EQ(s.inflight, 3u);
  EXPECT_EQ(s.pending, 2u);
  loc.vring_base = 7;  // beyond avail idx: cannot be right
  s = snap(g, loc);
  EXPECT_FALSE(s.pending);
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_EQ(s.faults[0].kind, RingFaultKind::BaseMismatch);
  EXPECT_EQ(s.faults[0].value, 7u);
}

TEST(SplitRing, HeadsOutOfRangeAreFaults) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  r.publish(2);
  r.publish(9);  // no such descriptor
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.inflight, 2u);
  EXPECT_EQ(s.heads, heads({2}));
  EXPECT_TRUE(s.heads_approximate);
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_EQ(s.faults[0], (RingFault{RingFaultKind::HeadOutOfRange, ChainError::None, 9, 1, 9}));

  r.complete(12);  // a used id beyond the table
  const RingSnapshot t = snap(g, r.loc());
  ASSERT_GE(t.faults.size(), 1u);
  EXPECT_EQ(t.faults.back(),
            (RingFault{RingFaultKind::UsedIdOutOfRange, ChainError::None, 0, 0, 12}));
}

TEST(SplitRing, UsedElementsOldestFirst) {
  Guest g;
  SplitRing r{g, 4};
  r.start_at(65534);
  r.complete(3, 100);
  r.complete(1, 200);
  r.complete(2, 300);
  std::vector<SplitUsedElem> used;
  ASSERT_TRUE(read_split_used(g.view(), r.loc(), r.uidx, 2, used));
  ASSERT_EQ(used.size(), 2u);
  EXPECT_EQ(used[0].id, 1u);
  EXPECT_EQ(used[0].len, 200u);
  EXPECT_EQ(used[1].id, 2u);
  EXPECT_EQ(used[1].len, 300u);
}

// ---- chains ----

TEST(SplitRing, DirectChain) {
  Guest g;
  SplitRing r{g, 8};
  r.set_desc(5, Guest::kGpa1 + 0x100, 16, kDescNext, 2);
  r.set_desc(2, Guest::kGpa1 + 0x2000, 4096, kDescNext | kDescWrite, 7);
  r.set_desc(7, Guest::kGpa1 + 0x300, 1, kDescWrite);
  Chain c;
  walk_split_chain(g.view(), r.loc(), 5, c);
  EXPECT_EQ(c.error, ChainError::None);
  EXPECT_EQ(c.head, 5);
  EXPECT_EQ(c.ring_descs, 3);
  ASSERT_EQ(c.descs.size(), 3u);
  EXPECT_EQ(c.descs[1].index, 2);
  EXPECT_EQ(c.descs[1].addr, Guest::kGpa1 + 0x2000);
  EXPECT_EQ(c.descs[2].index, 7);
  EXPECT_EQ(c.readable_bytes, 16u);
  EXPECT_EQ(c.writable_bytes, 4097u);
  EXPECT_EQ(describe_chain(c), "3 descs: R 16 @0x100100, W 4096 @0x102000, W 1 @0x100300");
}

TEST(SplitRing, IndirectChainAfterADirectDescriptor) {
  Guest g;
  SplitRing r{g, 8};
  const uint64_t table = Guest::kGpa1 + 0x8000;
  r.set_desc(1, Guest::kGpa1 + 0x100, 8, kDescNext, 4);
  r.set_desc(4, table, 3 * 16, kDescIndirect);
  // Indirect entries chain through their own next fields: 0 -> 2 -> 1.
  auto entry = [&](int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    g.w64(table + 16 * i, addr);
    g.w32(table + 16 * i + 8, len);
    g.w16(table + 16 * i + 12, flags);
    g.w16(table + 16 * i + 14, next);
  };
  entry(0, Guest::kGpa1 + 0x1000, 16, kDescNext, 2);
  entry(2, Guest::kGpa1 + 0x2000, 512, kDescNext | kDescWrite, 1);
  entry(1, Guest::kGpa1 + 0x3000, 1, kDescWrite, 0);
  Chain c;
  walk_split_chain(g.view(), r.loc(), 1, c);
  EXPECT_EQ(c.error, ChainError::None);
  EXPECT_EQ(c.ring_descs, 2);
  ASSERT_EQ(c.descs.size(), 4u);
  EXPECT_FALSE(c.descs[0].in_indirect);
  EXPECT_TRUE(c.descs[1].in_indirect);
  EXPECT_EQ(c.descs[2].index, 2);
  EXPECT_EQ(c.descs[3].addr, Guest::kGpa1 + 0x3000);
  EXPECT_EQ(c.readable_bytes, 24u);
  EXPECT_EQ(c.writable_bytes, 513u);
}

TEST(SplitRing, LoopingChainIsAChainLoopFault) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  r.set_desc(0, Guest::kGpa1, 16, kDescNext, 1);
  r.set_desc(1, Guest::kGpa1, 16, kDescNext, 2);
  r.set_desc(2, Guest::kGpa1, 16, kDescNext, 0);  // back to the head
  r.publish(0);
  const RingSnapshot s = snap(g, r.loc());
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_EQ(s.faults[0].kind, RingFaultKind::Chain);
  EXPECT_EQ(s.faults[0].chain, ChainError::Loop);
  EXPECT_EQ(s.faults[0].head, 0);
  EXPECT_EQ(s.faults[0].value, 8u);  // stopped after queue-size descriptors
  ASSERT_TRUE(s.oldest);
  EXPECT_EQ(s.oldest->error, ChainError::Loop);

  // A loop inside an indirect table is bounded by the table's length.
  const uint64_t table = Guest::kGpa1 + 0x8000;
  r.set_desc(3, table, 32, kDescIndirect);
  g.w16(table + 12, kDescNext);
  g.w16(table + 14, 1);
  g.w16(table + 16 + 12, kDescNext);
  g.w16(table + 16 + 14, 0);
  Chain c;
  walk_split_chain(g.view(), r.loc(), 3, c);
  EXPECT_EQ(c.error, ChainError::Loop);
  EXPECT_EQ(c.descs.size(), 2u);
}

// Guest memory the driver rewrites while the sampler reads it: the first read that covers `target`
// sees 8 garbage bytes there (a descriptor being recycled), later reads see the real memory.
class TornOnceView final : public GuestMemoryView {
 public:
  TornOnceView(const GuestMemoryView& real, uint64_t target) : real_(real), target_(target) {}
  bool read(uint64_t gpa, std::span<uint8_t> out) const override {
    if (!real_.read(gpa, out)) return false;
    if (!torn_ && target_ >= gpa && target_ + 8 <= gpa + out.size()) {
      torn_ = true;
      std::memset(out.data() + (target_ - gpa), 0x81, 8);
    }
    return true;
  }
  bool mapped(uint64_t gpa, uint64_t len) const override { return real_.mapped(gpa, len); }

 private:
  const GuestMemoryView& real_;
  uint64_t target_;
  mutable bool torn_ = false;
};

TEST(SplitRing, TornReadIsRetakenAndARealFaultStays) {
  Guest g;
  SplitRing r{g, 8};
  r.simple_buffers();
  r.publish(0);
  r.publish(1);
  const RingLocation loc = r.loc();
  const RegionMemory real = g.view();
  RingScratch scratch;
  RingSnapshot out, spare;

  // Without settling, the torn descriptor address is reported as a buffer outside guest memory.
  TornOnceView torn(real, r.desc);
  EXPECT_FALSE(take_ring_snapshot(torn, loc).faults.empty());
  // Settled: the retake disagrees, so the torn snapshot is replaced by a clean one.
  TornOnceView torn_again(real, r.desc);
  take_settled_ring_snapshot(torn_again, loc, scratch, out, spare);
  EXPECT_TRUE(out.faults.empty());
  EXPECT_EQ(out, take_ring_snapshot(real, loc));
  EXPECT_EQ(out.inflight, 2u);

  // A fault that is really in memory survives every retake.
  r.set_desc(1, 0xdead00000000, 512, 0);
  take_settled_ring_snapshot(real, loc, scratch, out, spare);
  ASSERT_FALSE(out.faults.empty());
  EXPECT_EQ(out.faults[0].head, 1u);
}

TEST(SplitRing, OutOfRangeNextAndHead) {
  Guest g;
  SplitRing r{g, 8};
  r.set_desc(0, Guest::kGpa1, 16, kDescNext, 8);
  Chain c;
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::NextOutOfRange);
  EXPECT_EQ(c.error_at, 0u);
  EXPECT_EQ(c.error_value, 8u);
  EXPECT_EQ(c.descs.size(), 1u);  // what was read before the problem is kept
  walk_split_chain(g.view(), r.loc(), 8, c);
  EXPECT_EQ(c.error, ChainError::HeadOutOfRange);
}

TEST(SplitRing, IndirectRulesBroken) {
  Guest g;
  SplitRing r{g, 8};
  const uint64_t table = Guest::kGpa1 + 0x8000;
  Chain c;
  r.set_desc(0, table, 32, kDescIndirect | kDescNext, 1);
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::IndirectWithNext);

  r.set_desc(0, table, 24, kDescIndirect);  // not a multiple of 16
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::IndirectBadLength);
  EXPECT_EQ(c.error_value, 24u);

  r.set_desc(0, table, 0, kDescIndirect);
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::IndirectBadLength);

  r.set_desc(0, table, 32, kDescIndirect);
  g.w16(table + 12, kDescIndirect);  // nested
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::NestedIndirect);

  r.set_desc(0, 0x90000000, 32, kDescIndirect);  // table outside memory
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::TableUnreadable);
  EXPECT_EQ(c.error_value, 0x90000000u);

  r.set_desc(0, UINT64_MAX - 8, 32, kDescIndirect);  // table address wraps
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::TableUnreadable);
}

TEST(SplitRing, UnmappedBufferIsReportedAndTheWalkGoesOn) {
  Guest g;
  SplitRing r{g, 8};
  r.set_desc(0, Guest::kUva1, 16, kDescNext, 1);            // a UVA where a GPA belongs
  r.set_desc(1, Guest::kGpa1 + 0x3fff0, 0x20, kDescWrite);  // runs off the end of region 1
  r.publish(0);
  Chain c;
  walk_split_chain(g.view(), r.loc(), 0, c);
  EXPECT_EQ(c.error, ChainError::BufferUnmapped);
  EXPECT_EQ(c.error_at, 0u);
  EXPECT_EQ(c.error_value, Guest::kUva1);
  EXPECT_EQ(c.descs.size(), 2u);
  const RingSnapshot s = snap(g, r.loc());
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_EQ(s.faults[0].chain, ChainError::BufferUnmapped);
}

TEST(SplitRing, LargeRingIsWalkedDescriptorByDescriptor) {
  // 8192 entries: the 128 KiB table is not copied per sample, the walk reads through the view.
  Guest g;
  SplitRing r{g, 8192};
  r.desc = Guest::kGpa1;
  r.avail = Guest::kGpa1 + 0x20000;
  r.used = Guest::kGpa1 + 0x28000;
  r.set_desc(8000, Guest::kGpa0 + 0x100, 16, kDescNext, 7999);
  r.set_desc(7999, Guest::kGpa0 + 0x200, 1, kDescWrite | kDescNext, 8191);
  r.set_desc(8191, Guest::kGpa0 + 0x300, 8, 0);
  r.publish(8000);
  const RingSnapshot s = snap(g, r.loc());
  EXPECT_EQ(s.heads, heads({8000}));
  ASSERT_TRUE(s.oldest);
  EXPECT_EQ(s.oldest->descs, 3);
  EXPECT_EQ(s.oldest->error, ChainError::None);
  EXPECT_EQ(s.oldest->readable_bytes, 24u);
}

// ---- RingState encoding ----

RingSnapshot sample_snapshot() {
  RingSnapshot s;
  s.queue = 1;
  s.type = RingType::Split;
  s.size = 256;
  s.event_idx = true;
  s.indices_ok = true;
  s.avail_idx = 17;
  s.avail_flags = 0;
  s.used_idx = 14;
  s.used_flags = 1;
  s.used_event = 13;
  s.avail_event = 17;
  s.vring_base = 15;
  s.inflight = 3;
  s.pending = 2;
  s.heads = {4, 5, 6};
  BufferSummary o;
  o.head = 4;
  o.descs = 3;
  o.device = DeviceKind::Blk;
  o.op = 0;
  o.arg = 2048;
  o.data_len = 4096;
  o.readable_bytes = 16;
  o.writable_bytes = 4097;
  o.detail_ok = true;
  s.oldest = o;
  s.faults = {{RingFaultKind::Chain, ChainError::BufferUnmapped, 6, 1, 0xdead0000}};
  return s;
}

// The same sample as a current sampler writes it: with the raw head of the oldest chain.
RingSnapshot sample_snapshot_with_chain_head() {
  RingSnapshot s = sample_snapshot();
  ChainHead h;
  h.head = 4;
  h.descs = 3;
  h.byte_count = 16;
  h.readable_bytes = 16;
  h.writable_bytes = 4097;
  h.bytes[9] = 0x08;  // sector 2048 at offset 8
  s.chain_heads = {h};
  return s;
}

TEST(RingSnapshotCodec, RoundTrip) {
  const RingSnapshot s = sample_snapshot();
  const std::vector<uint8_t> bytes = encode_ring_snapshot(s);
  EXPECT_EQ(bytes.size(), kRingStateHeaderLen + 3 * 2 + kRingStateOldestLen + kRingStateFaultLen);
  std::string error;
  auto back = decode_ring_snapshot(bytes, &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, s);

  const RingSnapshot with_head = sample_snapshot_with_chain_head();
  const std::vector<uint8_t> more = encode_ring_snapshot(with_head);
  EXPECT_EQ(more.size(), bytes.size() + kRingStateChainHeadLen);
  auto back_more = decode_ring_snapshot(more, &error);
  ASSERT_TRUE(back_more) << error;
  EXPECT_EQ(*back_more, with_head);

  RingSnapshot bare;  // nothing optional present
  bare.type = RingType::Packed;
  bare.avail_idx = 0x8003;
  auto b2 = decode_ring_snapshot(encode_ring_snapshot(bare));
  ASSERT_TRUE(b2);
  EXPECT_EQ(*b2, bare);
  EXPECT_NE(*b2, s);
}

// The documented layout (docs/ring-state-format.md), written out by hand: a record written
// before chain heads existed (40-byte header), as in the shipped sample captures.
TEST(RingSnapshotCodec, DecodesOldFormatHandWrittenBytes) {
  const std::vector<uint8_t> bytes = {
      0x01, 0x00, 0x28, 0x00,  // version 1, split, header_len 40
      0x01, 0x00, 0x00, 0x00,  // queue 1
      0x00, 0x01, 0x0f, 0x00,  // size 256, flags event_idx|indices_ok|vring_base|pending
      0x11, 0x00, 0x00, 0x00,  // avail idx 17, avail flags 0
      0x0e, 0x00, 0x01, 0x00,  // used idx 14, used flags NO_NOTIFY
      0x0d, 0x00, 0x11, 0x00,  // used_event 13, avail_event 17
      0x0f, 0x00, 0x00, 0x00,  // vring base 15
      0x03, 0x00, 0x00, 0x00,  // inflight 3
      0x02, 0x00, 0x00, 0x00,  // pending 2
      0x03, 0x01, 0x30, 0x10,  // 3 heads, 1 fault, oldest 48 bytes, faults 16 bytes each
      0x04, 0x00, 0x05, 0x00, 0x06, 0x00,  // heads
      0x04, 0x00, 0x03, 0x00, 0x02, 0x00,
      0x01, 0x00,  // oldest: head 4, 3 descs, blk, no error, ok
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00,  // op 0 (READ)
      0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00,  // sector 2048
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00,  // data len 4096
      0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00,  // readable 16
      0x01, 0x10, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00,  // writable 4097
      0x07, 0x08, 0x06, 0x00, 0x01, 0x00,
      0x00, 0x00,  // fault: chain, buffer unmapped, head 6, desc 1
      0x00, 0x00, 0xad, 0xde, 0x00, 0x00,
      0x00, 0x00,  // value 0xdead0000
  };
  std::string error;
  auto s = decode_ring_snapshot(bytes, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(*s, sample_snapshot());
  EXPECT_TRUE(s->chain_heads.empty());
  EXPECT_EQ(
      describe_ring_snapshot(*s),
      "q1 split size 256 avail 17 used 14 used_event 13 avail_event 17 used_flags 0x1 inflight 3 "
      "(unfetched 2) [4 5 6] oldest head 4: READ sector 2048 len 4096 faults 1");
  // Without chain heads the recorded detail stays, whatever device a reader knows better.
  RingSnapshot as_fs = *s;
  redetail_ring_snapshot(as_fs, DeviceKind::Fs, 0);
  EXPECT_EQ(as_fs, sample_snapshot());

  // Today's writer: a 44-byte header and the chain-head section after the faults.
  std::vector<uint8_t> current = bytes;
  current[2] = 44;
  current.insert(current.begin() + 40, {0x01, 0x40, 0x00, 0x00});  // 1 chain head of 64 bytes
  const std::vector<uint8_t> chain_head = {
      0x04, 0x00, 0x03, 0x00, 0x00, 0x10, 0x00, 0x00,  // head 4, 3 descs, no error, 16 bytes
      0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // readable 16
      0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // writable 4097
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // blk header: READ
      0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // sector 2048
  };
  current.insert(current.end(), chain_head.begin(), chain_head.end());
  current.resize(current.size() + 24, 0);  // the rest of the 40 head bytes
  auto c = decode_ring_snapshot(current, &error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(*c, sample_snapshot_with_chain_head());
  EXPECT_EQ(encode_ring_snapshot(*c), current);

  // A later writer may grow the header and append: readers skip what they do not know.
  std::vector<uint8_t> grown = current;
  grown[2] = 48;
  grown.insert(grown.begin() + 44, {0xaa, 0xbb, 0xcc, 0xdd});
  grown.push_back(0x99);
  auto g = decode_ring_snapshot(grown, &error);
  ASSERT_TRUE(g) << error;
  EXPECT_EQ(*g, sample_snapshot_with_chain_head());
}

TEST(RingSnapshotCodec, RejectsMalformedWithReasons) {
  const std::vector<uint8_t> good = encode_ring_snapshot(sample_snapshot_with_chain_head());
  for (size_t n = 0; n < good.size(); ++n) {
    std::string error;
    EXPECT_FALSE(decode_ring_snapshot(std::span(good.data(), n), &error)) << n;
    EXPECT_FALSE(error.empty());
  }
  std::vector<uint8_t> v2 = good;
  v2[0] = 2;
  std::string error;
  EXPECT_FALSE(decode_ring_snapshot(v2, &error));
  EXPECT_EQ(error, "ring-state version 2 is not supported (expected 1)");
  std::vector<uint8_t> type = good;
  type[1] = 7;
  EXPECT_FALSE(decode_ring_snapshot(type, &error));
  EXPECT_EQ(error, "ring-state ring type 7 is neither 0 (split) nor 1 (packed)");
  std::vector<uint8_t> short_hdr = good;
  short_hdr[2] = 20;
  EXPECT_FALSE(decode_ring_snapshot(short_hdr, &error));
  EXPECT_EQ(error, "ring-state header_len 20 is below 40");
  std::vector<uint8_t> short_chain_head = good;
  short_chain_head[41] = 32;
  EXPECT_FALSE(decode_ring_snapshot(short_chain_head, &error));
  EXPECT_EQ(error, "ring-state chain_head_len 32 is below 64");
}

// ---- hostile memory ----

TEST(SplitRing, RandomMemoryDoesNotCrash) {
  Guest g;
  std::mt19937_64 rng(7);
  RingScratch scratch;
  RingSnapshot s;
  Chain c;
  for (int round = 0; round < 200; ++round) {
    for (auto& b : g.r0()) b = static_cast<uint8_t>(rng());
    // Half the buffers point into memory, half anywhere.
    for (size_t i = 0; i + 8 <= g.r0().size(); i += 16)
      if (rng() % 2) g.w64(Guest::kGpa0 + i, Guest::kGpa1 + rng() % Guest::kSize1);
    const uint32_t sizes[] = {1, 2, 8, 64, 256, 1024};
    const uint32_t n = sizes[rng() % 6];
    VringAddrValue a{0,
                     0,
                     Guest::kUva0 + (rng() % 0x4000),
                     Guest::kUva0 + (rng() % 0x8000),
                     Guest::kUva0 + (rng() % 0x8000),
                     0};
    RingLocation loc = locate_ring(g.map(), 0, n, a, kVersion1 | (rng() % 2 ? kEventIdx : 0),
                                   static_cast<DeviceKind>(rng() % 3));
    if (rng() % 3 == 0) loc.vring_base = static_cast<uint32_t>(rng());
    take_ring_snapshot(g.view(), loc, scratch, s);
    EXPECT_LE(s.heads.size(), kSnapshotMaxHeads);
    EXPECT_LE(s.faults.size(), kSnapshotMaxFaults);
    auto back = decode_ring_snapshot(encode_ring_snapshot(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
    if (loc.readable()) walk_split_chain(g.view(), loc, static_cast<uint16_t>(rng()), c);
    describe_ring_snapshot(s);
  }
}

}  // namespace
}  // namespace vhs
