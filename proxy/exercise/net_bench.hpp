// `exercise --bench` for virtio-net: frames kept in flight through a back-end that sends them
// back (dpdk-testpmd in `io` or `macswap` forwarding), per queue pair and frame size, giving
// packets/s and Gbit/s each way, the frames lost (sent, never back), every returned frame
// compared byte for byte, and latency percentiles (post on transmitq to completion seen on
// receiveq). The numbers a DPDK person quotes, without a VM.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/exercise/check_outcome.hpp"

namespace vhs::exercise {

// Frame sizes as RFC 2544 and DPDK count them: with the 4-byte FCS, which virtio does not carry,
// so the ring holds 60, 508 and 1514 bytes after the virtio_net_hdr.
inline constexpr std::array<uint32_t, 3> kNetBenchFrameSizes = {64, 512, 1518};
inline constexpr uint32_t kEthernetFcsBytes = 4;
// The bench numbers its frames from here, apart from the workload's and the probe's.
inline constexpr uint32_t kNetBenchFirstSeq = 0x40000000;

struct NetBenchFigure {
  unsigned queue_pair = 0;  // receiveq 2N, transmitq 2N+1
  uint32_t frame_size = 0;  // with the FCS (64, 512, 1518)
  uint32_t ring_bytes = 0;  // what one frame is on the ring: frame_size less the FCS
  unsigned window = 0;      // frames kept in flight
  uint64_t sent = 0;        // frames the device took from transmitq
  uint64_t received = 0;    // and gave back on receiveq
  uint64_t lost = 0;        // sent and not back by the end
  uint64_t unexpected = 0;  // received but not in flight: a duplicate or a frame never sent
  uint64_t mismatched_frames = 0, mismatched_bytes = 0;
  double seconds = 0;
  double tx_pps = 0, rx_pps = 0;  // frames per second each way
  // Of the ring bytes (no FCS, preamble or gap: what the back-end moved).
  double tx_gbit_per_s = 0, rx_gbit_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  std::string error;  // set when the run stopped early
};

// Each frame size runs for `each` on every queue pair in turn.
std::vector<NetBenchFigure> run_net_bench(WorkloadContext& ctx, std::chrono::milliseconds each);

std::string describe_net_bench_figure(const NetBenchFigure& f);
// Why the figure makes the bench check fail (an error, a mismatch, a duplicate, nothing back);
// empty when it does not.
std::string net_bench_figure_fault(const NetBenchFigure& f);

}  // namespace vhs::exercise
