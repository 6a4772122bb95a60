// The arithmetic of `exercise --bench` (percentiles, rates, compared bytes) and the net bench
// against the in-process fake virtio-net (support/fake_driver_io): every frame it sends back is
// counted and compared, a dropped frame is counted lost, a corrupted one mismatched. Nothing here
// asserts a speed: the fake completes everything synchronously.
#include <chrono>
#include <vector>

#include <gtest/gtest.h>

#include "proxy/exercise/bench_stats.hpp"
#include "proxy/exercise/net_bench.hpp"
#include "proxy/exercise/net_frames.hpp"
#include "support/fake_driver_io.hpp"

namespace vhs::test {
namespace {

using namespace std::chrono_literals;
using exercise::NetBenchFigure;

constexpr uint64_t kVersion1 = 1ull << 32;
constexpr uint64_t kMrgRxbuf = 1ull << 15;

// ---- arithmetic ----

TEST(BenchStats, PercentileIsTheSampleAtFloorOfPTimesN) {
  std::vector<double> s;
  for (int i = 1; i <= 1000; ++i) s.push_back(i);
  EXPECT_EQ(exercise::percentile(s, 0.0), 1);
  EXPECT_EQ(exercise::percentile(s, 0.5), 501);   // index 500
  EXPECT_EQ(exercise::percentile(s, 0.99), 991);  // index 990
  EXPECT_EQ(exercise::percentile(s, 0.999), 1000);
  EXPECT_EQ(exercise::percentile(s, 1.0), 1000);  // the last, not one past it
  EXPECT_EQ(exercise::percentile({}, 0.5), 0);
  EXPECT_EQ(exercise::percentile({7}, 0.999), 7);
}

TEST(BenchStats, SummarizeSortsFirst) {
  std::vector<double> s = {9, 1, 5, 3, 7, 2, 8, 4, 6, 10};
  const auto l = exercise::summarize_latencies(s);
  EXPECT_EQ(l.p50_us, 6);
  EXPECT_EQ(l.p99_us, 10);
  EXPECT_EQ(l.p999_us, 10);
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
}

TEST(BenchStats, RatesPerSecondAndGigabits) {
  EXPECT_DOUBLE_EQ(exercise::per_second(1000, 0.5), 2000);
  EXPECT_DOUBLE_EQ(exercise::per_second(1000, 0), 0);
  // 1 M frames of 1514 bytes in 1 s: 12.112 Gbit/s.
  EXPECT_DOUBLE_EQ(exercise::gbit_per_second(1'000'000, 1514, 1.0), 12.112);
  EXPECT_DOUBLE_EQ(exercise::gbit_per_second(1'000'000, 60, 2.0), 0.24);
}

TEST(BenchStats, MismatchedBytesCountsDifferencesAndTheLengthGap) {
  const std::vector<uint8_t> a = {1, 2, 3, 4};
  EXPECT_EQ(exercise::mismatched_bytes(a, a), 0u);
  EXPECT_EQ(exercise::mismatched_bytes(a, std::vector<uint8_t>{1, 9, 3, 9}), 2u);
  EXPECT_EQ(exercise::mismatched_bytes(a, std::vector<uint8_t>{1, 2}), 2u);
  EXPECT_EQ(exercise::mismatched_bytes(std::vector<uint8_t>{}, a), 4u);
}

// ---- the net bench against the fake device ----

struct BenchRun {
  std::vector<NetBenchFigure> figures;
  size_t sent_back = 0;
};

BenchRun bench_net(uint64_t features, FakeNetOptions fake, unsigned queues = 2) {
  fake.header_size = 12;
  fake.mergeable = (features & kMrgRxbuf) != 0;
  FakeNetDevice device(fake);
  FakeDriverIo io(queues, 256, device);
  exercise::WorkloadContext ctx{io, features, {}, {}};
  BenchRun run;
  run.figures = exercise::run_net_bench(ctx, 5ms);
  run.sent_back = device.frames_sent_back();
  return run;
}

std::string describe(const std::vector<NetBenchFigure>& figures) {
  std::string text;
  for (const auto& f : figures) text += exercise::describe_net_bench_figure(f) + "\n";
  return text;
}

TEST(NetBench, EveryFrameSizeComesBackCountedAndCompared) {
  for (uint64_t features : {kVersion1, kVersion1 | kMrgRxbuf}) {
    const BenchRun run = bench_net(features, {});
    ASSERT_EQ(run.figures.size(), exercise::kNetBenchFrameSizes.size()) << describe(run.figures);
    for (size_t i = 0; i < run.figures.size(); ++i) {
      const NetBenchFigure& f = run.figures[i];
      SCOPED_TRACE(describe(run.figures));
      EXPECT_EQ(f.error, "");
      EXPECT_EQ(f.frame_size, exercise::kNetBenchFrameSizes[i]);
      EXPECT_EQ(f.ring_bytes, f.frame_size - 4);
      EXPECT_GT(f.sent, 0u);
      EXPECT_EQ(f.received, f.sent);
      EXPECT_EQ(f.lost, 0u);
      EXPECT_EQ(f.mismatched_bytes, 0u);
      EXPECT_EQ(f.unexpected, 0u);
      EXPECT_GT(f.rx_pps, 0);
      EXPECT_DOUBLE_EQ(f.tx_gbit_per_s, f.tx_pps * f.ring_bytes * 8 / 1e9);
      EXPECT_EQ(exercise::net_bench_figure_fault(f), "");
    }
  }
}

TEST(NetBench, MacswapIsRecognisedAndNotCountedAsMismatch) {
  FakeNetOptions fake;
  fake.macswap = true;
  const BenchRun run = bench_net(kVersion1, fake);
  ASSERT_FALSE(run.figures.empty());
  for (const auto& f : run.figures) EXPECT_EQ(f.mismatched_bytes, 0u) << describe(run.figures);
}

TEST(NetBench, ADroppedFrameIsLostAndACorruptedOneMismatched) {
  FakeNetOptions fake;
  fake.drop_seqs = {exercise::kNetBenchFirstSeq + 3};
  fake.corrupt_seq = exercise::kNetBenchFirstSeq + 5;
  fake.corrupt_byte = 40;
  const BenchRun run = bench_net(kVersion1, fake);
  ASSERT_FALSE(run.figures.empty());
  const NetBenchFigure& f = run.figures.front();
  EXPECT_EQ(f.error, "") << describe(run.figures);
  EXPECT_EQ(f.lost, 1u) << describe(run.figures);
  EXPECT_EQ(f.received, f.sent - 1);
  EXPECT_EQ(f.mismatched_frames, 1u);
  EXPECT_EQ(f.mismatched_bytes, 1u);
  EXPECT_EQ(exercise::net_bench_figure_fault(f),
            "pair 0, 64-byte frames: 1 frames came back with 1 bytes not as sent");
}

TEST(NetBench, APortThatNeverForwardsStopsWithTheProbesReason) {
  FakeNetOptions fake;
  for (uint32_t s = 0x70000000; s < 0x70000000 + 100; ++s) fake.drop_seqs.insert(s);
  const BenchRun run = bench_net(kVersion1, fake);
  ASSERT_EQ(run.figures.size(), 1u);
  EXPECT_NE(run.figures[0].error.find("no probe frame"), std::string::npos) << run.figures[0].error;
  EXPECT_NE(exercise::net_bench_figure_fault(run.figures[0]), "");
}

TEST(NetBench, OneQueueIsNoQueuePair) {
  const BenchRun run = bench_net(kVersion1, {}, 1);
  ASSERT_EQ(run.figures.size(), 1u);
  EXPECT_NE(run.figures[0].error.find("receiveq1 and transmitq1"), std::string::npos);
}

}  // namespace
}  // namespace vhs::test
