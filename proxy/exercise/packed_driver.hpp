// The exercise engine as the virtio DRIVER of packed virtqueues (VIRTIO "Packed Virtqueues"): it
// writes descriptor chains into the descriptor ring with buffer ids and the AVAIL/USED bits of its
// wrap counter, kicks unless the device event suppression area says not to, waits on the call
// eventfd (asking for the call through the driver event suppression area) and reads used
// descriptors in ring order with the used wrap counter, checking each one (an id not in flight, a
// second completion of one buffer, a length beyond the buffer's writable bytes), and recycles
// descriptors, buffer ids and buffers.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/virtio/packed_ring.hpp"
#include "proxy/exercise/ring_driver.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {
struct RingSnapshot;  // decoders/virtio/ring_snapshot.hpp
}  // namespace vhs

namespace vhs::exercise {

class FrontendLink;

class PackedDriver final : public RingDriver {
 public:
  // `features`: the acked ones (RING_PACKED is implied; RING_EVENT_IDX makes the driver ask for
  // calls by descriptor position and honour the device's position for kicks). `indirect`: a
  // chain of two or more buffers is placed in an indirect table and takes one ring descriptor.
  PackedDriver(GuestRam& ram, FrontendLink& link, DeviceKind device, uint64_t features,
               bool indirect = false);

  bool add_queue(uint16_t size, Arena& ring_arena, Arena data_arena, std::string& error) override;
  const QueueSetup& setup(unsigned queue) const override { return queues_[queue].setup; }

  // Descriptor 0 with both wrap counters 1 (VIRTIO "Driver and Device Ring Wrap Counters").
  uint16_t fresh_vring_base() const override { return PackedPosition{}.encoded(); }
  // The used half (bits 16-31) equals the avail half: the back-end resumes with nothing fetched
  // and not used, as QEMU restarts a ring after GET_VRING_BASE.
  uint32_t resume_vring_base(uint16_t resume) const override {
    return uint32_t{resume} | (uint32_t{resume} << 16);
  }
  std::string vring_base_fault(unsigned queue, uint32_t base) const override;

  unsigned queue_count() const override { return static_cast<unsigned>(queues_.size()); }
  uint16_t queue_size(unsigned queue) const override { return queues_[queue].setup.size; }
  Outcome<std::vector<uint64_t>> post(unsigned queue,
                                      std::span<const ChainRequest> chains) override;
  Outcome<std::vector<ChainCompletion>> wait_used(unsigned queue, size_t count,
                                                  std::chrono::milliseconds timeout) override;
  uint64_t records_written() const override;

  void kick(unsigned queue) override;
  size_t in_flight(unsigned queue) const override { return queues_[queue].inflight.size(); }
  // The driver's next avail position and wrap counter (bit 15), and the next used one.
  PackedPosition next_avail(unsigned queue) const { return queues_[queue].next_avail; }
  PackedPosition next_used(unsigned queue) const { return queues_[queue].next_used; }
  // How many kicks post() and kick() wrote (post() skips one the device suppressed).
  uint64_t kicks(unsigned queue) const { return queues_[queue].kicks; }

  RingSnapshot snapshot(unsigned queue, std::optional<uint32_t> vring_base = std::nullopt) const;
  void record_snapshot(unsigned queue, std::optional<uint32_t> vring_base = std::nullopt) override;

  Arena swap_data_arena(unsigned queue, Arena arena) override {
    std::swap(queues_[queue].data, arena);
    return arena;
  }
  const Arena& data_arena(unsigned queue) const override { return queues_[queue].data; }
  uint64_t used_ring_gpa(unsigned queue) const override { return queues_[queue].ring; }

  bool reset_queues(std::string& error) override;

 private:
  struct InFlight {
    uint64_t token = 0;
    uint16_t ring_descs = 0;              // ring descriptors the buffer occupies
    std::vector<uint64_t> buffers;        // arena blocks (gpa)
    std::vector<uint64_t> writable_gpa;   // each writable buffer
    std::vector<uint32_t> writable_size;  // and its size
    uint64_t writable_total = 0;
  };
  struct Queue {
    QueueSetup setup;
    uint64_t ring = 0, driver_area = 0, device_area = 0;  // gpa
    UniqueFd kick, call;
    Arena data;
    PackedPosition next_avail;  // where the next chain goes
    PackedPosition next_used;   // where the device writes its next used descriptor
    uint32_t descs_in_flight = 0;
    // Free buffer ids, least recently used first: an id is not reused at once, so a late second
    // completion of it is seen as the duplicate it is.
    std::deque<uint16_t> free_ids;
    std::map<uint16_t, InFlight> inflight;  // by buffer id
    std::set<uint16_t> completed;           // ids completed and not posted again since
    uint64_t kicks = 0;
    std::chrono::steady_clock::time_point last_sample{};
  };

  void clear_ring(Queue& q);
  // VIRTIO "Driver Notifications" of packed rings: whether the device wants a kick after the
  // driver moved its position over `added` descriptors.
  bool device_wants_kick(const Queue& q, uint32_t added) const;
  // Whether the descriptor at the used position holds a used entry (of the used wrap counter).
  bool used_at_next(const Queue& q) const;
  // "queue 0: used id 7 was not in flight (used descriptor at desc 0 wrap 1, next avail desc 2
  // wrap 1)", or "was completed twice" for an id completed and not posted again since.
  std::string unexpected_id_text(unsigned queue, const Queue& q, uint16_t id) const;
  // The ring around the used position, for messages: "next avail desc 3 wrap 1, next used desc
  // 1 wrap 1 (flags 0x80), device event flags disable".
  std::string ring_state_text(const Queue& q) const;

  GuestRam& ram_;
  FrontendLink& link_;
  DeviceKind device_;
  uint64_t features_;
  bool event_idx_;
  bool indirect_;
  uint64_t next_token_ = 1;
  std::vector<Queue> queues_;
};

}  // namespace vhs::exercise
