// The arithmetic of `exercise --bench`, shared by the blk and net benchmarks: latency
// percentiles (nearest rank over the sorted samples) and rates. Pure, so it is tested alone.
#pragma once

#include <cstdint>
#include <vector>

namespace vhs::exercise {

struct LatencyPercentiles {
  double p50_us = 0, p99_us = 0, p999_us = 0;
};

// The sample at index floor(p × n) of the n samples of `sorted` (ascending; p in 0..1, the
// last sample for p = 1); 0 when there are none.
double percentile(const std::vector<double>& sorted, double p);
// Sorts `samples_us` in place and takes p50, p99 and p99.9.
LatencyPercentiles summarize_latencies(std::vector<double>& samples_us);

// `count` per second over `seconds`; 0 when no time passed.
double per_second(uint64_t count, double seconds);
// Gigabits per second of `frames` frames of `frame_bytes` bytes each over `seconds`.
double gbit_per_second(uint64_t frames, uint32_t frame_bytes, double seconds);

}  // namespace vhs::exercise
