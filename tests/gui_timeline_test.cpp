// Timeline view-model (app/common/view_timeline): lane assignment (events, control, per queue
// with its kick / call / ring-state tracks, back-end channel; answers follow their request),
// bucket counts and severity marks, nearest entry, hang spans, idle gaps and the compressed axis,
// the zoom / pan / zoom-to-selection arithmetic, the entry a capture opens at, and the lifecycle
// row (app/common/view_lifecycle).
#include <gtest/gtest.h>

#include <vector>

#include "app/common/view_lifecycle.hpp"
#include "app/common/view_timeline.hpp"
#include "captures/model/store.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

using view::LaneKind;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kT0 = 1'000 * kMs;

Record rec(test::Bytes bytes, Direction dir, uint64_t t, Channel ch = Channel::Frontend) {
  Record r;
  r.direction = dir;
  r.channel = ch;
  r.session = 1;
  r.timestamp_ns = t;
  r.bytes = std::move(bytes);
  return r;
}

Record note(RecordKind kind, uint64_t t) {
  Record r;
  r.kind = kind;
  r.session = 1;
  r.timestamp_ns = t;
  r.bytes = {'x'};
  return r;
}

// 0 connect @0, 1 GET_FEATURES @1, 2 reply @2, 3 SET_VRING_NUM q1 (need reply) @3, 4 ack @4,
// 5 SET_VRING_CALL q0 @5, 6 BACKEND_CONFIG_CHANGE_MSG @6 (back-end channel),
// 7 GET_VRING_BASE q1 @10 (never answered), 8 SET_VRING_KICK q1 @20 (ms after kT0)
class TimelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto F = Direction::ToBackend, B = Direction::ToFrontend;
    store.append(note(RecordKind::Connect, kT0));
    store.append(rec(test::request("GET_FEATURES"), F, kT0 + 1 * kMs));
    store.append(rec(test::reply("GET_FEATURES", test::u64_payload(1ull << 32)), B, kT0 + 2 * kMs));
    store.append(
        rec(test::request("SET_VRING_NUM", test::vring_state(1, 256), true), F, kT0 + 3 * kMs));
    store.append(rec(test::reply("SET_VRING_NUM", test::u64_payload(0)), B, kT0 + 4 * kMs));
    store.append(
        rec(test::request("SET_VRING_CALL", test::vring_index_fd(0, true)), F, kT0 + 5 * kMs));
    store.append(
        rec(test::request("BACKEND_CONFIG_CHANGE_MSG"), B, kT0 + 6 * kMs, Channel::Backend));
    store.append(rec(test::request("GET_VRING_BASE", test::vring_state(1, 0)), F, kT0 + 10 * kMs));
    store.append(
        rec(test::request("SET_VRING_KICK", test::vring_index_fd(1, true)), F, kT0 + 20 * kMs));
    store.finish();
    while (!index.update(store, 3)) {
    }
  }

  size_t lane(LaneKind kind, uint32_t queue = 0) const {
    for (size_t i = 0; i < index.lanes().size(); ++i)
      if (index.lanes()[i].key == view::LaneKey{kind, queue}) return i;
    ADD_FAILURE() << "no lane";
    return SIZE_MAX;
  }
  std::vector<uint32_t> entries(size_t l) const { return index.lanes()[l].entries; }

  Store store;
  view::TimelineIndex index;
};

TEST_F(TimelineTest, LanesInDisplayOrder) {
  std::vector<std::string> labels;
  for (const auto& l : index.lanes()) labels.push_back(l.label);
  EXPECT_EQ(labels,
            (std::vector<std::string>{"events", "control", "queue 0", "queue 1", "back-end ch"}));
  EXPECT_EQ(index.indexed(), store.size());
  EXPECT_EQ(index.min_time(), kT0);
  EXPECT_EQ(index.max_time(), kT0 + 20 * kMs);
}

TEST_F(TimelineTest, EntriesGoToTheirLane) {
  EXPECT_EQ(entries(lane(LaneKind::Events)), (std::vector<uint32_t>{0}));
  EXPECT_EQ(entries(lane(LaneKind::Control)), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(entries(lane(LaneKind::Queue, 0)), (std::vector<uint32_t>{5}));
  // The ack (4) has no queue index of its own: it follows its request (3).
  EXPECT_EQ(entries(lane(LaneKind::Queue, 1)), (std::vector<uint32_t>{3, 4, 7, 8}));
  EXPECT_EQ(entries(lane(LaneKind::BackendChannel)), (std::vector<uint32_t>{6}));
  EXPECT_EQ(index.lane_of(4), lane(LaneKind::Queue, 1));
  EXPECT_EQ(index.lane_of(99), SIZE_MAX);
}

TEST_F(TimelineTest, BucketsCountAndMarkSeverity) {
  std::vector<view::TimelineBucket> b;
  // 4 buckets of 5 ms over [kT0, kT0 + 20 ms): queue 1 has 3, 4 in the first, 7 in the third.
  index.bucket(lane(LaneKind::Queue, 1), kT0, kT0 + 20 * kMs, 4, b);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].count, 2u);
  EXPECT_EQ(b[0].first_entry, 3u);
  EXPECT_EQ(b[1].count, 0u);
  EXPECT_EQ(b[2].count, 1u);
  EXPECT_EQ(b[2].errors, 1u);  // GET_VRING_BASE: unanswered
  EXPECT_EQ(b[3].count, 0u);   // 20 ms is the exclusive end
  index.bucket(lane(LaneKind::Queue, 1), kT0, kT0 + 21 * kMs, 1, b);
  EXPECT_EQ(b[0].count, 4u);
  EXPECT_EQ(b[0].errors, 1u);
  // Outside the data, and degenerate requests.
  index.bucket(lane(LaneKind::Control), kT0 + 50 * kMs, kT0 + 60 * kMs, 10, b);
  for (const auto& x : b) EXPECT_EQ(x.count, 0u);
  index.bucket(99, kT0, kT0 + 1, 3, b);
  EXPECT_EQ(b.size(), 3u);
}

TEST_F(TimelineTest, NearestEntry) {
  const size_t q1 = lane(LaneKind::Queue, 1);
  EXPECT_EQ(index.nearest_entry(q1, kT0), 3u);
  EXPECT_EQ(index.nearest_entry(q1, kT0 + 8 * kMs), 7u);
  EXPECT_EQ(index.nearest_entry(q1, kT0 + 16 * kMs), 8u);
  EXPECT_EQ(index.nearest_entry(q1, kT0 + 99 * kMs), 8u);
  EXPECT_EQ(index.nearest_entry(99, kT0), UINT32_MAX);
}

TEST_F(TimelineTest, HangSpansRunToTheSessionEnd) {
  auto spans = view::hang_spans(store, index, 0, false);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].entry, 7u);
  EXPECT_EQ(spans[0].lane, lane(LaneKind::Queue, 1));
  EXPECT_EQ(spans[0].start, kT0 + 10 * kMs);
  EXPECT_EQ(spans[0].end, kT0 + 20 * kMs);  // the session's last record
  EXPECT_FALSE(spans[0].open);
}

TEST(TimelineLive, PendingRequestsAreOpenSpans) {
  Store s;
  s.append(note(RecordKind::Connect, kT0));
  s.append(rec(test::request("GET_FEATURES"), Direction::ToBackend, kT0 + kMs));
  view::TimelineIndex idx;
  idx.update(s, 100);
  auto spans = view::hang_spans(s, idx, kT0 + 9 * kMs, true);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].entry, 1u);
  EXPECT_EQ(spans[0].end, kT0 + 9 * kMs);
  EXPECT_TRUE(spans[0].open);
  EXPECT_TRUE(view::hang_spans(s, idx, kT0 + 9 * kMs, false).empty());
}

TEST(TimelineOrder, ClockStepBackKeepsLanesSorted) {
  Store s;
  s.append(rec(test::request("SET_OWNER"), Direction::ToBackend, kT0 + 5 * kMs));
  s.append(rec(test::request("SET_OWNER"), Direction::ToBackend, kT0 + 1 * kMs));
  s.append(rec(test::request("SET_OWNER"), Direction::ToBackend, kT0 + 3 * kMs));
  view::TimelineIndex idx;
  idx.update(s, 100);
  ASSERT_EQ(idx.lanes().size(), 1u);
  EXPECT_EQ(idx.lanes()[0].entries, (std::vector<uint32_t>{1, 2, 0}));
  EXPECT_EQ(idx.nearest_entry(0, kT0 + 5 * kMs), 0u);
}

TEST(TimeRange, ZoomKeepsTheAnchor) {
  const view::TimeRange bounds{0, 1'000'000};
  view::TimeRange r = view::zoom_range(bounds, 0.5, 0.5, bounds);
  EXPECT_EQ(r, (view::TimeRange{250'000, 750'000}));
  r = view::zoom_range(bounds, 0.5, 0.0, bounds);
  EXPECT_EQ(r, (view::TimeRange{0, 500'000}));
  r = view::zoom_range(view::TimeRange{200'000, 400'000}, 0.5, 0.25, bounds);
  EXPECT_EQ(r, (view::TimeRange{225'000, 325'000}));
}

TEST(TimeRange, ZoomIsClamped) {
  const view::TimeRange bounds{1'000, 101'000};
  EXPECT_EQ(view::zoom_range(bounds, 4.0, 0.5, bounds), bounds);  // never wider than the data
  view::TimeRange tiny = view::zoom_range(bounds, 1e-9, 0.5, bounds);
  EXPECT_EQ(tiny.width(), view::kMinTimelineWidthNs);
  EXPECT_GE(tiny.t0, bounds.t0);
}

TEST(TimeRange, PanStaysInside) {
  const view::TimeRange bounds{0, 1'000'000};
  EXPECT_EQ(view::pan_range({100'000, 200'000}, 50'000, bounds),
            (view::TimeRange{150'000, 250'000}));
  EXPECT_EQ(view::pan_range({100'000, 200'000}, -500'000, bounds), (view::TimeRange{0, 100'000}));
  EXPECT_EQ(view::pan_range({100'000, 200'000}, 5'000'000, bounds),
            (view::TimeRange{900'000, 1'000'000}));
}

TEST(TimeRange, FitPadsTheData) {
  EXPECT_EQ(view::fit_range(1'000'000, 2'000'000), (view::TimeRange{980'000, 2'020'000}));
  const auto one = view::fit_range(5'000'000, 5'000'000);
  EXPECT_LE(one.t0, 5'000'000u);
  EXPECT_GT(one.t1, 5'000'000u);
}

// --- Queue tracks ---------------------------------------------------------------------------

Record ring_state(uint32_t queue, uint16_t avail, uint16_t used, uint64_t t) {
  RingSnapshot snap;
  snap.queue = queue;
  snap.size = 128;
  snap.indices_ok = true;
  snap.avail_idx = avail;
  snap.used_idx = used;
  snap.inflight = static_cast<uint16_t>(avail - used);
  Record r = note(RecordKind::RingState, t);
  r.bytes = encode_ring_snapshot(snap);
  return r;
}

Record notify(NotifySource source, NotifyEvent event, uint16_t queue, uint64_t t) {
  Record r = note(RecordKind::Notify, t);
  r.bytes = encode_notify({source, event, queue, 1});
  return r;
}

// A queue's lane is its messages, then its kicks, calls and ring states as tracks under it.
TEST(TimelineTracks, KicksCallsAndRingStatesUnderTheirQueue) {
  Store s;
  s.append(
      rec(test::request("SET_VRING_KICK", test::vring_index_fd(0)), Direction::ToBackend, kT0));
  s.append(notify(NotifySource::Kick, NotifyEvent::Interposed, 0, kT0 + 1 * kMs));
  s.append(notify(NotifySource::Kick, NotifyEvent::Relayed, 0, kT0 + 2 * kMs));
  s.append(notify(NotifySource::Call, NotifyEvent::Relayed, 0, kT0 + 3 * kMs));
  s.append(ring_state(0, 5, 4, kT0 + 4 * kMs));
  s.append(ring_state(1, 2, 2, kT0 + 5 * kMs));
  view::TimelineIndex idx;
  idx.update(s, 100);
  std::vector<std::string> labels;
  std::vector<std::vector<uint32_t>> entries;
  for (const auto& l : idx.lanes()) {
    labels.push_back(l.label);
    entries.push_back(l.entries);
  }
  EXPECT_EQ(labels,
            (std::vector<std::string>{"queue 0", "q0 kicks", "q0 calls", "q0 ring", "q1 ring"}));
  // The eventfd pair's set-up is an event of the queue, not a kick.
  EXPECT_EQ(entries, (std::vector<std::vector<uint32_t>>{{0, 1}, {2}, {3}, {4}, {5}}));
}

// A stalled ring's episode is drawn on the queue's ring track, from the first ring state that
// shows it to the one where the used index moved.
TEST(TimelineTracks, StallEpisodeOnTheRingTrack) {
  Store s;
  s.append(note(RecordKind::Connect, kT0));
  s.append(ring_state(0, 3, 2, kT0 + 1 * kMs));
  s.append(ring_state(0, 4, 2, kT0 + 100 * kMs));
  s.append(ring_state(0, 4, 2, kT0 + 3000 * kMs));  // still stuck: the ring timeline flags it
  s.append(ring_state(0, 4, 4, kT0 + 4000 * kMs));
  s.finish();
  view::TimelineIndex idx;
  idx.update(s, 100);
  const auto spans = view::hang_spans(s, idx, 0, false);
  size_t ring_lane = SIZE_MAX;
  for (size_t l = 0; l < idx.lanes().size(); ++l)
    if (idx.lanes()[l].label == "q0 ring") ring_lane = l;
  ASSERT_NE(ring_lane, SIZE_MAX);
  bool found = false;
  for (const auto& h : spans) {
    if (h.what.find("q0 stalled") == std::string::npos) continue;
    found = true;
    EXPECT_EQ(h.lane, ring_lane);
    EXPECT_EQ(h.start, kT0 + 1 * kMs);
    EXPECT_EQ(h.end, kT0 + 4000 * kMs);
  }
  EXPECT_TRUE(found) << "no stall span among " << spans.size();
}

// --- Idle stretches and the compressed axis -----------------------------------------------

constexpr uint64_t kS = 1000 * kMs;

// Two bursts of 11 messages 10 ms apart (100 ms each), 10 s of silence between them.
Store two_bursts() {
  Store s;
  for (int burst = 0; burst < 2; ++burst)
    for (int k = 0; k <= 10; ++k)
      s.append(rec(test::request("GET_FEATURES"), Direction::ToBackend,
                   kT0 + static_cast<uint64_t>(burst) * (10 * kS + 100 * kMs) +
                       static_cast<uint64_t>(k) * 10 * kMs));
  s.finish();
  return s;
}

TEST(TimelineIdle, TenSecondsOfSilenceIsOneGap) {
  Store s = two_bursts();
  view::TimelineIndex idx;
  while (!idx.update(s, 5)) {
  }
  ASSERT_EQ(idx.idle_gaps().size(), 1u);
  EXPECT_EQ(idx.idle_gaps()[0], (view::IdleGap{kT0 + 100 * kMs, kT0 + 10 * kS + 100 * kMs}));
  EXPECT_EQ(idx.idle_gaps()[0].duration(), 10 * kS);
}

TEST(TimelineIdle, ActivePartsGetMostOfTheWidth) {
  Store s = two_bursts();
  view::TimelineIndex idx;
  idx.update(s, SIZE_MAX);
  const view::TimeAxis axis(idx.min_time(), idx.max_time(), idx.idle_gaps());
  ASSERT_EQ(axis.gaps().size(), 1u);  // the marker: "… 10 s idle"
  EXPECT_EQ(axis.gaps()[0].time.duration(), 10 * kS);
  const uint64_t first = axis.to_display(idx.min_time()), last = axis.to_display(idx.max_time());
  const double whole = static_cast<double>(last - first);
  const double burst_a = static_cast<double>(axis.to_display(kT0 + 100 * kMs) - first);
  const double burst_b = static_cast<double>(last - axis.to_display(kT0 + 10 * kS + 100 * kMs));
  // Linear, the bursts would get 2% of the width; compressed they get 94% (the gap: 6%).
  EXPECT_GE((burst_a + burst_b) / whole, 0.9);
  EXPECT_NEAR(static_cast<double>(axis.gaps()[0].u1 - axis.gaps()[0].u0) / whole,
              view::TimeAxis::kGapShare, 0.005);
  // Within a burst one display ns is one ns; the axis is monotonic and round-trips.
  EXPECT_EQ(axis.to_display(kT0 + 50 * kMs) - axis.to_display(kT0 + 40 * kMs), 10 * kMs);
  EXPECT_EQ(axis.to_display(kT0 + 10 * kS + 150 * kMs) - axis.to_display(kT0 + 10 * kS + 140 * kMs),
            10 * kMs);
  for (uint64_t t : {kT0, kT0 + 55 * kMs, kT0 + 10 * kS + 120 * kMs, kT0 + 10 * kS + 200 * kMs})
    EXPECT_EQ(axis.to_time(axis.to_display(t)), t);
  uint64_t prev = 0;
  for (uint64_t t = kT0; t <= kT0 + 10 * kS + 200 * kMs; t += 37 * kMs) {
    EXPECT_GE(axis.to_display(t), prev);
    prev = axis.to_display(t);
  }
  // The identity axis (compression off) leaves times alone.
  EXPECT_EQ(view::TimeAxis().to_display(kT0 + 5 * kS), kT0 + 5 * kS);
}

// A steady trickle (a record every 200 ms for a minute) has no idle stretch worth compressing:
// each pause is a tiny share of the span.
TEST(TimelineIdle, SteadyTrafficIsNotCompressed) {
  Store s;
  for (uint64_t k = 0; k <= 300; ++k)
    s.append(rec(test::request("GET_FEATURES"), Direction::ToBackend, kT0 + k * 200 * kMs));
  view::TimelineIndex idx;
  idx.update(s, SIZE_MAX);
  EXPECT_EQ(idx.idle_gaps().size(), 300u);  // candidates, every pause over the floor
  const view::TimeAxis axis(idx.min_time(), idx.max_time(), idx.idle_gaps());
  EXPECT_TRUE(axis.gaps().empty());
  EXPECT_EQ(axis.to_display(kT0 + 7 * kS), kT0 + 7 * kS);
}

// A record stepping back in time into a silence splits it.
TEST(TimelineIdle, ClockStepBackSplitsTheGap) {
  Store s;
  s.append(rec(test::request("SET_OWNER"), Direction::ToBackend, kT0));
  s.append(rec(test::request("SET_OWNER"), Direction::ToBackend, kT0 + 10 * kS));
  s.append(rec(test::request("SET_OWNER"), Direction::ToBackend, kT0 + 4 * kS));
  view::TimelineIndex idx;
  idx.update(s, SIZE_MAX);
  EXPECT_EQ(idx.idle_gaps(),
            (std::vector<view::IdleGap>{{kT0, kT0 + 4 * kS}, {kT0 + 4 * kS, kT0 + 10 * kS}}));
}

// Dragging across the second burst zooms to exactly it: its first and last message land at the
// ends of the view, and the pixel columns count its messages and none of the first burst's.
TEST(TimelineZoom, ZoomToSelectionMapsTimes) {
  Store s = two_bursts();
  view::TimelineIndex idx;
  idx.update(s, SIZE_MAX);
  const view::TimeAxis axis(idx.min_time(), idx.max_time(), idx.idle_gaps());
  const view::TimeRange bounds =
      view::fit_range(axis.to_display(idx.min_time()), axis.to_display(idx.max_time()));
  const uint64_t b0 = kT0 + 10 * kS + 100 * kMs, b1 = kT0 + 10 * kS + 200 * kMs;
  auto fraction = [&](view::TimeRange r, uint64_t t) {
    return (static_cast<double>(axis.to_display(t)) - static_cast<double>(r.t0)) /
           static_cast<double>(r.width());
  };
  const view::TimeRange zoomed =
      view::select_range(bounds, fraction(bounds, b1), fraction(bounds, b0), bounds);
  EXPECT_NEAR(fraction(zoomed, b0), 0.0, 1e-6);
  EXPECT_NEAR(fraction(zoomed, b1), 1.0, 1e-6);
  EXPECT_NEAR(fraction(zoomed, kT0 + 10 * kS + 150 * kMs), 0.5, 1e-6);
  // The middle of the view is the middle of the burst in time, too.
  EXPECT_NEAR(static_cast<double>(axis.to_time(zoomed.t0 + zoomed.width() / 2)),
              static_cast<double>(kT0 + 10 * kS + 150 * kMs), 1.0);
  // 10 columns of 10 ms: one message each, the last one at the exclusive end.
  std::vector<uint64_t> edges;
  for (int k = 0; k <= 10; ++k) edges.push_back(axis.to_time(zoomed.t0 + zoomed.width() * k / 10));
  std::vector<view::TimelineBucket> b;
  idx.bucket_edges(0, edges, b);
  ASSERT_EQ(b.size(), 10u);
  uint32_t total = 0;
  for (const auto& x : b) {
    EXPECT_EQ(x.count, 1u);
    total += x.count;
  }
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(b[0].first_entry, 11u);  // the second burst's first message
  // A selection thinner than the smallest zoom keeps its middle at the smallest width.
  const view::TimeRange thin = view::select_range(zoomed, 0.5, 0.5, bounds);
  EXPECT_EQ(thin.width(), view::kMinTimelineWidthNs);
}

TEST(TimelineZoom, RevealMovesOnlyWhenOffScreen) {
  const view::TimeRange bounds{0, 1'000'000};
  const view::TimeRange r{100'000, 200'000};
  EXPECT_EQ(view::reveal_range(r, 150'000, bounds), r);
  EXPECT_EQ(view::reveal_range(r, 700'000, bounds), (view::TimeRange{650'000, 750'000}));
  EXPECT_EQ(view::reveal_range(r, 990'000, bounds), (view::TimeRange{900'000, 1'000'000}));
}

// --- The entry a capture opens at ---------------------------------------------------------

TEST(TimelineOpen, FirstErrorIsSelected) {
  // 1 SET_OWNER with a reserved flag bit (a warning), 2 GET_VRING_BASE never answered before the
  // next request (an error): the capture opens at the error, not at the earlier warning.
  Store s;
  s.append(note(RecordKind::Connect, kT0));
  s.append(rec(test::message(test::request_number("SET_OWNER"), 0x101), Direction::ToBackend,
               kT0 + 1 * kMs));
  s.append(rec(test::request("GET_VRING_BASE", test::vring_state(0, 0)), Direction::ToBackend,
               kT0 + 2 * kMs));
  s.append(rec(test::request("SET_VRING_KICK", test::vring_index_fd(0, true)), Direction::ToBackend,
               kT0 + 3 * kMs));
  s.finish();
  ASSERT_EQ(s.entry(1).worst, Severity::Warning);
  ASSERT_EQ(s.entry(2).worst, Severity::Error);
  EXPECT_EQ(view::first_problem(s), 2u);

  // Only the warning: the capture opens there.
  Store warned;
  warned.append(
      rec(test::message(test::request_number("SET_OWNER"), 0x101), Direction::ToBackend, kT0));
  warned.finish();
  EXPECT_EQ(view::first_problem(warned), 0u);

  Store clean;
  clean.append(rec(test::request("GET_FEATURES"), Direction::ToBackend, kT0));
  clean.append(
      rec(test::reply("GET_FEATURES", test::u64_payload(0)), Direction::ToFrontend, kT0 + kMs));
  EXPECT_EQ(view::first_problem(clean), kNoEntry);
}

// --- Lifecycle row -------------------------------------------------------------------------

TEST(TimelineLifecycle, StagesFromTheCheckersDerivation) {
  EXPECT_EQ(view::lifecycle_label(0), "reset");
  EXPECT_EQ(view::lifecycle_label(0x1), "ACKNOWLEDGE");
  EXPECT_EQ(view::lifecycle_label(0x3), "DRIVER");
  EXPECT_EQ(view::lifecycle_label(0xb), "FEATURES_OK");
  EXPECT_EQ(view::lifecycle_label(0xf), "DRIVER_OK");
  EXPECT_EQ(view::lifecycle_label(0x4f), "NEEDS_RESET");
  EXPECT_EQ(view::lifecycle_label(0x80), "FAILED");

  // SET_FEATURES implies FEATURES_OK (STATUS not negotiated); the device says NEEDS_RESET in a
  // GET_STATUS reply; RESET_DEVICE returns it to 0.
  const auto F = Direction::ToBackend, B = Direction::ToFrontend;
  Store s;
  s.append(note(RecordKind::Connect, kT0));                        // 0
  s.append(rec(test::request("GET_FEATURES"), F, kT0 + 1 * kMs));  // 1
  s.append(rec(test::reply("GET_FEATURES", test::u64_payload(1ull << 32)), B, kT0 + 2 * kMs));
  s.append(rec(test::request("SET_FEATURES", test::u64_payload(1ull << 32)), F,
               kT0 + 3 * kMs));                                                         // 3
  s.append(rec(test::request("GET_STATUS"), F, kT0 + 4 * kMs));                         // 4
  s.append(rec(test::reply("GET_STATUS", test::u64_payload(0x4f)), B, kT0 + 5 * kMs));  // 5
  s.append(rec(test::request("RESET_DEVICE"), F, kT0 + 6 * kMs));                       // 6
  s.append(rec(test::request("GET_FEATURES"), F, kT0 + 9 * kMs));                       // 7
  s.finish();
  const auto spans = view::session_lifecycle(s, 0);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].entry, 3u);
  EXPECT_EQ(spans[0].label, "FEATURES_OK");
  EXPECT_TRUE(spans[0].inferred);
  EXPECT_EQ(spans[0].start, kT0 + 3 * kMs);
  EXPECT_EQ(spans[0].end, kT0 + 5 * kMs);
  EXPECT_EQ(spans[1].entry, 5u);
  EXPECT_EQ(spans[1].label, "NEEDS_RESET");
  EXPECT_FALSE(spans[1].inferred);
  EXPECT_EQ(spans[2].entry, 6u);
  EXPECT_EQ(spans[2].label, "reset");
  EXPECT_EQ(spans[2].end, kT0 + 9 * kMs);  // the session's last record
  EXPECT_TRUE(view::session_lifecycle(s, 7).empty());
}

}  // namespace
}  // namespace vhs
