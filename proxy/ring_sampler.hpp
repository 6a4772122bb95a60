// Live virtqueue sampling inside the relay: follows the front-end's memory and vring setup
// (SET_MEM_TABLE/ADD_MEM_REG/REM_MEM_REG, SET_FEATURES, SET_VRING_NUM/ADDR/BASE/KICK,
// GET_VRING_BASE, resets), keeps the guest memory mapped read-only (GuestMapping) and, while a
// ring is started, takes RingSnapshots through the pure decoders. A RingState record payload is
// produced only when a ring's snapshot changed. Runs on the relay thread; the relay calls
// sample() from its timer and after every message that touches a ring.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "proxy/guest_mapping.hpp"

namespace vhs {

class RingSampler {
 public:
  // Where results go (the relay turns them into records of the current session).
  class Output {
   public:
    virtual ~Output() = default;
    virtual void ring_state(std::span<const uint8_t> payload) = 0;  // encoded RingSnapshot
    virtual void ring_error(std::string_view text) = 0;             // unmapped ring, mmap failure
  };

  // `device` Unknown: inferred from a GET_CONFIG reply (blk config), else buffers stay generic.
  explicit RingSampler(DeviceKind device = DeviceKind::Unknown);

  // Every front-end channel message, requests (ToBackend) and replies (ToFrontend), while its fds
  // are still open. Cheap for messages that are not about memory or rings. True when ring or
  // memory state changed (the caller re-checks any_started() for its timer).
  bool on_message(Direction direction, std::span<const uint8_t> bytes, std::span<const int> fds,
                  Output& out);
  // Samples every started ring; emits only changes.
  void sample(Output& out);
  bool any_started() const;
  // Session over: unmaps everything, forgets every ring.
  void reset();

  const GuestMapping& memory() const { return memory_; }

 private:
  struct Ring {
    uint32_t num = 0;
    bool has_addr = false;
    VringAddrValue addr;
    std::optional<uint32_t> base;  // from SET_VRING_BASE / GET_VRING_BASE reply
    bool base_current = false;     // the back-end has not moved since `base` was given
    bool started = false;
    bool loc_valid = false;
    RingLocation loc;
    bool have_last = false;
    RingSnapshot last;
    bool fault_reported = false;
  };

  Ring* ring(uint32_t index);
  void sample_ring(uint32_t index, Ring& r, Output& out);
  void invalidate_all();

  DeviceKind device_;
  bool device_from_user_;
  uint64_t features_ = 0;
  GuestMapping memory_;
  std::vector<Ring> rings_;
  RingScratch scratch_;
  RingSnapshot snap_, retake_;
  std::vector<uint8_t> encoded_;
  // Request numbers, from the registry once.
  uint32_t set_features_, set_mem_table_, add_mem_reg_, rem_mem_reg_, set_vring_num_,
      set_vring_addr_, set_vring_base_, get_vring_base_, set_vring_kick_, reset_owner_,
      reset_device_, get_config_;
};

}  // namespace vhs
