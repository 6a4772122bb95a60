// `exercise --bench` for virtio-blk: reads kept at a fixed queue depth on each queue for a while,
// giving IOPS, throughput and latency percentiles (post to completion seen by the driver), at
// queue depth 1 and 32 and block size 4 KiB and 64 KiB: a back-end author's fio, without a VM.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/exercise/check_outcome.hpp"

namespace vhs::exercise {

struct BenchFigure {
  unsigned queue = 0;
  unsigned depth = 0;
  uint32_t block_size = 0;
  uint64_t requests = 0;
  double seconds = 0;
  double iops = 0;
  double mib_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  std::string error;  // set when the run stopped early
};

// Each combination runs for `each` on every queue in turn.
std::vector<BenchFigure> run_blk_bench(WorkloadContext& ctx, std::chrono::milliseconds each);

std::string describe_bench_figure(const BenchFigure& f);

}  // namespace vhs::exercise
