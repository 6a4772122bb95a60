// Plots view-model (app/common/view_plots): event and level series, rates over the timeline's
// pixel columns, how far a used index moved (split and packed, wrapping), and the series built
// from a store: completions and in-flight depth from ring states, kicks and calls from notify
// records, reply latency per request kind; checked against numbers worked out by hand from the
// shipped captures' ring states.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "app/common/view_plots.hpp"
#include "captures/model/store.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/message_builder.hpp"

namespace vhs {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kS = 1000 * kMs;
constexpr uint64_t kT0 = 1000 * kS;

TEST(PlotSeries, EventCountsAndRates) {
  view::EventSeries s;
  s.add(kT0 + 100 * kMs, 3);
  s.add(kT0 + 600 * kMs, 2);
  s.add(kT0 + 2500 * kMs, 5);
  s.add(kT0 + 300 * kMs, 1);  // out of order: kept sorted
  EXPECT_EQ(s.times, (std::vector<uint64_t>{kT0 + 100 * kMs, kT0 + 300 * kMs, kT0 + 600 * kMs,
                                            kT0 + 2500 * kMs}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 4, 6, 11}));
  EXPECT_EQ(s.total(), 11u);
  EXPECT_EQ(s.count_between(kT0, kT0 + kS), 6u);
  EXPECT_EQ(s.count_between(kT0 + 300 * kMs, kT0 + 600 * kMs), 1u);  // [t0, t1)
  EXPECT_EQ(s.count_between(kT0 + 3 * kS, kT0 + 4 * kS), 0u);
  // Over 2 s: 6 + 0 events in [0, 2 s) = 3/s.
  EXPECT_DOUBLE_EQ(view::rate_per_second(s, kT0, kT0 + 2 * kS), 3.0);
  // A 10 ms column is averaged over the surrounding second: [2.0 s, 3.0 s) holds the 5.
  EXPECT_DOUBLE_EQ(view::rate_per_second(s, kT0 + 2495 * kMs, kT0 + 2505 * kMs), 5.0);
}

TEST(PlotSeries, LevelHoldsUntilTheNextPoint) {
  view::StepSeries s;
  s.add(kT0 + 1 * kS, 4);
  s.add(kT0 + 2 * kS, 1);
  s.add(kT0 + 3 * kS, 7);
  EXPECT_FALSE(s.max_between(kT0, kT0 + 500 * kMs).has_value());     // before the first sample
  EXPECT_EQ(s.max_between(kT0 + 1500 * kMs, kT0 + 1600 * kMs), 4u);  // held from 1 s
  EXPECT_EQ(s.max_between(kT0 + 1500 * kMs, kT0 + 2500 * kMs), 4u);
  EXPECT_EQ(s.max_between(kT0 + 2 * kS, kT0 + 2500 * kMs), 1u);
  EXPECT_EQ(s.max_between(kT0, kT0 + 10 * kS), 7u);
  EXPECT_EQ(s.max_between(kT0 + 9 * kS, kT0 + 10 * kS), 7u);  // the last level holds
}

TEST(PlotSeries, UsedIndexAdvance) {
  EXPECT_EQ(view::used_advance(10, 14, false, 128), 4u);
  EXPECT_EQ(view::used_advance(65530, 4, false, 128), 10u);       // split: modulo 2^16
  EXPECT_EQ(view::used_advance(2564, 0, false, 128), 0u);         // the ring started over
  EXPECT_EQ(view::used_advance(5, 9, true, 64), 4u);              // packed, same lap
  EXPECT_EQ(view::used_advance(60, 0x8000 | 4, true, 64), 8u);    // packed, next lap
  EXPECT_EQ(view::used_advance(60, 0x8000 | 60, true, 64), 64u);  // exactly one lap
  EXPECT_EQ(view::used_advance(60, 0x8000 | 61, true, 64), 0u);   // more than a lap: unknown
}

TEST(PlotSeries, LatencyMaxPerColumn) {
  view::LatencySeries s;
  s.times = {kT0 + 1 * kMs, kT0 + 2 * kMs, kT0 + 9 * kMs};
  s.latency_ns = {50'000, 900'000, 20'000};
  EXPECT_EQ(s.max_between(kT0, kT0 + 5 * kMs), 900'000u);
  EXPECT_EQ(s.max_between(kT0 + 5 * kMs, kT0 + 10 * kMs), 20'000u);
  EXPECT_FALSE(s.max_between(kT0 + 10 * kMs, kT0 + 20 * kMs).has_value());
}

Record record(RecordKind kind, uint64_t t, std::vector<uint8_t> bytes) {
  Record r;
  r.kind = kind;
  r.session = 1;
  r.timestamp_ns = t;
  r.bytes = std::move(bytes);
  return r;
}

Record ring_state(uint32_t queue, uint16_t avail, uint16_t used, uint64_t t) {
  RingSnapshot snap;
  snap.queue = queue;
  snap.size = 128;
  snap.indices_ok = true;
  snap.avail_idx = avail;
  snap.used_idx = used;
  snap.inflight = static_cast<uint16_t>(avail - used);
  return record(RecordKind::RingState, t, encode_ring_snapshot(snap));
}

Record message(std::vector<uint8_t> bytes, Direction dir, uint64_t t) {
  Record r = record(RecordKind::Message, t, std::move(bytes));
  r.direction = dir;
  return r;
}

// Every series from a small hand-made store.
TEST(PlotsModel, SeriesFromRingStatesNotifiesAndReplies) {
  Store s;
  s.append(record(RecordKind::Connect, kT0, {'x'}));
  s.append(message(test::request("GET_FEATURES"), Direction::ToBackend, kT0 + 1 * kMs));
  s.append(message(test::reply("GET_FEATURES", test::u64_payload(0)), Direction::ToFrontend,
                   kT0 + 4 * kMs));  // answered after 3 ms
  s.append(ring_state(0, 10, 8, kT0 + 100 * kMs));
  s.append(record(RecordKind::Notify, kT0 + 120 * kMs,
                  encode_notify({NotifySource::Kick, NotifyEvent::Relayed, 0, 3})));
  s.append(record(RecordKind::Notify, kT0 + 130 * kMs,
                  encode_notify({NotifySource::Kick, NotifyEvent::Released, 0, 3})));
  s.append(record(RecordKind::Notify, kT0 + 140 * kMs,
                  encode_notify({NotifySource::Call, NotifyEvent::Relayed, 0, 1})));
  s.append(ring_state(0, 12, 11, kT0 + 150 * kMs));
  s.append(ring_state(0, 12, 12, kT0 + 200 * kMs));
  view::PlotsModel m;
  while (!m.update(s, 2)) {
  }
  ASSERT_EQ(m.queues().size(), 1u);
  const view::QueuePlots& q = m.queues().begin()->second;
  EXPECT_EQ(m.queues().begin()->first, (view::PlotQueueKey{0, 0}));
  EXPECT_EQ(q.in_flight.values, (std::vector<uint32_t>{2, 1, 0}));
  // The first ring state is the starting point: 3 then 1 buffers used after it.
  EXPECT_EQ(q.completions.times, (std::vector<uint64_t>{kT0 + 150 * kMs, kT0 + 200 * kMs}));
  EXPECT_EQ(q.completions.total(), 4u);
  EXPECT_EQ(q.kicks.total(), 3u);  // the released kicks are the same writes
  EXPECT_EQ(q.calls.total(), 1u);
  ASSERT_EQ(m.latencies().count("GET_FEATURES"), 1u);
  EXPECT_EQ(m.latencies().at("GET_FEATURES").latency_ns, (std::vector<uint64_t>{3 * kMs}));
  EXPECT_EQ(m.latencies().at("GET_FEATURES").times, (std::vector<uint64_t>{kT0 + 4 * kMs}));
  m.invalidate();
  EXPECT_EQ(m.indexed(), 0u);
  EXPECT_TRUE(m.queues().empty());
}

// The shipped hang capture's ring states (queue 0; `vhostscope dump` lists them): the firmware
// uses 1 buffer (#33), Linux restarts the ring at 0 (#45), then the guest's I/O loop moves the used
// index to 2564 by #72, the last sample, with one READ in flight that never completes.
TEST(PlotsModel, ShippedHangCaptureByHand) {
  const std::string path =
      (std::filesystem::path(VHS_SOURCE_DIR) / "captures" / "samples" / "blk-hang.pcap").string();
  Store s;
  std::string warning, error;
  ASSERT_TRUE(load_capture(path, s, warning, error)) << error;
  view::PlotsModel m;
  m.update(s, SIZE_MAX);
  ASSERT_EQ(m.queues().size(), 1u);
  const view::QueuePlots& q = m.queues().at({0, 0});
  auto at = [&](size_t record) { return s.entry(record - 1).timestamp_ns; };
  ASSERT_EQ(s.entry(71).kind, RecordKind::RingState);

  EXPECT_EQ(q.in_flight.times.size(), 31u);  // #30, #32, #33, #37, #45, #47 ... #72
  EXPECT_EQ(q.completions.total(), 1u + 2564u);
  // The last second up to #72: from #53 (used 84) back to #52's 45, up to 2564: 2564 - 45.
  EXPECT_DOUBLE_EQ(view::rate_per_second(q.completions, at(72) + 1 - kS, at(72) + 1), 2519.0);
  // A 10 ms column at #72 averages over the second around it: #62 ... #72, 2564 - 468 (#61).
  EXPECT_DOUBLE_EQ(view::rate_per_second(q.completions, at(72) - 5 * kMs, at(72) + 5 * kMs),
                   2096.0);
  // Between #63 (used 804) and #64 (1035): 231 in the column that holds #64.
  EXPECT_EQ(q.completions.count_between(at(63) + 1, at(64) + 1), 231u);
  // The boot's silence (#37 at 20.3 s follows #33 at 0.9 s): nothing completes, nothing in flight.
  EXPECT_EQ(q.completions.count_between(at(33) + 1, at(37) + 1), 0u);
  EXPECT_EQ(q.in_flight.max_between(at(33) + 1, at(37)), 0u);
  // In flight: 1 at #48, #50, #52, #56, #58 and #72; the last level holds to the capture's end.
  EXPECT_EQ(q.in_flight.max_between(at(47), at(48)), 0u);
  EXPECT_EQ(q.in_flight.max_between(at(48), at(49)), 1u);
  EXPECT_EQ(q.in_flight.max_between(at(59), at(72)), 0u);
  EXPECT_EQ(q.in_flight.max_between(at(72), s.last_timestamp() + 1), 1u);
  // GET_VRING_BASE: the firmware's stop was answered, the hang's never was.
  ASSERT_EQ(m.latencies().count("GET_VRING_BASE"), 1u);
  EXPECT_EQ(m.latencies().at("GET_VRING_BASE").times.size(), 1u);
  EXPECT_LT(m.latencies().at("GET_VRING_BASE").times[0], at(37));
  EXPECT_GE(m.latencies().count("GET_FEATURES"), 1u);
}

}  // namespace
}  // namespace vhs
