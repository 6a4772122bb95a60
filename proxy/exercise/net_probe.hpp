// The lifecycle I/O probe of virtio-net (io_probe.hpp): per queue pair, receive buffers on the
// receive queue and frames on the transmit queue that a reflecting back-end (dpdk-testpmd in `io`
// or `macswap` forwarding) sends back, each checked byte for byte (MACs swapped or not).
//
// A receive buffer completes only when a frame arrives, and a forwarder may drop frames while
// its port is down (testpmd takes its port down at GET_VRING_BASE, where DPDK's lib/vhost calls
// its destroy_device callback and answers last_avail_idx, and up again when the rings are
// started). So the probe does not count frames: it sends frames until every receive buffer
// in flight on the pair was filled, and fails when none is filled for the timeout, when a frame
// comes back twice, or when one comes back changed. Receive buffers posted and not yet filled are
// legitimately in flight across GET_VRING_BASE/SET_VRING_BASE (spec "Ring states"): after the
// restart the back-end must fill them before anything posted later.
#pragma once

#include <memory>

#include "proxy/exercise/io_probe.hpp"

namespace vhs::exercise {

std::unique_ptr<IoProbe> make_net_probe(const ProbeContext& ctx);

}  // namespace vhs::exercise
