// The I/O probe of the lifecycle scenarios: the smallest I/O that shows a device's queues work,
// and I/O left in flight across a ring stop. It works per probe unit, the queues that only move
// data together: a blk or fs queue alone; a virtio-net receive queue and its transmit queue,
// since a receive buffer completes only when a frame arrives (VIRTIO "Network Device",
// "Virtqueues": receiveqN is queue 2(N-1), transmitqN queue 2(N-1)+1). Each device's probe is a
// line of the workload table (workload_table.cpp), so scenarios never ask which device it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/exercise/driver_io.hpp"
#include "proxy/exercise/ring_driver.hpp"

namespace vhs::exercise {

struct ProbeContext {
  RingDriver& io;                // the scenarios stop rings under it, so it knows what is in flight
  uint64_t virtio_features = 0;  // as acked (net: the virtio_net_hdr size, mergeable buffers)
  std::chrono::milliseconds timeout{5000};
};

class IoProbe {
 public:
  virtual ~IoProbe() = default;

  virtual unsigned unit_count() const = 0;
  // The queues of `unit`, in queue order (the order the scenarios stop and start them).
  virtual std::vector<unsigned> queues(unsigned unit) const = 0;

  // One request through the unit, its completion checked: "" or what is wrong ("queue 0: ...").
  virtual std::string round_trip(unsigned unit) = 0;
  // Posts up to `count` requests on the unit without waiting, for its rings to be stopped
  // while they are in flight.
  virtual std::string put_in_flight(unsigned unit, size_t count) = 0;
  // After the unit's rings were started again: everything in flight on them (also what earlier
  // checks left there) completes exactly once and its content checks; then nothing is in flight.
  virtual std::string settle_in_flight(unsigned unit) = 0;
};

using ProbeRequestFn = ChainRequest (*)();
using ProbeCheckFn = std::string (*)(const ChainCompletion&);

// The probe of a device whose every queue completes a request on its own (blk, fs): one unit per
// queue, `request` the chain, `check` its completion ("" when good).
std::unique_ptr<IoProbe> make_chain_probe(const ProbeContext& ctx, ProbeRequestFn request,
                                          ProbeCheckFn check);

}  // namespace vhs::exercise
