// Hang rules fed with hand-made snapshots and explicit timestamps: stalls raised after the
// threshold and cleared when the used index moves, snapshot faults as findings, missing kick/call
// fds, suppressed notifications, forgetting a ring, and ReplyTimeout.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/session/ring_health.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/virtio/packed_ring.hpp"
#include "decoders/virtio/split_ring.hpp"

namespace vhs {
namespace {

constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;  // realtime-like timestamps

// The oldest buffer of a blk queue: READ of 4096 bytes at sector 2048.
BufferSummary blk_read() {
  BufferSummary b;
  b.head = 4;
  b.descs = 3;
  b.device = DeviceKind::Blk;
  b.op = 0;
  b.arg = 2048;
  b.data_len = 4096;
  b.readable_bytes = 16;
  b.writable_bytes = 4097;
  b.detail_ok = true;
  return b;
}

RingSnapshot split(uint16_t avail, uint16_t used, uint32_t queue = 0) {
  RingSnapshot s;
  s.queue = queue;
  s.type = RingType::Split;
  s.size = 256;
  s.indices_ok = true;
  s.avail_idx = avail;
  s.used_idx = used;
  s.inflight = static_cast<uint16_t>(avail - used);
  for (uint16_t i = 0; i < s.inflight; ++i) s.heads.push_back(static_cast<uint16_t>(4 + i));
  if (s.inflight) s.oldest = blk_read();
  return s;
}

std::vector<HealthEvent> observe(RingHealth& h, const RingSnapshot& s, uint64_t t) {
  std::vector<HealthEvent> out;
  h.observe(s, t, out);
  return out;
}

std::vector<HealthEvent> advance(RingHealth& h, uint64_t t) {
  std::vector<HealthEvent> out;
  h.advance(t, out);
  return out;
}

TEST(RingHealth, StallRaisedAfterTheThresholdAndClearedWhenUsedMoves) {
  RingHealth h;
  EXPECT_TRUE(observe(h, split(17, 14), kT0).empty());
  EXPECT_TRUE(advance(h, kT0 + kSec - 1).empty());
  auto ev = advance(h, kT0 + kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].raised);
  EXPECT_EQ(ev[0].queue, 0u);
  EXPECT_EQ(ev[0].since_ns, kT0);
  EXPECT_EQ(ev[0].at_ns, kT0 + kSec);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 0: 3 buffers in flight, used idx 14 unchanged for 1.00 s; oldest head 4: READ "
            "sector 2048 len 4096");
  EXPECT_TRUE(advance(h, kT0 + 5 * kSec).empty());  // raised once per episode
  // More work arriving does not restart the clock: the used index is what matters.
  EXPECT_TRUE(observe(h, split(19, 14), kT0 + 6 * kSec).empty());
  ASSERT_EQ(h.active().size(), 1u);

  ev = observe(h, split(19, 15), kT0 + 7 * kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  EXPECT_EQ(ev[0].at_ns, kT0 + 7 * kSec);
  EXPECT_EQ(ev[0].finding.detail.substr(0, 30), "queue 0: 3 buffers in flight, ");
  EXPECT_TRUE(h.active().empty());

  // Stuck again at the new index: a new episode, counted from the move.
  EXPECT_TRUE(advance(h, kT0 + 8 * kSec - 1).empty());
  ev = advance(h, kT0 + 8 * kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 0: 4 buffers in flight, used idx 15 unchanged for 1.00 s; oldest head 4: READ "
            "sector 2048 len 4096");
}

TEST(RingHealth, StallClearsWhenNothingIsInFlightAndIgnoresIdleRings) {
  RingHealth h;
  observe(h, split(3, 3), kT0);
  EXPECT_TRUE(advance(h, kT0 + 10 * kSec).empty());  // idle is not stalled
  observe(h, split(5, 3), kT0 + 10 * kSec);
  ASSERT_EQ(advance(h, kT0 + 12 * kSec).size(), 1u);
  auto ev = observe(h, split(5, 5), kT0 + 13 * kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].raised);
}

TEST(RingHealth, StallTextsForPendingWorkAndPackedRings) {
  RingHealth h(HealthThresholds{2 * kSec, 5 * kSec});
  RingSnapshot s = split(10, 8, 3);
  s.pending = 1;
  s.oldest.reset();
  observe(h, s, kT0);
  EXPECT_TRUE(advance(h, kT0 + kSec).empty());  // threshold is 2 s here
  auto ev = advance(h, kT0 + 2500 * uint64_t{1'000'000});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 3: 2 buffers in flight, used idx 8 unchanged for 2.50 s (1 not yet fetched by "
            "the back-end)");

  RingSnapshot p;
  p.queue = 1;
  p.type = RingType::Packed;
  p.size = 128;
  p.indices_ok = true;
  p.avail_idx = 0x8007;
  p.used_idx = 0x8005;
  p.inflight = 1;
  p.heads = {9};
  observe(h, p, kT0);
  ev = advance(h, kT0 + 2 * kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].queue, 1u);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 1: 1 buffer in flight, used position 5 wrap 1 unchanged for 2.00 s");
}

TEST(RingHealth, SnapshotFaultsBecomeFindingsWhilePresent) {
  RingHealth h;
  RingSnapshot s = split(300, 10);
  s.inflight = 0;
  s.heads.clear();
  s.oldest.reset();
  s.faults = {{RingFaultKind::IndexAhead, ChainError::None, 0, 10, 300}};
  auto ev = observe(h, s, kT0);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingIndexInvalid);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 0: avail idx 300 is 290 ahead of used idx 10, more than the queue size 256");
  EXPECT_TRUE(observe(h, s, kT0 + kSec).empty());   // still present: no repeat
  EXPECT_TRUE(advance(h, kT0 + 9 * kSec).empty());  // and no stall from a bogus count

  RingSnapshot t = split(12, 10);
  t.faults = {{RingFaultKind::Chain, ChainError::Loop, 5, 3, 256},
              {RingFaultKind::Chain, ChainError::Loop, 6, 2, 256},
              {RingFaultKind::Chain, ChainError::IndirectWithNext, 7, 7, 5}};
  ev = observe(h, t, kT0 + 10 * kSec);
  ASSERT_EQ(ev.size(), 3u);  // ordered by code: the index fault clears, then the chain codes
  EXPECT_FALSE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingIndexInvalid);
  EXPECT_EQ(ev[1].finding.code, FindingCode::ChainLoop);
  EXPECT_EQ(ev[1].finding.detail,
            "queue 0: chain at head 5 does not end within 256 descriptors (loop) (and 1 more)");
  EXPECT_EQ(ev[2].finding.code, FindingCode::ChainMalformed);
  EXPECT_EQ(ev[2].finding.detail,
            "queue 0: chain at head 7: descriptor 7 has both INDIRECT and NEXT (flags 0x5)");
}

TEST(RingHealth, FaultTexts) {
  RingSnapshot s = split(0, 0, 2);
  auto text = [&](RingFault f) { return fault_finding(s, f); };
  Finding f = text({RingFaultKind::PartUnmapped, ChainError::None, 0, 2, 0x7f0012345000});
  EXPECT_EQ(f.code, FindingCode::RingAddressUnmapped);
  EXPECT_EQ(f.detail, "queue 2: used ring at 0x7f0012345000 is outside guest memory");
  f = text({RingFaultKind::PartUnreadable, ChainError::None, 0, 0, 0x10000});
  EXPECT_EQ(f.detail, "queue 2: descriptor table at guest-physical 0x10000 could not be read");
  f = text({RingFaultKind::HeadOutOfRange, ChainError::None, 300, 17, 300});
  EXPECT_EQ(f.code, FindingCode::RingIndexInvalid);
  EXPECT_EQ(f.detail, "queue 2: avail ring entry 17 holds head 300, beyond queue size 256");
  f = text({RingFaultKind::UsedIdOutOfRange, ChainError::None, 0, 9, 4000});
  EXPECT_EQ(f.detail, "queue 2: used ring entry 9 holds id 4000, beyond queue size 256");
  f = text({RingFaultKind::BaseMismatch, ChainError::None, 0, 0, 7});
  EXPECT_EQ(f.detail,
            "queue 2: vring base 7 (the back-end's next avail idx) is not between used idx 0 and "
            "avail idx 0");
  f = text({RingFaultKind::Chain, ChainError::NextOutOfRange, 3, 1, 999});
  EXPECT_EQ(f.code, FindingCode::ChainOutOfRange);
  EXPECT_EQ(f.detail, "queue 2: chain at head 3: descriptor 1 has next 999, outside its table");
  f = text({RingFaultKind::Chain, ChainError::BufferUnmapped, 3, 0, 0xdead0000});
  EXPECT_EQ(f.code, FindingCode::ChainOutOfRange);
  EXPECT_EQ(f.detail,
            "queue 2: chain at head 3: descriptor 0 buffer at 0xdead0000 is not in guest memory");
  f = text({RingFaultKind::Chain, ChainError::NestedIndirect, 3, 2, 4});
  EXPECT_EQ(f.code, FindingCode::ChainMalformed);
  f = text({RingFaultKind::SizeInvalid, ChainError::None, 0, 0, 100});
  EXPECT_EQ(f.code, FindingCode::InvalidField);
  EXPECT_EQ(f.detail,
            "queue 2: queue size 100 is not valid for a split ring (1..32768, power of two)");
  s.type = RingType::Packed;
  f = text({RingFaultKind::Chain, ChainError::NextOutOfRange, 6, 7, 1});
  EXPECT_EQ(f.detail,
            "queue 2: chain at slot 6: descriptor at slot 7 has NEXT but no further descriptor is "
            "available");
  f = text({RingFaultKind::PartUnmapped, ChainError::None, 0, 1, 0x1000});
  EXPECT_EQ(f.detail, "queue 2: driver event area at 0x1000 is outside guest memory");
}

TEST(RingHealth, MissingKickAndCallFds) {
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.observe_facts({1, false, NotifierSetting::Unset, NotifierSetting::Unset}, kT0, ev);
  EXPECT_TRUE(ev.empty());  // not started: nothing to say
  h.observe_facts({1, true, NotifierSetting::Unset, NotifierSetting::Fd}, kT0, ev);
  EXPECT_TRUE(ev.empty()) << "within the grace period the kick fd may still come";
  h.advance(kT0 + kSec / 2, ev);
  EXPECT_TRUE(ev.empty());
  h.advance(kT0 + kSec, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::NoKickFd);
  EXPECT_EQ(ev[0].since_ns, kT0);
  EXPECT_EQ(ev[0].at_ns, kT0 + kSec);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 1: started without SET_VRING_KICK: the back-end gets no kicks");
  ev.clear();
  h.observe_facts({1, true, NotifierSetting::NoFd, NotifierSetting::NoFd}, kT0 + 3 * kSec / 2, ev);
  ASSERT_EQ(ev.size(), 2u);  // the kick finding changes its reason at once; the call one waits
  EXPECT_FALSE(ev[0].raised);
  EXPECT_TRUE(ev[1].raised);
  EXPECT_EQ(ev[1].since_ns, kT0);
  EXPECT_EQ(ev[1].finding.detail,
            "queue 1: SET_VRING_KICK sent NOFD: the back-end must poll the ring");
  ev.clear();
  h.advance(kT0 + 5 * kSec / 2, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::NoCallFd);
  EXPECT_EQ(ev[0].since_ns, kT0 + 3 * kSec / 2);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 1: SET_VRING_CALL sent NOFD: the back-end cannot interrupt the guest");
  ev.clear();
  h.observe_facts({1, true, NotifierSetting::Fd, NotifierSetting::Fd}, kT0 + 3 * kSec, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_FALSE(ev[0].raised);
  EXPECT_FALSE(ev[1].raised);
  EXPECT_TRUE(h.active().empty());
}

TEST(RingHealth, CallFdJustAfterStartIsNoFinding) {
  // QEMU's order can be SET_VRING_KICK (starts the ring) then SET_VRING_CALL a moment later.
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.observe_facts({0, true, NotifierSetting::Fd, NotifierSetting::Unset}, kT0, ev);
  h.observe_facts({0, true, NotifierSetting::Fd, NotifierSetting::Fd}, kT0 + 1'000'000, ev);
  h.advance(kT0 + 10 * kSec, ev);
  h.settle(kT0 + 10 * kSec, ev);
  EXPECT_TRUE(ev.empty());
  EXPECT_TRUE(h.active().empty());
}

TEST(RingHealth, MissingFdUntilTheRingStopsOrTheEnd) {
  // Stopped 10 ms after start, never having had a call fd: raised and cleared together.
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.observe_facts({0, true, NotifierSetting::Fd, NotifierSetting::Unset}, kT0, ev);
  h.observe_facts({0, false, NotifierSetting::Fd, NotifierSetting::Unset}, kT0 + 10'000'000, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_TRUE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::NoCallFd);
  EXPECT_EQ(ev[0].since_ns, kT0);
  EXPECT_FALSE(ev[1].raised);
  EXPECT_EQ(ev[1].at_ns, kT0 + 10'000'000);
  // Restarted (same stale call state), and the session ends 1 ms later: the final state counts.
  ev.clear();
  h.observe_facts({0, true, NotifierSetting::Fd, NotifierSetting::Unset}, kT0 + kSec, ev);
  EXPECT_TRUE(ev.empty());
  h.settle(kT0 + kSec + 1'000'000, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 0: started without SET_VRING_CALL: the back-end cannot interrupt the guest");
  ASSERT_EQ(h.active().size(), 1u);
}

TEST(RingHealth, NotificationsSuppressedWhileWorkWaits) {
  // Split without EVENT_IDX: NO_NOTIFY set, a vring base says 2 buffers are not fetched, nothing
  // moving: the back-end's flag keeps the driver from announcing them.
  RingHealth h;
  RingSnapshot s = split(12, 10);
  s.used_flags = kUsedNoNotify;
  s.pending = 2;
  observe(h, s, kT0);
  auto ev = advance(h, kT0 + kSec);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  EXPECT_EQ(ev[1].finding.code, FindingCode::NotificationsSuppressed);
  EXPECT_EQ(ev[1].finding.detail,
            "queue 0: 2 buffers not fetched by the back-end for 1.00 s while used.flags has "
            "NO_NOTIFY, so the driver will not kick for them");
  s.used_flags = 0;  // the back-end re-enabled kicks
  ev = observe(h, s, kT0 + 2 * kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::NotificationsSuppressed);

  // EVENT_IDX, avail_event (the back-end's fetch position) behind avail idx: the driver's kick
  // for entry 18 was due, so this is a stall, not suppression.
  RingHealth e;
  RingSnapshot x = split(20, 16);
  x.event_idx = true;
  x.avail_event = 18;
  observe(e, x, kT0);
  ev = advance(e, kT0 + kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  // All fetched (avail_event == avail idx): the next publication kicks, nothing suppressed.
  RingHealth f;
  x.avail_event = 20;
  observe(f, x, kT0);
  ev = advance(f, kT0 + kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);

  // Packed, the device event area says DISABLE (a polling back-end): whether the buffer was
  // fetched is unknown, so only the stall is raised.
  RingHealth p;
  RingSnapshot q;
  q.type = RingType::Packed;
  q.size = 64;
  q.indices_ok = true;
  q.avail_idx = 0x8003;
  q.used_idx = 0x8002;
  q.inflight = 1;
  q.used_flags = kPackedEventDisable;
  observe(p, q, kT0);
  ev = advance(p, kT0 + kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
}

// advance() looks only at queues that changed or whose threshold is due; the least deadline is
// found again when the queue that held it moves its clock later or drops it.
TEST(RingHealth, EachQueueKeepsItsOwnDeadline) {
  RingHealth h;
  EXPECT_TRUE(observe(h, split(3, 1, 0), kT0).empty());             // queue 0 due at kT0+1s
  EXPECT_TRUE(observe(h, split(5, 2, 1), kT0 + kSec / 2).empty());  // queue 1 due at kT0+1.5s
  EXPECT_TRUE(advance(h, kT0 + kSec / 4).empty());
  // Queue 0, which held the least deadline, moves on: its clock restarts, due at kT0+1.9s.
  EXPECT_TRUE(observe(h, split(3, 2, 0), kT0 + 9 * kSec / 10).empty());
  EXPECT_TRUE(advance(h, kT0 + kSec).empty());
  auto ev = advance(h, kT0 + 3 * kSec / 2);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].queue, 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  ev = advance(h, kT0 + 19 * kSec / 10);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].queue, 0u);
  // Queue 1 drains; queue 2 stalls later and still fires on its own clock.
  EXPECT_EQ(observe(h, split(5, 5, 1), kT0 + 2 * kSec).size(), 1u);  // the stall clears
  EXPECT_TRUE(observe(h, split(8, 0, 2), kT0 + 2 * kSec).empty());
  EXPECT_TRUE(advance(h, kT0 + 3 * kSec - 1).empty());
  ev = advance(h, kT0 + 3 * kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].queue, 2u);
  // Forgetting a queue leaves the others' clocks as they were.
  std::vector<HealthEvent> out;
  h.forget(0, kT0 + 3 * kSec, out);
  EXPECT_TRUE(observe(h, split(9, 8, 3), kT0 + 4 * kSec).empty());
  EXPECT_TRUE(advance(h, kT0 + 5 * kSec - 1).empty());
  ev = advance(h, kT0 + 5 * kSec);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].queue, 3u);
}

TEST(RingHealth, ForgetClearsEverythingOfTheRing) {
  RingHealth h;
  RingSnapshot s = split(12, 10, 2);
  s.faults = {{RingFaultKind::Chain, ChainError::BufferUnmapped, 4, 0, 0x1}};
  observe(h, s, kT0);
  advance(h, kT0 + kSec);
  observe(h, split(1, 0, 5), kT0);
  ASSERT_EQ(h.active().size(), 2u);
  std::vector<HealthEvent> ev;
  h.forget(2, kT0 + 2 * kSec, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_FALSE(ev[0].raised);
  EXPECT_FALSE(ev[1].raised);
  EXPECT_TRUE(h.active().empty());
  ev.clear();
  h.forget_all(kT0 + 3 * kSec, ev);  // queue 5 had nothing raised
  EXPECT_TRUE(ev.empty());
  EXPECT_TRUE(advance(h, kT0 + 60 * kSec).empty());  // and its stall clock is gone
}

TEST(RingHealth, ReplyTimeouts) {
  const std::vector<WaitingForReply> waiting = {
      {"GET_VRING_BASE", Channel::Frontend, kT0, 0},
      {"GET_FEATURES", Channel::Frontend, kT0 + 1500 * uint64_t{1'000'000}, std::nullopt},
      {"BACKEND_IOTLB_MSG", Channel::Backend, kT0, std::nullopt},
      {"SET_MEM_TABLE", Channel::Frontend, kT0 + 5 * kSec, std::nullopt},  // clock went backwards
  };
  const auto found = reply_timeouts(waiting, kT0 + 2 * kSec);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].code, FindingCode::ReplyTimeout);
  EXPECT_EQ(found[0].detail,
            "GET_VRING_BASE (queue 0) has waited 2.00 s for its reply (threshold 1.00 s)");
  EXPECT_EQ(found[1].detail,
            "BACKEND_IOTLB_MSG on the back-end channel has waited 2.00 s for its reply (threshold "
            "1.00 s)");
  EXPECT_EQ(reply_timeouts(waiting, kT0 + 2 * kSec, 100'000'000).size(), 3u);
  EXPECT_TRUE(reply_timeouts({}, kT0).empty());
}

TEST(RingHealth, ChainMalformedHasAFindingsRow) {
  const FindingInfo& info = finding_info(FindingCode::ChainMalformed);
  EXPECT_EQ(info.code, FindingCode::ChainMalformed);
  EXPECT_EQ(info.id, "chain-malformed");
}

}  // namespace
}  // namespace vhs
