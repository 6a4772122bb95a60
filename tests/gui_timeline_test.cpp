// Timeline view-model (app/common/view_timeline): lane assignment (events, control, per queue,
// back-end channel; answers follow their request), bucket counts and severity marks, nearest
// entry, hang spans, and the zoom / pan arithmetic.
#include <gtest/gtest.h>

#include <vector>

#include "app/common/view_timeline.hpp"
#include "captures/model/store.hpp"
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

}  // namespace
}  // namespace vhs
