// What the exercise engine and its lifecycle scenarios need from the virtio driver of its rings,
// whichever ring layout was negotiated (VIRTIO "Split Virtqueues" or "Packed Virtqueues"): laying
// a queue out, the addresses and notifiers SET_VRING_* carry, the vring base to start from, ring
// state samples for the capture, and starting over after a reset. The workloads see only DriverIo.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "decoders/vhost_user/payloads.hpp"
#include "proxy/exercise/driver_io.hpp"
#include "proxy/exercise/guest_ram.hpp"

namespace vhs::exercise {

// Where a queue lives and how it is notified: what SET_VRING_NUM/ADDR/KICK/CALL carry. For a
// packed ring desc_user_addr is the descriptor ring, avail_user_addr the driver and
// used_user_addr the device event suppression area (spec "Vring address description").
struct QueueSetup {
  uint16_t size = 0;
  VringAddrValue addr;  // UVAs (our own mapping), flags 0
  int kick_fd = -1;
  int call_fd = -1;
};

class RingDriver : public DriverIo {
 public:
  // Lays out queue `queue_count()` in `ring_arena` with data buffers from `data_arena`.
  virtual bool add_queue(uint16_t size, Arena& ring_arena, Arena data_arena,
                         std::string& error) = 0;
  virtual const QueueSetup& setup(unsigned queue) const = 0;

  // Where a ring that starts empty resumes, in the low 16 bits of the vring base encoding (spec
  // "Ring states"; packed rings: "Vring descriptor indices for packed virtqueues").
  virtual uint16_t fresh_vring_base() const = 0;
  // The SET_VRING_BASE num that resumes a ring at `resume` (fresh_vring_base(), or the low 16
  // bits of what GET_VRING_BASE returned).
  virtual uint32_t resume_vring_base(uint16_t resume) const = 0;
  // Why `base` (a GET_VRING_BASE reply) cannot be where the back-end resumes, given what is in
  // flight on `queue`; empty when it can be.
  virtual std::string vring_base_fault(unsigned queue, uint32_t base) const = 0;

  // Kicks once more: a ring started again with chains still unfetched needs the device to look.
  virtual void kick(unsigned queue) = 0;
  virtual size_t in_flight(unsigned queue) const = 0;

  // Ring state as the proxy would sample it, written to the capture.
  virtual void record_snapshot(unsigned queue, std::optional<uint32_t> vring_base = std::nullopt) = 0;

  // Buffers of later chains on `queue` come from `arena` (memory hot add); the old arena back.
  virtual Arena swap_data_arena(unsigned queue, Arena arena) = 0;
  virtual const Arena& data_arena(unsigned queue) const = 0;
  // Where the device writes what it used (split: the used ring; packed: the descriptor ring),
  // the log_guest_addr of dirty logging (spec "Migration", "Dirty pages log").
  virtual uint64_t used_ring_gpa(unsigned queue) const = 0;

  // Forgets every chain and zeroes the rings: the device was reset, so the rings start over
  // (VIRTIO "Device Reset"). New kick/call eventfds are made.
  virtual bool reset_queues(std::string& error) = 0;
};

}  // namespace vhs::exercise
