#include "proxy/exercise/bench_stats.hpp"

#include <algorithm>

namespace vhs::exercise {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::clamp(p, 0.0, 1.0) * double(sorted.size());
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(rank))];
}

LatencyPercentiles summarize_latencies(std::vector<double>& samples_us) {
  std::sort(samples_us.begin(), samples_us.end());
  return {percentile(samples_us, 0.50), percentile(samples_us, 0.99),
          percentile(samples_us, 0.999)};
}

double per_second(uint64_t count, double seconds) {
  return seconds > 0 ? double(count) / seconds : 0;
}

double gbit_per_second(uint64_t frames, uint32_t frame_bytes, double seconds) {
  return per_second(frames, seconds) * frame_bytes * 8 / 1e9;
}

}  // namespace vhs::exercise
