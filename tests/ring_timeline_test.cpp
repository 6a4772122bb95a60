// Ring hang findings in the Store (captures/ring_timeline): synthetic RingState records through
// Store::append raise RingStalled on the stalled queue with its oldest blk request named, clear
// it when the ring drains, and every presenter (summary text, `rings`, the findings list) shows
// the same episode. Also the shipped hang capture's stall in `vhostscope summary`.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "app/common/summary_format.hpp"
#include "captures/model/ring_timeline.hpp"
#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;  // an arbitrary CLOCK_REALTIME
constexpr uint64_t kMs = 1'000'000;

uint64_t at_ms(uint64_t ms) { return kT0 + ms * kMs; }

Record event(RecordKind kind, uint64_t ts, std::string_view text = "", uint16_t flags = 0) {
  Record r;
  r.kind = kind;
  r.session = 1;
  r.timestamp_ns = ts;
  r.flags = flags;
  r.bytes.assign(text.begin(), text.end());
  return r;
}

// A split blk ring of 128 entries: `avail - used` buffers in flight, heads used..avail-1, the
// oldest a READ of 4096 bytes at `sector`.
RingSnapshot blk_ring(uint32_t queue, uint16_t avail, uint16_t used, uint64_t sector = 2048) {
  RingSnapshot s;
  s.queue = queue;
  s.type = RingType::Split;
  s.size = 128;
  s.indices_ok = true;
  s.avail_idx = avail;
  s.used_idx = used;
  s.inflight = static_cast<uint16_t>(avail - used);
  for (uint16_t h = used; h != avail; ++h) s.heads.push_back(static_cast<uint16_t>(h % 128));
  if (s.inflight > 0) {
    BufferSummary b;
    b.head = s.heads.front();
    b.descs = 3;
    b.device = DeviceKind::Blk;
    b.op = 0;  // VIRTIO_BLK_T_IN
    b.arg = sector;
    b.data_len = 4096;
    b.readable_bytes = 16;
    b.writable_bytes = 4097;
    b.detail_ok = true;
    s.oldest = b;
  }
  return s;
}

Record ring_record(const RingSnapshot& s, uint64_t ts) {
  Record r = event(RecordKind::RingState, ts);
  r.bytes = encode_ring_snapshot(s);
  return r;
}

// A front-end request; kick/call/err requests carry an eventfd unless `nofd`.
Record request(std::string_view name, test::Bytes payload, uint64_t ts, bool nofd = false) {
  Record r = event(RecordKind::Message, ts);
  r.bytes = test::request(name, payload);
  if (!nofd && (name == "SET_VRING_KICK" || name == "SET_VRING_CALL"))
    r.fds = {FdInfo{FdKind::Eventfd, 5, 0, ""}};
  return r;
}

Record vring_fd(std::string_view name, uint8_t queue, uint64_t ts, bool nofd = false) {
  return request(name, test::vring_index_fd(queue, nofd), ts, nofd);
}

const Finding* find_code(const Store& store, FindingCode code, uint32_t* entry = nullptr) {
  for (uint32_t i : store.flagged())
    for (const Finding& f : store.findings(i))
      if (f.code == code) {
        if (entry) *entry = i;
        return &f;
      }
  return nullptr;
}

TEST(RingTimeline, StallRaisedAfterThresholdThenDrained) {
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  store.append(ring_record(blk_ring(0, 0, 0), at_ms(10)));
  store.append(ring_record(blk_ring(0, 3, 0), at_ms(100)));  // three READs in flight
  store.append(ring_record(blk_ring(1, 5, 5), at_ms(900)));  // another queue, idle: no stall yet
  EXPECT_EQ(find_code(store, FindingCode::RingStalled), nullptr) << "0.8 s is below the threshold";

  // Any later record of the session moves its clock past 1 s: queue 0 is stalled.
  store.append(ring_record(blk_ring(1, 6, 6), at_ms(1200)));
  const StoreSession& s = store.sessions().at(0);
  ASSERT_EQ(s.rings.episodes().size(), 1u);
  const RingEpisode& ep = s.rings.episodes()[0];
  EXPECT_EQ(ep.queue, 0u);
  EXPECT_EQ(ep.finding.code, FindingCode::RingStalled);
  EXPECT_TRUE(ep.active());
  EXPECT_EQ(ep.since_ns, at_ms(100));
  EXPECT_EQ(ep.raised_ns, at_ms(1200));
  EXPECT_EQ(ep.entry, 2u) << "the finding is on the snapshot showing the stalled state";
  EXPECT_NE(ep.finding.detail.find("queue 0: 3 buffers in flight, used idx 0"), std::string::npos)
      << ep.finding.detail;
  EXPECT_NE(ep.finding.detail.find("oldest head 0: READ sector 2048 len 4096"), std::string::npos)
      << ep.finding.detail;
  uint32_t on = kNoEntry;
  ASSERT_NE(find_code(store, FindingCode::RingStalled, &on), nullptr);
  EXPECT_EQ(on, 2u);
  EXPECT_TRUE(s.rings.any_active());

  std::string summary = format_session_summary(store, s);
  EXPECT_NE(summary.find("Rings: 2 queues sampled, 4 ring states"), std::string::npos) << summary;
  EXPECT_NE(summary.find("NOW   ring-stalled since +0.100000 s: queue 0: 3 buffers in flight"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("— still stalled, 1.10 s"), std::string::npos) << summary;
  EXPECT_NE(summary.find("error   ring-stalled x1: #3"), std::string::npos) << summary;

  // The back-end completes everything at 3.3 s: the stall ends, the finding says so.
  store.append(ring_record(blk_ring(0, 3, 3), at_ms(3300)));
  ASSERT_EQ(s.rings.episodes().size(), 1u);
  EXPECT_FALSE(s.rings.episodes()[0].active());
  EXPECT_EQ(s.rings.episodes()[0].ended_ns, std::optional<uint64_t>(at_ms(3300)));
  EXPECT_EQ(s.rings.episodes()[0].ended_how, "drained");
  EXPECT_FALSE(s.rings.any_active());
  const Finding* f = find_code(store, FindingCode::RingStalled);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->detail.find("READ sector 2048"), std::string::npos) << f->detail;
  EXPECT_NE(f->detail.find("— stalled 3.20 s, drained"), std::string::npos) << f->detail;
  EXPECT_EQ(s.rings.queues().at(0).last.inflight, 0u);

  store.append(event(RecordKind::Disconnect, at_ms(4000), "front-end closed"));
  store.finish();
  summary = format_session_summary(store, s);
  EXPECT_EQ(summary.find("NOW "), std::string::npos) << summary;
  EXPECT_NE(summary.find("ENDED ring-stalled +0.100000..+3.300000 s: queue 0: 3 buffers in flight"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("stalled 3.20 s, drained"), std::string::npos) << summary;
  // Still exactly one ring finding: ending an episode rewrites it, it does not add another.
  EXPECT_EQ(store.severity_counts().error, 1u);
}

TEST(RingTimeline, MovingButNotDrainedRestartsTheStall) {
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  store.append(ring_record(blk_ring(0, 4, 0, 100), at_ms(0)));
  store.append(event(RecordKind::Error, at_ms(1500), "something else"));  // time passes
  store.append(ring_record(blk_ring(0, 4, 1, 108), at_ms(1600)));         // one completes
  const StoreSession& s = store.sessions().at(0);
  ASSERT_EQ(s.rings.episodes().size(), 1u);
  EXPECT_EQ(s.rings.episodes()[0].ended_how, "used idx moved to 1, 3 in flight");
  // The three left are a new stall once a second passes again, naming the new oldest request.
  store.finish(at_ms(2700));
  ASSERT_EQ(s.rings.episodes().size(), 2u);
  const RingEpisode& again = s.rings.episodes()[1];
  EXPECT_TRUE(again.active());
  EXPECT_EQ(again.since_ns, at_ms(1600));
  EXPECT_NE(again.finding.detail.find("3 buffers in flight, used idx 1"), std::string::npos)
      << again.finding.detail;
  EXPECT_NE(again.finding.detail.find("READ sector 108"), std::string::npos)
      << again.finding.detail;
  // finish() says how long the open stall had lasted when the capture ended.
  size_t stalled = 0;
  for (uint32_t i : store.flagged())
    for (const Finding& f : store.findings(i))
      if (f.code == FindingCode::RingStalled) {
        ++stalled;
        if (i == 3) {
          EXPECT_NE(f.detail.find("— still stalled, 1.10 s"), std::string::npos) << f.detail;
        }
      }
  EXPECT_EQ(stalled, 2u);
}

TEST(RingTimeline, StallOpenAtDisconnectStaysCurrent) {
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  store.append(ring_record(blk_ring(2, 9, 7, 640), at_ms(50)));
  store.append(
      event(RecordKind::Disconnect, at_ms(2050), "recorder stopped", kRecordClosedByProxy));
  // Records after the session ended do not move its clock or its rings.
  store.finish(at_ms(9000));
  const StoreSession& s = store.sessions().at(0);
  ASSERT_EQ(s.rings.episodes().size(), 1u);
  const RingEpisode& ep = s.rings.episodes()[0];
  EXPECT_EQ(ep.queue, 2u);
  EXPECT_TRUE(ep.active());
  const Finding* f = find_code(store, FindingCode::RingStalled);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->detail.find("queue 2: 2 buffers in flight, used idx 7"), std::string::npos)
      << f->detail;
  EXPECT_NE(f->detail.find("oldest head 7: READ sector 640"), std::string::npos) << f->detail;
  EXPECT_NE(f->detail.find("— still stalled, 2.00 s"), std::string::npos) << f->detail;
  const std::string block = format_ring_block(store, s);
  EXPECT_NE(block.find("NOW   ring-stalled since +0.050000 s: queue 2"), std::string::npos)
      << block;
}

TEST(RingTimeline, LiveClockRaisesWithoutRecords) {
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  store.append(ring_record(blk_ring(0, 1, 0, 8), at_ms(10)));
  EXPECT_FALSE(store.advance_time(at_ms(500)));
  EXPECT_EQ(find_code(store, FindingCode::RingStalled), nullptr);
  EXPECT_TRUE(store.advance_time(at_ms(1100)));
  uint32_t on = kNoEntry;
  const Finding* f = find_code(store, FindingCode::RingStalled, &on);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(on, 1u);
  EXPECT_NE(f->detail.find("1 buffer in flight"), std::string::npos) << f->detail;
  EXPECT_NE(f->detail.find("READ sector 8"), std::string::npos) << f->detail;
}

TEST(RingTimeline, UndecodableRingStateIsAFindingNotACrash) {
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  Record bad = event(RecordKind::RingState, at_ms(1));
  bad.bytes = {7, 0, 40};  // unknown version, truncated
  store.append(bad);
  ASSERT_EQ(store.findings(1).size(), 1u);
  EXPECT_EQ(store.findings(1)[0].code, FindingCode::InvalidField);
  EXPECT_NE(store.findings(1)[0].detail.find("ring-state record not understood"),
            std::string::npos);
  EXPECT_TRUE(store.sessions().at(0).rings.empty());
}

TEST(RingTimeline, StartedWithoutCallFdIsAFindingUntilTheRingStops) {
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  store.append(request("SET_VRING_NUM", test::vring_state(0, 128), at_ms(1)));
  store.append(vring_fd("SET_VRING_KICK", 0, at_ms(2)));  // #3: starts queue 0, no call fd ever
  store.append(request("GET_FEATURES", {}, at_ms(500)));
  EXPECT_EQ(find_code(store, FindingCode::NoCallFd), nullptr) << "0.5 s is within the grace period";
  store.append(request("GET_FEATURES", {}, at_ms(1500)));
  uint32_t on = kNoEntry;
  const Finding* f = find_code(store, FindingCode::NoCallFd, &on);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(on, 2u) << "the finding is on the SET_VRING_KICK that started the ring";
  EXPECT_EQ(f->detail,
            "queue 0: started without SET_VRING_CALL: the back-end cannot interrupt the guest");
  EXPECT_EQ(find_code(store, FindingCode::NoKickFd), nullptr);
  const StoreSession& s = store.sessions().at(0);
  std::string summary = format_session_summary(store, s);
  EXPECT_NE(summary.find("Rings: no ring state sampled"), std::string::npos) << summary;
  EXPECT_NE(
      summary.find("NOW   no-call-fd since +0.002000 s: queue 0: started without SET_VRING_CALL"),
      std::string::npos)
      << summary;
  EXPECT_NE(summary.find("info    no-call-fd x1: #3"), std::string::npos) << summary;

  // GET_VRING_BASE stops the ring: the episode ends, the finding stays in the history.
  store.append(request("GET_VRING_BASE", test::vring_state(0, 0), at_ms(2000)));
  ASSERT_EQ(s.rings.episodes().size(), 1u);
  const RingEpisode& ep = s.rings.episodes()[0];
  EXPECT_EQ(ep.queue, 0u);
  EXPECT_EQ(ep.finding.code, FindingCode::NoCallFd);
  EXPECT_FALSE(ep.active());
  EXPECT_EQ(ep.since_ns, at_ms(2));
  EXPECT_EQ(ep.ended_how, "ring stopped");
  store.finish();
  summary = format_session_summary(store, s);
  EXPECT_NE(summary.find(
                "ENDED no-call-fd +0.002000..+2.000000 s: queue 0: started without SET_VRING_CALL"),
            std::string::npos)
      << summary;
  f = find_code(store, FindingCode::NoCallFd);
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->detail.find("— lasted 2.00 s, ring stopped"), std::string::npos) << f->detail;
}

TEST(RingTimeline, KickWithNofdIsAWarning) {
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  store.append(vring_fd("SET_VRING_CALL", 1, at_ms(1)));
  store.append(vring_fd("SET_VRING_KICK", 1, at_ms(2),
                        /*nofd=*/true));  // #3: starts queue 1, back-end polls
  // The session ends 50 ms later with the ring still running that way: the final state counts.
  store.append(event(RecordKind::Disconnect, at_ms(50), "closed"));
  uint32_t on = kNoEntry;
  const Finding* f = find_code(store, FindingCode::NoKickFd, &on);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(on, 2u);
  EXPECT_EQ(f->severity(), Severity::Warning);
  EXPECT_NE(
      f->detail.find(
          "queue 1: SET_VRING_KICK sent NOFD: the back-end must poll the ring — still present"),
      std::string::npos)
      << f->detail;
  EXPECT_EQ(find_code(store, FindingCode::NoCallFd), nullptr);
  EXPECT_EQ(store.severity_counts().warning, 1u);
  const std::string summary = format_session_summary(store, store.sessions().at(0));
  EXPECT_NE(summary.find("NOW   no-kick-fd since +0.002000 s: queue 1: SET_VRING_KICK sent NOFD"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("warning no-kick-fd x1: #3"), std::string::npos) << summary;
}

TEST(RingTimeline, NormalStartHasNoNotifierFinding) {
  // Kick first (starts the ring), call 1 ms later: a start-up order, not a problem.
  Store store;
  store.append(event(RecordKind::Connect, at_ms(0), "connected"));
  store.append(request("SET_VRING_NUM", test::vring_state(0, 128), at_ms(1)));
  store.append(vring_fd("SET_VRING_KICK", 0, at_ms(2)));
  store.append(vring_fd("SET_VRING_CALL", 0, at_ms(3)));
  store.append(request("GET_FEATURES", {}, at_ms(5000)));
  store.append(request("GET_VRING_BASE", test::vring_state(0, 0), at_ms(6000)));
  store.append(event(RecordKind::Disconnect, at_ms(7000), "closed"));
  store.finish();
  EXPECT_EQ(find_code(store, FindingCode::NoCallFd), nullptr);
  EXPECT_EQ(find_code(store, FindingCode::NoKickFd), nullptr);
  const StoreSession& s = store.sessions().at(0);
  EXPECT_TRUE(s.rings.episodes().empty());
  EXPECT_TRUE(s.state().vring(0) && s.state().vring(0)->call.state == NotifierSlot::State::Fd);
  EXPECT_EQ(format_session_summary(store, s).find("Rings:"), std::string::npos);
}

TEST(RingTimeline, ShippedHangCaptureSummaryShowsTheStall) {
  test::TempDir dir;
  const std::string capture = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap";
  auto r = test::run_command({test::vhostscope_binary(), "summary", capture}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The back-end was SIGSTOPped with the guest's READ of sector 0 in flight on queue 0, and the
  // capture ends with it still there.
  EXPECT_NE(r.out.find("Rings: 1 queue sampled"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NOW   ring-stalled since"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": queue 0: 1 buffer in flight, used idx 2564"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("oldest head 0: READ sector 0 len 4096 — still stalled"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("error   ring-stalled x1"), std::string::npos) << r.out;

  auto rings =
      test::run_command({test::vhostscope_binary(), "rings", "--end", capture}, dir.path());
  ASSERT_EQ(rings.exit_code, 0) << rings.err;
  EXPECT_NE(rings.out.find("NOW   ring-stalled since"), std::string::npos) << rings.out;
  EXPECT_NE(rings.out.find("READ sector 0 len 4096 — still stalled"), std::string::npos)
      << rings.out;

  auto report = test::run_command({test::vhostscope_binary(), "report", capture}, dir.path());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("ring-stalled"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("READ sector 0 len 4096"), std::string::npos) << report.out;
}

}  // namespace
}  // namespace vhs
