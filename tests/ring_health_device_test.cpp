// Device-aware hang rules on synthetic ring states: a virtio-net receive queue waiting for
// traffic is idle, a disabled ring is never stalled, a net TX queue and a blk queue with requests
// and no progress are stalled, an unknown device is judged by the buffer's shape; and
// notifications-suppressed only where suppression is the cause.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "decoders/session/ring_health.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/virtio/packed_ring.hpp"
#include "decoders/virtio/split_ring.hpp"

namespace vhs {
namespace {

constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

// An empty receive buffer as the Linux driver posts it: one device-writable 1536-byte buffer.
BufferSummary rx_buffer(uint16_t head, DeviceKind device = DeviceKind::Net) {
  BufferSummary b;
  b.head = head;
  b.descs = 1;
  b.device = device;
  b.writable_bytes = 1536;
  return b;
}

// A packet to send: a readable virtio-net header and frame.
BufferSummary tx_packet(uint16_t head, DeviceKind device = DeviceKind::Net) {
  BufferSummary b;
  b.head = head;
  b.descs = 2;
  b.device = device;
  b.readable_bytes = 12 + 42;
  b.data_len = 42;
  b.detail_ok = device == DeviceKind::Net;
  return b;
}

BufferSummary blk_read() {
  BufferSummary b;
  b.head = 0;
  b.descs = 3;
  b.device = DeviceKind::Blk;
  b.data_len = 4096;
  b.readable_bytes = 16;
  b.writable_bytes = 4097;
  b.detail_ok = true;
  return b;
}

RingSnapshot ring(uint32_t queue, uint16_t avail, uint16_t used, const BufferSummary& oldest) {
  RingSnapshot s;
  s.queue = queue;
  s.size = 256;
  s.indices_ok = true;
  s.avail_idx = avail;
  s.used_idx = used;
  s.inflight = static_cast<uint16_t>(avail - used);
  for (uint16_t i = 0; i < s.inflight && i < kSnapshotMaxHeads; ++i) s.heads.push_back(i);
  if (s.inflight) s.oldest = oldest;
  return s;
}

// Codes raised by feeding `s` at kT0 and letting `seconds` pass.
std::vector<FindingCode> raised_after(RingHealth& h, const RingSnapshot& s, uint64_t seconds) {
  std::vector<HealthEvent> ev;
  h.observe(s, kT0, ev);
  h.advance(kT0 + seconds * kSec, ev);
  std::vector<FindingCode> codes;
  for (const HealthEvent& e : ev)
    if (e.raised) codes.push_back(e.finding.code);
  return codes;
}

bool has(const std::vector<FindingCode>& codes, FindingCode c) {
  for (FindingCode x : codes)
    if (x == c) return true;
  return false;
}

TEST(RingHealthDevice, NetReceiveQueueWaitingForTrafficIsIdle) {
  // 256 writable 1536-byte buffers, used idx 0 for 20 s: nothing arrived, nothing is wrong.
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Net, kT0, ev);
  EXPECT_TRUE(raised_after(h, ring(0, 256, 0, rx_buffer(0)), 20).empty());
  // Receive queue 1 of the second pair too.
  EXPECT_TRUE(raised_after(h, ring(2, 256, 0, rx_buffer(0)), 20).empty());
  EXPECT_TRUE(h.active().empty());
}

TEST(RingHealthDevice, SamplerDeviceStandsInWhenTheSessionDoesNotKnow) {
  // The live status path has no device inference of its own: the oldest buffer says what the
  // sampler read it as.
  RingHealth h;
  EXPECT_TRUE(raised_after(h, ring(0, 256, 0, rx_buffer(0, DeviceKind::Net)), 20).empty());
}

TEST(RingHealthDevice, NetTransmitQueueWithPacketsAndNoProgressIsStalled) {
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Net, kT0, ev);
  h.observe(ring(1, 40, 37, tx_packet(37)), kT0, ev);
  ev.clear();
  h.advance(kT0 + 2 * kSec, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  EXPECT_EQ(ev[0].queue, 1u);
  EXPECT_EQ(ev[0].finding.detail,
            "queue 1: 3 buffers in flight, used idx 37 unchanged for 2.00 s; oldest head 37: TX 42 "
            "bytes gso NONE");
}

TEST(RingHealthDevice, NetControlCommandOnAnEvenQueueIsARequest) {
  // A buffer with a readable header on an even queue is no receive buffer (the control queue).
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Net, kT0, ev);
  BufferSummary cmd = tx_packet(0);
  cmd.readable_bytes = 2 + 1;
  cmd.writable_bytes = 1;
  cmd.detail_ok = false;
  EXPECT_TRUE(has(raised_after(h, ring(4, 1, 0, cmd), 2), FindingCode::RingStalled));
}

TEST(RingHealthDevice, DisabledRingIsNeverStalled) {
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Net, kT0, ev);
  // Queue 3 (TX of the unused second pair) started but disabled, with packets in it.
  h.observe_facts({3, true, NotifierSetting::Fd, NotifierSetting::Fd, false}, kT0, ev);
  EXPECT_TRUE(raised_after(h, ring(3, 5, 0, tx_packet(0)), 10).empty());
  // Enabled: the same state is a stall once the threshold passes again.
  ev.clear();
  h.observe_facts({3, true, NotifierSetting::Fd, NotifierSetting::Fd, true}, kT0 + 10 * kSec, ev);
  h.advance(kT0 + 12 * kSec, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  EXPECT_EQ(ev[0].since_ns, kT0 + 10 * kSec);
}

TEST(RingHealthDevice, StallBegunWhileEnabledOutlastsADisable) {
  // QEMU disables a ring before GET_VRING_BASE when it stops the device: requests accepted
  // while the ring was enabled are still owed, so the stall goes on.
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Blk, kT0, ev);
  h.observe_facts({0, true, NotifierSetting::Fd, NotifierSetting::Fd, true}, kT0, ev);
  h.observe(ring(0, 1, 0, blk_read()), kT0, ev);
  h.advance(kT0 + 2 * kSec, ev);
  ASSERT_EQ(h.active().size(), 1u);
  ev.clear();
  h.observe_facts({0, true, NotifierSetting::Fd, NotifierSetting::Fd, false}, kT0 + 3 * kSec, ev);
  EXPECT_TRUE(ev.empty());
  ASSERT_EQ(h.active().size(), 1u);
  EXPECT_EQ(h.active()[0].finding.code, FindingCode::RingStalled);
  // Progress while disabled ends it, and what is left in flight starts no new stall.
  h.observe(ring(0, 3, 1, blk_read()), kT0 + 4 * kSec, ev);
  h.advance(kT0 + 10 * kSec, ev);
  EXPECT_TRUE(h.active().empty());
}

TEST(RingHealthDevice, BlkQueueWithRequestsAndNoProgressIsStalled) {
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Blk, kT0, ev);
  EXPECT_TRUE(has(raised_after(h, ring(0, 1, 0, blk_read()), 2), FindingCode::RingStalled));
  // Even a writable-only buffer is a request on blk (it would be a malformed one).
  RingHealth b;
  b.set_device(DeviceKind::Blk, kT0, ev);
  EXPECT_TRUE(has(raised_after(b, ring(0, 1, 0, rx_buffer(0, DeviceKind::Blk)), 2),
                  FindingCode::RingStalled));
}

TEST(RingHealthDevice, FsHiprioStallsAndNotificationBuffersWait) {
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Fs, kT0, ev);
  BufferSummary forget;
  forget.descs = 1;
  forget.device = DeviceKind::Fs;
  forget.readable_bytes = 48;
  EXPECT_TRUE(has(raised_after(h, ring(0, 1, 0, forget), 2), FindingCode::RingStalled));
  RingHealth n;
  n.set_device(DeviceKind::Fs, kT0, ev);
  EXPECT_TRUE(raised_after(n, ring(1, 16, 0, rx_buffer(0, DeviceKind::Fs)), 20).empty());
}

TEST(RingHealthDevice, UnknownDeviceJudgesByTheBufferShape) {
  // Writable-only buffers may be receive buffers: no error that cannot be justified.
  RingHealth h;
  EXPECT_TRUE(raised_after(h, ring(0, 8, 0, rx_buffer(0, DeviceKind::Unknown)), 20).empty());
  // A buffer with readable bytes is a request: stalled.
  RingHealth r;
  EXPECT_TRUE(has(raised_after(r, ring(0, 1, 0, tx_packet(0, DeviceKind::Unknown)), 2),
                  FindingCode::RingStalled));
  // No oldest buffer: no evidence of receive buffers, so in-flight work counts as requests.
  RingHealth n;
  RingSnapshot bare = ring(0, 2, 0, rx_buffer(0, DeviceKind::Unknown));
  bare.oldest.reset();
  EXPECT_TRUE(has(raised_after(n, bare, 2), FindingCode::RingStalled));
}

TEST(RingHealthDevice, DeviceDecidedLaterReclassifiesTheQueue) {
  // Unknown device and no oldest buffer to judge by: in-flight work on queue 0 counts as requests.
  RingHealth h;
  std::vector<HealthEvent> ev;
  RingSnapshot bare = ring(0, 256, 0, rx_buffer(0, DeviceKind::Unknown));
  bare.oldest.reset();
  h.observe(bare, kT0, ev);
  h.advance(kT0 + 2 * kSec, ev);
  ASSERT_EQ(h.active().size(), 1u);
  // The session turns out to be net: queue 0 is a receive queue, the stall ends.
  ev.clear();
  h.set_device(DeviceKind::Net, kT0 + 3 * kSec, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
  EXPECT_TRUE(h.active().empty());
}

TEST(RingHealthDevice, NetReceiveQueueRaisesNoSuppressionEither) {
  // Receive buffers the back-end has not fetched are the normal state of an idle RX queue, even
  // with a vring base telling exactly how many and NO_NOTIFY set by a polling back-end.
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.set_device(DeviceKind::Net, kT0, ev);
  RingSnapshot s = ring(0, 256, 0, rx_buffer(0));
  s.used_flags = kUsedNoNotify;
  s.pending = 256;
  EXPECT_TRUE(raised_after(h, s, 20).empty());
}

// ---- notifications-suppressed only when it is the cause ----

RingSnapshot event_idx_ring(uint16_t avail, uint16_t used, uint16_t avail_event) {
  RingSnapshot s = ring(0, avail, used, blk_read());
  s.event_idx = true;
  s.avail_event = avail_event;
  s.used_event = used;
  return s;
}

TEST(RingHealthSuppression, AvailEventBehindAfterAKickIsOnlyAStall) {
  // The blk-hang capture's last state: avail_event 2564, avail idx 2565. The driver's kick for
  // entry 2564 was due and (without interposition) may well have been sent: no suppression.
  RingHealth h;
  const auto codes = raised_after(h, event_idx_ring(2565, 2564, 2564), 5);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], FindingCode::RingStalled);
}

TEST(RingHealthSuppression, InterposedKickForThePublicationMeansNoSuppression) {
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.observe_notify({NotifySource::Kick, NotifyEvent::Interposed, 0, 0}, kT0, ev);
  h.observe(event_idx_ring(2564, 2564, 2564), kT0, ev);
  h.observe(event_idx_ring(2565, 2564, 2564), kT0 + kSec / 10, ev);
  h.observe_notify({NotifySource::Kick, NotifyEvent::Relayed, 0, 1}, kT0 + kSec / 10 + 1000, ev);
  ev.clear();
  h.advance(kT0 + 5 * kSec, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
}

TEST(RingHealthSuppression, PublicationWithoutTheRequiredKickIsTheCause) {
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.observe_notify({NotifySource::Kick, NotifyEvent::Interposed, 0, 0}, kT0, ev);
  h.observe(event_idx_ring(2564, 2564, 2564), kT0, ev);
  h.observe(event_idx_ring(2565, 2564, 2564), kT0 + kSec, ev);
  ev.clear();
  h.advance(kT0 + 3 * kSec, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].finding.code, FindingCode::NotificationsSuppressed);
  EXPECT_EQ(ev[1].finding.detail,
            "queue 0: the driver made buffers available (avail idx 2565) without a kick for "
            "2.00 s, though avail_event 2564 asks for one when entry 2564 is published; the "
            "back-end has not used them");
  // The kick arrives late: the cause is gone, the stall stays.
  ev.clear();
  h.observe_notify({NotifySource::Kick, NotifyEvent::Relayed, 0, 1}, kT0 + 4 * kSec, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(ev[0].raised);
  EXPECT_EQ(ev[0].finding.code, FindingCode::NotificationsSuppressed);
  ASSERT_EQ(h.active().size(), 1u);
  EXPECT_EQ(h.active()[0].finding.code, FindingCode::RingStalled);
}

TEST(RingHealthSuppression, PublicationThatNeedsNoKickIsNoFinding) {
  // avail_event 2600 is ahead: publishing 2564 -> 2565 owes no kick, and no base says the
  // back-end has not fetched it.
  RingHealth h;
  std::vector<HealthEvent> ev;
  h.observe_notify({NotifySource::Kick, NotifyEvent::Interposed, 0, 0}, kT0, ev);
  h.observe(event_idx_ring(2564, 2564, 2600), kT0, ev);
  h.observe(event_idx_ring(2565, 2564, 2600), kT0 + kSec, ev);
  ev.clear();
  h.advance(kT0 + 3 * kSec, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].finding.code, FindingCode::RingStalled);
}

TEST(RingHealthSuppression, BackendWordHidingUnfetchedWorkIsTheCause) {
  // A vring base says 2 entries are not fetched, and avail_event asks for a kick only at 20.
  RingHealth h;
  RingSnapshot s = event_idx_ring(18, 15, 20);
  s.pending = 2;
  auto codes = raised_after(h, s, 1);
  ASSERT_EQ(codes.size(), 2u);
  const auto active = h.active();
  ASSERT_EQ(active.size(), 2u);
  EXPECT_EQ(active[1].finding.code, FindingCode::NotificationsSuppressed);
  EXPECT_EQ(active[1].finding.detail,
            "queue 0: 2 buffers not fetched by the back-end for 1.00 s while avail_event 20 asks "
            "for a kick only once the driver publishes entry 20 (avail idx 18), so the driver "
            "will not kick for them");
  // Split without EVENT_IDX: NO_NOTIFY with known unfetched work.
  RingHealth n;
  RingSnapshot f = ring(0, 12, 10, blk_read());
  f.used_flags = kUsedNoNotify;
  f.pending = 1;
  codes = raised_after(n, f, 1);
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(n.active()[1].finding.detail,
            "queue 0: 1 buffer not fetched by the back-end for 1.00 s while used.flags has "
            "NO_NOTIFY, so the driver will not kick for them");
}

TEST(RingHealthSuppression, PollingBackendFlagsWithoutKnownUnfetchedWorkAreNoFinding) {
  // A polling back-end (DPDK) keeps NO_NOTIFY / DISABLE set; when it stops, buffers may be
  // fetched or not: the stall is the finding, the flag is not the cause.
  RingHealth h;
  RingSnapshot s = ring(1, 12, 10, tx_packet(10));
  s.used_flags = kUsedNoNotify;
  auto codes = raised_after(h, s, 2);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], FindingCode::RingStalled);
  RingHealth p;
  RingSnapshot q = ring(1, 0, 0, tx_packet(0));
  q.type = RingType::Packed;
  q.avail_idx = 0x8003;
  q.used_idx = 0x8002;
  q.inflight = 1;
  q.used_flags = kPackedEventDisable;
  codes = raised_after(p, q, 2);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0], FindingCode::RingStalled);
}

TEST(RingHealthSuppression, ShippedBlkHangIsAStallNotASuppression) {
  // The SIGSTOPped qemu-storage-daemon: avail_event 2564 behind avail idx 2565 is the state right
  // after the driver's kick for entry 2564. The stall is the finding; suppression is not.
  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap", store,
                           warning, error))
      << error;
  ASSERT_EQ(store.sessions().size(), 1u);
  const auto& episodes = store.sessions()[0].rings.episodes();
  size_t stalls = 0;
  for (const RingEpisode& e : episodes) {
    EXPECT_NE(e.finding.code, FindingCode::NotificationsSuppressed) << e.finding.detail;
    if (e.finding.code == FindingCode::RingStalled) {
      ++stalls;
      EXPECT_TRUE(e.active()) << "the stall outlasts QEMU's SET_VRING_ENABLE 0";
      EXPECT_EQ(e.queue, 0u);
    }
  }
  EXPECT_EQ(stalls, 1u);
}

}  // namespace
}  // namespace vhs
