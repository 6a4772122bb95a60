// The virtio-net workload of `vhostscope exercise`: frames sent on the transmit queue must come
// back on the receive queue byte for byte (VIRTIO "Network Device": queue 0 is receiveq1,
// queue 1 transmitq1). It needs a back-end that reflects what it is sent, as dpdk-testpmd does
// in `io` forwarding (frames unchanged) or `macswap` (source and destination MAC exchanged).
// Checks:
//   net.tx-rx      frames of 60..1514 bytes, each in one receive buffer large enough for it;
//   net.mrg-rxbuf  the same frames into small receive buffers, so the device merges several
//                  per frame and says how many in num_buffers (Unsupported without MRG_RXBUF).
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/exercise/check_outcome.hpp"
#include "proxy/exercise/net_frames.hpp"

namespace vhs::exercise {

// What the back-end does to a frame before it sends it back.
enum class NetEcho {
  Either,      // whatever the first returned frame shows; every later frame must agree
  Unchanged,   // testpmd --forward-mode=io
  MacSwapped,  // testpmd --forward-mode=macswap
};

struct NetWorkloadOptions {
  NetEcho echo = NetEcho::Either;
  // One frame per entry, each with its own sequence number.
  std::vector<uint32_t> frame_sizes = {60, 64, 128, 255, 256, 511, 512, 1000, 1024, 1500, 1514};
  // Writable bytes of each receive buffer in net.mrg-rxbuf (header included).
  uint32_t mrg_buffer_size = 256;
};

std::vector<CheckOutcome> run_net_workload(WorkloadContext& ctx);
std::vector<CheckOutcome> run_net_workload(WorkloadContext& ctx, const NetWorkloadOptions& options);

// A switch or forwarder may drop frames until its port is up: sends probe frames on `tx_queue`
// (one receive buffer of `buffer_bytes` posted on `rx_queue` for them) until the newest comes
// back. Empty when the port forwards, else why not; leaves no receive buffer posted on success.
std::string wait_until_net_forwarding(WorkloadContext& ctx, const NetFraming& framing,
                                      unsigned rx_queue, unsigned tx_queue, uint32_t buffer_bytes);

}  // namespace vhs::exercise
