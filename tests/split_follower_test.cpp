// The split ring follower (decoders/virtio/split_follower): what it learns from cuts, the used
// entries it judges (a head used twice or never made available, a len beyond the chain's writable
// bytes), and what it refuses to judge (before it knows a head, a chain it never saw in flight,
// after a lap). A long random run of a correct device, out of order, must stay silent.
#include <functional>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/virtio/split_follower.hpp"
#include "support/split_guest.hpp"

namespace vhs {
namespace {

using test::Guest;
using test::SplitRing;

constexpr uint16_t kWrite = 2;  // VIRTQ_DESC_F_WRITE

struct Rig {
  Guest g;
  SplitRing r{g, 16};
  SplitRingFollower follower;
  RingScratch scratch;

  Rig() {
    // Heads 0..7: a 16-byte readable header chained to a 512-byte writable buffer (8..15).
    for (uint16_t i = 0; i < 8; ++i) {
      r.set_desc(i, Guest::kGpa1 + 0x2000 * i, 16, 1, static_cast<uint16_t>(i + 8));
      r.set_desc(static_cast<uint16_t>(i + 8), Guest::kGpa1 + 0x2000 * i + 0x100, 512, kWrite);
    }
  }
  std::vector<RingFault> follow() {
    std::vector<RingFault> faults;
    follower.follow(g.view(), r.loc(), scratch, faults);
    return faults;
  }
};

TEST(SplitFollower, AnIdleRingIsKnownFreeAndLengthsAreJudgedAgainstTheChain) {
  Rig t;
  EXPECT_TRUE(t.follow().empty());
  ASSERT_TRUE(t.follower.synced());
  EXPECT_EQ(t.follower.head(3)->hi, 0);
  t.r.publish(0);
  t.r.publish(1);
  EXPECT_TRUE(t.follow().empty());
  EXPECT_EQ(t.follower.head(0)->lo, 1);
  EXPECT_EQ(t.follower.head(0)->writable, 512u);
  t.r.complete(1, 513);  // one byte more than its chain can hold
  t.r.complete(0, 512);  // exactly what it can hold
  const auto faults = t.follow();
  ASSERT_EQ(faults.size(), 1u);  // head 1: 513 > 512
  EXPECT_EQ(faults[0].kind, RingFaultKind::UsedLenBeyondChain);
  EXPECT_EQ(faults[0].head, 1);
  EXPECT_EQ(faults[0].index, 0u);
  EXPECT_EQ(faults[0].value, (uint64_t{513} << 32) | 512);
}

// Guest memory that changes in the middle of a read: the first read touching `trigger` runs
// `hook` (the device and driver moving on) before it copies the bytes.
class MemoryThatMovesDuringARead : public GuestMemoryView {
 public:
  MemoryThatMovesDuringARead(const GuestMemoryView& inner, uint64_t trigger,
                             std::function<void()> hook)
      : inner_(inner), trigger_(trigger), hook_(std::move(hook)) {}
  bool read(uint64_t gpa, std::span<uint8_t> out) const override {
    if (!fired && gpa <= trigger_ && trigger_ - gpa < out.size()) {
      fired = true;
      hook_();
    }
    return inner_.read(gpa, out);
  }
  bool mapped(uint64_t gpa, uint64_t len) const override { return inner_.mapped(gpa, len); }
  mutable bool fired = false;

 private:
  const GuestMemoryView& inner_;
  uint64_t trigger_;
  std::function<void()> hook_;
};

TEST(SplitFollower, AWalkRacedByTheDeviceIsDropped) {
  Rig t;
  t.follow();
  t.r.publish(0);
  // While the follower walks head 0's chain, the device uses it (len 512, right for the chain
  // that was in flight) and the driver reuses its descriptors for a chain with 16 writable bytes.
  // The walk read a mix of the two: it must be dropped, not used to judge the len.
  const RegionMemory plain = t.g.view();
  MemoryThatMovesDuringARead racing(plain, t.r.desc, [&t] {
    t.r.complete(0, 512);
    t.r.set_desc(8, Guest::kGpa1 + 0x100, 16, kWrite);
  });
  std::vector<RingFault> faults;
  t.follower.follow(racing, t.r.loc(), t.scratch, faults);
  ASSERT_TRUE(racing.fired) << "the follower did not walk head 0's chain";
  EXPECT_TRUE(faults.empty());
  EXPECT_FALSE(t.follower.head(0)->writable.has_value());
  EXPECT_TRUE(t.follow().empty());  // 512 is not judged against the 16 the walk saw
}

TEST(SplitFollower, ADuplicateUsedEntryIsNamed) {
  Rig t;
  t.follow();
  t.r.publish(0);
  t.r.publish(1);
  t.follow();
  t.r.complete(0, 1);
  t.r.complete(0, 1);  // instead of 1
  const auto faults = t.follow();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, RingFaultKind::UsedNotInFlight);
  EXPECT_EQ(faults[0].head, 0);
  EXPECT_EQ(faults[0].index, 1u);  // the second used entry
  EXPECT_EQ(faults[0].value, 1u);
}

TEST(SplitFollower, AHeadNeverMadeAvailableIsNamed) {
  Rig t;
  t.follow();
  t.r.publish(2);
  t.follow();
  t.r.complete(5, 1);
  const auto faults = t.follow();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, RingFaultKind::UsedNotInFlight);
  EXPECT_EQ(faults[0].head, 5);
  EXPECT_EQ(faults[0].index, 0u);
}

TEST(SplitFollower, HeadsInFlightBeforeTheFirstCutAreNotJudged) {
  Rig t;
  t.r.publish(3);  // in flight before the follower looks: it cannot know which heads are
  t.follow();
  t.r.complete(6, 4096);  // might have been in flight before it looked (it was not: unknowable)
  EXPECT_TRUE(t.follow().empty());
  // Used once more, head 6 is certainly over-used.
  t.r.publish(1);
  t.r.complete(6, 1);
  const auto faults = t.follow();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, RingFaultKind::UsedNotInFlight);
  EXPECT_EQ(faults[0].head, 6);
  EXPECT_EQ(faults[0].index, 1u);
}

TEST(SplitFollower, ALengthIsJudgedOnlyForAChainSeenInFlight) {
  Rig t;
  t.follow();
  t.r.publish(4);
  t.r.complete(4, 100000);  // made available and used between two cuts: its chain was never seen
  EXPECT_TRUE(t.follow().empty());
  EXPECT_FALSE(t.follower.head(4)->writable);
}

TEST(SplitFollower, ALapBetweenCutsForgetsInsteadOfGuessing) {
  Rig t;
  t.follow();
  t.r.publish(0);
  t.r.publish(1);
  t.follow();
  for (int i = 0; i < 20; ++i) {  // more than a lap of the 16-entry rings
    t.r.complete(0, 1);
    t.r.publish(0);
  }
  t.r.complete(0, 1);
  t.r.complete(0, 1);  // head 0 used twice where it was in flight once, hidden by the lap
  EXPECT_TRUE(t.follow().empty());
  // What is left is what the cut shows: avail idx == used idx, every head free.
  EXPECT_EQ(t.follower.head(0)->hi, 0);
}

TEST(SplitFollower, ALongOutOfOrderRunOfACorrectDeviceIsSilent) {
  Rig t;
  std::mt19937 rng(7);
  std::vector<uint16_t> free_heads{0, 1, 2, 3, 4, 5, 6, 7}, in_flight;
  t.follow();
  size_t judged_lengths = 0;
  for (int step = 0; step < 20000; ++step) {
    const unsigned action = rng() % 3;
    if (action == 0 && !free_heads.empty()) {
      const size_t i = rng() % free_heads.size();
      in_flight.push_back(free_heads[i]);
      t.r.publish(free_heads[i]);
      free_heads.erase(free_heads.begin() + static_cast<long>(i));
    } else if (action == 1 && !in_flight.empty()) {
      const size_t i = rng() % in_flight.size();  // any order
      t.r.complete(in_flight[i], static_cast<uint32_t>(rng() % 513));
      free_heads.push_back(in_flight[i]);
      in_flight.erase(in_flight.begin() + static_cast<long>(i));
    } else {
      for (uint16_t h = 0; h < 8; ++h) judged_lengths += t.follower.head(h)->writable ? 1 : 0;
      ASSERT_TRUE(t.follow().empty()) << "step " << step;
    }
  }
  EXPECT_GT(judged_lengths, 1000u);  // the run did exercise the length check
}

}  // namespace
}  // namespace vhs
