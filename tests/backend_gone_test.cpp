// A back-end that disconnects with requests in flight (decoders/session/backend_gone): the rule
// on its own, and synthetic sessions through the Store: a crash with I/O in flight raises
// backend-gone-in-flight on the Disconnect record with the oldest request named; a front-end that
// stops its rings and closes (QEMU shutting down), a back-end closing with idle rings, or after
// GET_VRING_BASE stopped the ring, raise nothing. The ring's last state stays in the timeline.
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "app/common/summary_format.hpp"
#include "captures/model/store.hpp"
#include "decoders/session/backend_gone.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;  // an arbitrary CLOCK_REALTIME
constexpr uint64_t kMs = 1'000'000;

uint64_t at_ms(uint64_t ms) { return kT0 + ms * kMs; }

// A split blk ring of 128 entries with `avail - used` requests in flight, the oldest a READ of
// 4096 bytes at `sector`.
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

VringState running_vring(uint32_t index) {
  VringState v;
  v.index = index;
  v.started = true;
  v.enabled = true;
  return v;
}

// ---------------------------------------------------------------- the rule

TEST(BackendGone, CloserComesFromTheDisconnectRecord) {
  EXPECT_EQ(closer_of_disconnect(Direction::ToFrontend, false), SessionCloser::Backend);
  EXPECT_EQ(closer_of_disconnect(Direction::ToBackend, false), SessionCloser::Frontend);
  EXPECT_EQ(closer_of_disconnect(Direction::ToFrontend, true), SessionCloser::Recorder);
  EXPECT_EQ(closer_of_disconnect(Direction::ToBackend, true), SessionCloser::Recorder);
}

TEST(BackendGone, BackendClosingWithRequestsInFlightNamesQueueCountAndOldest) {
  const VringState v = running_vring(1);
  auto f = backend_gone_in_flight(SessionCloser::Backend, blk_ring(1, 815, 812, 96), &v,
                                  DeviceKind::Blk, at_ms(960), at_ms(1000));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->code, FindingCode::BackendGoneInFlight);
  EXPECT_EQ(f->severity(), Severity::Error);
  EXPECT_EQ(f->detail,
            "the back-end disconnected with 3 requests in flight on queue 1 (avail idx 815, used "
            "idx 812, ring state of 40 ms before the disconnect); oldest head 44: READ sector 96 "
            "len 4096");
  // One request: singular. Without the session's vring state (joined mid-way) the ring state
  // alone decides.
  f = backend_gone_in_flight(SessionCloser::Backend, blk_ring(0, 1, 0), nullptr, DeviceKind::Blk,
                             at_ms(0), at_ms(0));
  ASSERT_TRUE(f.has_value());
  EXPECT_NE(f->detail.find("with 1 request in flight on queue 0"), std::string::npos) << f->detail;
}

TEST(BackendGone, NothingWhenTheFrontendOrTheRecorderClosed) {
  const VringState v = running_vring(0);
  const RingSnapshot busy = blk_ring(0, 5, 2);
  EXPECT_FALSE(backend_gone_in_flight(SessionCloser::Frontend, busy, &v, DeviceKind::Blk, 0, 0));
  EXPECT_FALSE(backend_gone_in_flight(SessionCloser::Recorder, busy, &v, DeviceKind::Blk, 0, 0));
}

TEST(BackendGone, NothingForIdleStoppedDisabledOrUnreadableRings) {
  VringState v = running_vring(0);
  EXPECT_FALSE(
      backend_gone_in_flight(SessionCloser::Backend, blk_ring(0, 9, 9), &v, DeviceKind::Blk, 0, 0))
      << "nothing in flight: a back-end that closes an idle session leaves nobody waiting";
  v.started = false;  // GET_VRING_BASE stopped it: its state went back to the front-end
  EXPECT_FALSE(
      backend_gone_in_flight(SessionCloser::Backend, blk_ring(0, 5, 2), &v, DeviceKind::Blk, 0, 0));
  v = running_vring(0);
  v.enabled = false;  // SET_VRING_ENABLE 0
  EXPECT_FALSE(
      backend_gone_in_flight(SessionCloser::Backend, blk_ring(0, 5, 2), &v, DeviceKind::Blk, 0, 0));
  v = running_vring(0);
  RingSnapshot unreadable = blk_ring(0, 5, 2);
  unreadable.indices_ok = false;
  EXPECT_FALSE(
      backend_gone_in_flight(SessionCloser::Backend, unreadable, &v, DeviceKind::Blk, 0, 0));
}

TEST(BackendGone, EmptyReceiveBuffersAreNotRequests) {
  // virtio-net receive queue 0 holding empty buffers: nobody waits for the back-end there.
  RingSnapshot rx = blk_ring(0, 256, 0);
  rx.oldest->device = DeviceKind::Net;
  rx.oldest->readable_bytes = 0;
  rx.oldest->writable_bytes = 1536;
  const VringState v = running_vring(0);
  EXPECT_FALSE(backend_gone_in_flight(SessionCloser::Backend, rx, &v, DeviceKind::Net, 0, 0));
  // The transmit queue (1) with packets in flight is the back-end's to complete.
  RingSnapshot tx = blk_ring(1, 4, 1);
  tx.oldest->device = DeviceKind::Net;
  const VringState v1 = running_vring(1);
  EXPECT_TRUE(backend_gone_in_flight(SessionCloser::Backend, tx, &v1, DeviceKind::Net, 0, 0));
}

// ---------------------------------------------------------------- sessions through the Store

Record event(RecordKind kind, uint64_t ts, Direction direction = Direction::ToBackend,
             std::string_view text = "", uint16_t flags = 0) {
  Record r;
  r.kind = kind;
  r.session = 1;
  r.timestamp_ns = ts;
  r.direction = direction;
  r.flags = flags;
  r.bytes.assign(text.begin(), text.end());
  return r;
}

Record message(Direction direction, test::Bytes bytes, uint64_t ts) {
  Record r = event(RecordKind::Message, ts, direction);
  r.bytes = std::move(bytes);
  return r;
}

Record ring_record(const RingSnapshot& s, uint64_t ts) {
  Record r = event(RecordKind::RingState, ts);
  r.bytes = encode_ring_snapshot(s);
  return r;
}

// Connect, features without PROTOCOL_FEATURES (rings enabled at once), queue 0 started with a
// kick and a call fd, the ring sampled idle and then with three READs in flight.
void start_busy_session(Store& store) {
  store.append(event(RecordKind::Connect, at_ms(0), Direction::ToBackend, "connected"));
  store.append(
      message(Direction::ToBackend, test::request("SET_FEATURES", test::u64_payload(0)), at_ms(1)));
  store.append(message(Direction::ToBackend,
                       test::request("SET_VRING_NUM", test::vring_state(0, 128)), at_ms(2)));
  for (std::string_view name : {"SET_VRING_CALL", "SET_VRING_KICK"}) {
    Record r =
        message(Direction::ToBackend, test::request(name, test::vring_index_fd(0)), at_ms(3));
    r.fds = {FdInfo{FdKind::Eventfd, 5, 0, ""}};
    store.append(r);
  }
  store.append(ring_record(blk_ring(0, 0, 0), at_ms(10)));
  store.append(ring_record(blk_ring(0, 3, 0, 2048), at_ms(300)));
}

std::vector<const Finding*> findings_of(const Store& store, FindingCode code,
                                        uint32_t* entry = nullptr) {
  std::vector<const Finding*> out;
  for (uint32_t i : store.flagged())
    for (const Finding& f : store.findings(i))
      if (f.code == code) {
        out.push_back(&f);
        if (entry) *entry = i;
      }
  return out;
}

TEST(BackendGoneStore, CrashWithRequestsInFlightIsAnErrorOnTheDisconnect) {
  Store store;
  start_busy_session(store);
  const uint32_t disconnect = static_cast<uint32_t>(store.size());
  store.append(event(RecordKind::Disconnect, at_ms(320), Direction::ToFrontend,
                     "back-end closed the connection"));
  store.finish();
  uint32_t on = kNoEntry;
  auto found = findings_of(store, FindingCode::BackendGoneInFlight, &on);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(on, disconnect);
  EXPECT_EQ(found[0]->detail,
            "the back-end disconnected with 3 requests in flight on queue 0 (avail idx 3, used idx "
            "0, ring state of 20 ms before the disconnect); oldest head 0: READ sector 2048 len "
            "4096");
  EXPECT_EQ(store.severity_counts().error, 1u);
  // The ring's last state stays what `rings` and the summary show at the end.
  const StoreSession& s = store.sessions().at(0);
  EXPECT_EQ(s.rings.queues().at(0).last.inflight, 3u);
  const std::string summary = format_session_summary(store, s);
  EXPECT_NE(summary.find("backend-gone-in-flight"), std::string::npos) << summary;
  EXPECT_NE(summary.find("3 requests in flight on queue 0"), std::string::npos) << summary;
}

TEST(BackendGoneStore, CleanFrontendShutdownRaisesNothing) {
  // QEMU stops the ring (GET_VRING_BASE), the back-end answers, QEMU closes.
  Store store;
  start_busy_session(store);
  store.append(message(Direction::ToBackend,
                       test::request("GET_VRING_BASE", test::vring_state(0, 0)), at_ms(400)));
  store.append(message(Direction::ToFrontend,
                       test::reply("GET_VRING_BASE", test::vring_state(0, 3)), at_ms(401)));
  store.append(event(RecordKind::Disconnect, at_ms(402), Direction::ToBackend,
                     "front-end closed the connection"));
  store.finish();
  EXPECT_TRUE(findings_of(store, FindingCode::BackendGoneInFlight).empty());
  EXPECT_EQ(store.severity_counts().error, 0u);
}

TEST(BackendGoneStore, FrontendClosingWithRingsRunningRaisesNothing) {
  Store store;
  start_busy_session(store);
  store.append(event(RecordKind::Disconnect, at_ms(320), Direction::ToBackend,
                     "front-end closed the connection"));
  store.finish();
  EXPECT_TRUE(findings_of(store, FindingCode::BackendGoneInFlight).empty());
}

TEST(BackendGoneStore, BackendClosingAfterTheRingStoppedOrWithIdleRingsRaisesNothing) {
  {
    Store store;
    start_busy_session(store);
    store.append(message(Direction::ToBackend,
                         test::request("GET_VRING_BASE", test::vring_state(0, 0)), at_ms(400)));
    store.append(message(Direction::ToFrontend,
                         test::reply("GET_VRING_BASE", test::vring_state(0, 3)), at_ms(401)));
    store.append(event(RecordKind::Disconnect, at_ms(402), Direction::ToFrontend,
                       "back-end closed the connection"));
    store.finish();
    EXPECT_TRUE(findings_of(store, FindingCode::BackendGoneInFlight).empty());
  }
  {
    Store store;
    start_busy_session(store);
    store.append(ring_record(blk_ring(0, 3, 3), at_ms(310)));  // all completed
    store.append(event(RecordKind::Disconnect, at_ms(320), Direction::ToFrontend,
                       "back-end closed the connection"));
    store.finish();
    EXPECT_TRUE(findings_of(store, FindingCode::BackendGoneInFlight).empty());
    EXPECT_EQ(store.severity_counts().error, 0u);
  }
}

TEST(BackendGoneStore, RecorderStoppingWithRequestsInFlightRaisesNothing) {
  Store store;
  start_busy_session(store);
  store.append(event(RecordKind::Disconnect, at_ms(320), Direction::ToFrontend,
                     "recorder stopped; proxy closed both sides", kRecordClosedByProxy));
  store.finish();
  EXPECT_TRUE(findings_of(store, FindingCode::BackendGoneInFlight).empty());
}

}  // namespace
}  // namespace vhs
