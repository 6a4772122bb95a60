// The exercise engine as the virtio DRIVER of split virtqueues (VIRTIO "Split Virtqueues"): it
// places descriptor chains in guest memory, publishes them in the avail ring, kicks the kick
// eventfd, waits on the call eventfd and reads the used ring, checking every used element the
// device writes (an id that was not in flight, a second completion of one chain, a length beyond
// the chain's writable bytes), and recycles descriptors and buffers.
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
#include "decoders/vhost_user/payloads.hpp"
#include "proxy/exercise/driver_io.hpp"
#include "proxy/exercise/guest_ram.hpp"
#include "proxy/exercise/ring_driver.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {
struct RingSnapshot;  // decoders/virtio/ring_snapshot.hpp
}  // namespace vhs

namespace vhs::exercise {

class FrontendLink;

using SplitQueueSetup = QueueSetup;

class SplitDriver final : public RingDriver {
 public:
  // `event_idx`: RING_EVENT_IDX was acked, so the driver keeps used_event current. `indirect`:
  // a chain of two or more buffers is placed in an indirect descriptor table (VIRTIO "Indirect
  // Descriptors"; the caller checked INDIRECT_DESC was acked) and takes one ring descriptor.
  SplitDriver(GuestRam& ram, FrontendLink& link, DeviceKind device, uint64_t features,
              bool indirect = false);

  // Lays out queue `queues()` in `ring_arena` with data buffers from `data_arena`.
  bool add_queue(uint16_t size, Arena& ring_arena, Arena data_arena, std::string& error) override;
  const QueueSetup& setup(unsigned queue) const override { return queues_[queue].setup; }

  // Spec "Ring states": the next avail ring index the back-end reads, free running.
  uint16_t fresh_vring_base() const override { return 0; }
  uint32_t resume_vring_base(uint16_t resume) const override { return resume; }
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
  // What the device wrote in guest memory: the used index, and (with RING_EVENT_IDX) avail_event,
  // how far it has read the avail ring (VIRTIO "Used Buffer Notification Suppression").
  uint16_t used_idx_in_ring(unsigned queue) const;
  uint16_t avail_event_in_ring(unsigned queue) const;
  uint16_t last_used(unsigned queue) const { return queues_[queue].last_used; }
  bool event_idx() const { return event_idx_; }
  uint16_t avail_idx(unsigned queue) const { return queues_[queue].avail_idx; }

  // Ring state as the proxy would sample it, written to the capture.
  RingSnapshot snapshot(unsigned queue, std::optional<uint32_t> vring_base = std::nullopt) const;
  void record_snapshot(unsigned queue, std::optional<uint32_t> vring_base = std::nullopt) override;

  Arena swap_data_arena(unsigned queue, Arena arena) override {
    std::swap(queues_[queue].data, arena);
    return arena;
  }
  const Arena& data_arena(unsigned queue) const override { return queues_[queue].data; }
  uint64_t used_ring_gpa(unsigned queue) const override { return queues_[queue].used; }

  bool reset_queues(std::string& error) override;

 private:
  struct InFlight {
    uint64_t token = 0;
    std::vector<uint16_t> descs;
    std::vector<uint64_t> buffers;        // arena blocks (gpa)
    std::vector<uint64_t> writable_gpa;   // each writable buffer
    std::vector<uint32_t> writable_size;  // and its size
    uint64_t writable_total = 0;
  };
  struct Queue {
    QueueSetup setup;
    uint64_t desc = 0, avail = 0, used = 0;  // gpa
    UniqueFd kick, call;
    Arena data;
    uint16_t avail_idx = 0;  // next index we publish (free running)
    uint16_t last_used = 0;  // used index consumed so far
    // Free descriptors, least recently used first: a head is not reused at once, so a late
    // second completion of it is seen as the duplicate it is.
    std::deque<uint16_t> free;
    std::map<uint16_t, InFlight> inflight;  // by head
    std::set<uint16_t> completed;           // heads completed and not posted again since
    std::chrono::steady_clock::time_point last_sample{};
  };

  void free_chain(Queue& q, uint16_t head);

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
