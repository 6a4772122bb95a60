#include "proxy/exercise/blk_bench.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

#include "proxy/exercise/bench_stats.hpp"

namespace vhs::exercise {
namespace {

using Clock = std::chrono::steady_clock;

ChainRequest read_chain(uint64_t sector, uint32_t bytes) {
  std::vector<uint8_t> header(16, 0);  // VIRTIO "Device Operation": type 0 = IN (read)
  std::memcpy(header.data() + 8, &sector, 8);
  return ChainRequest{{std::move(header)}, {bytes, 1}};
}

BenchFigure run_one(WorkloadContext& ctx, unsigned queue, unsigned depth, uint32_t bytes,
                    std::chrono::milliseconds each) {
  BenchFigure f;
  f.queue = queue;
  f.depth = depth;
  f.block_size = bytes;
  uint64_t capacity = 0;
  if (ctx.config.size() >= 8) std::memcpy(&capacity, ctx.config.data(), 8);
  const uint64_t span = capacity > 0 ? std::min<uint64_t>(capacity, 1u << 21) : 2048;
  const uint64_t step = bytes / 512;
  uint64_t next_sector = 0;
  auto next = [&] {
    const uint64_t s = next_sector;
    next_sector = (next_sector + step) % (span > step ? span - step : 1);
    return read_chain(s, bytes);
  };
  std::unordered_map<uint64_t, Clock::time_point> posted;
  std::vector<double> latencies;
  auto post_one = [&]() -> bool {
    const ChainRequest c = next();
    auto t = ctx.io.post(queue, std::span<const ChainRequest>(&c, 1));
    if (!t) {
      f.error = t.error;
      return false;
    }
    posted[t.value->front()] = Clock::now();
    return true;
  };
  const auto start = Clock::now();
  for (unsigned i = 0; i < depth; ++i)
    if (!post_one()) return f;
  while (true) {
    auto used = ctx.io.wait_used(queue, 1, ctx.timeout);
    const auto now = Clock::now();
    if (!used) {
      f.error = used.error;
      return f;
    }
    for (const ChainCompletion& c : *used.value) {
      auto it = posted.find(c.token);
      if (it != posted.end()) {
        latencies.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
        posted.erase(it);
      }
      if (c.written.empty() || c.written.back().empty() || c.written.back()[0] != 0) {
        f.error = "a read completed with a status other than OK";
        return f;
      }
    }
    if (now - start >= each) break;
    if (!post_one()) return f;
  }
  // Drain what is still in flight so the next run starts empty.
  if (!posted.empty()) {
    auto rest = ctx.io.wait_used(queue, posted.size(), ctx.timeout);
    if (!rest) f.error = rest.error;
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  f.requests = latencies.size();
  f.iops = per_second(f.requests, f.seconds);
  f.mib_per_s = f.iops * bytes / (1024.0 * 1024.0);
  const LatencyPercentiles l = summarize_latencies(latencies);
  f.p50_us = l.p50_us;
  f.p99_us = l.p99_us;
  f.p999_us = l.p999_us;
  return f;
}

}  // namespace

std::vector<BenchFigure> run_blk_bench(WorkloadContext& ctx, std::chrono::milliseconds each) {
  std::vector<BenchFigure> out;
  for (unsigned depth : {1u, 32u})
    for (uint32_t bytes : {4096u, 65536u})
      for (unsigned q = 0; q < ctx.io.queue_count(); ++q) {
        if (depth * 2 > ctx.io.queue_size(q)) continue;  // two descriptors per read
        out.push_back(run_one(ctx, q, depth, bytes, each));
        if (!out.back().error.empty()) return out;
      }
  return out;
}

std::string describe_bench_figure(const BenchFigure& f) {
  std::string s = fmt::format(
      "bench: queue {} read qd {:>2} bs {:>2}k: {:>8.0f} IOPS {:>8.1f} MiB/s  latency p50 {:.1f} "
      "µs p99 {:.1f} µs p99.9 {:.1f} µs ({} reads in {:.2f} s)",
      f.queue, f.depth, f.block_size / 1024, f.iops, f.mib_per_s, f.p50_us, f.p99_us, f.p999_us,
      f.requests, f.seconds);
  if (!f.error.empty()) s += " — stopped: " + f.error;
  return s;
}

}  // namespace vhs::exercise
