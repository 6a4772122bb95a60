// Live virtqueue sampling inside the relay: follows the front-end's memory and vring setup with
// the session trackers the analyser uses (MemoryTableTracker, VringTracker, DeviceInference), keeps
// the guest memory mapped read-only (GuestMapping, index for index with the tracked table) and,
// while a ring is started, takes RingSnapshots through the pure decoders. A RingState record
// payload is produced only when a ring's snapshot changed. Runs on the relay thread; the relay
// calls sample() from its timer and after every message that touches a ring.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "decoders/session/device_inference.hpp"
#include "decoders/session/memory_table.hpp"
#include "decoders/session/vring_tracker.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "decoders/virtio/split_follower.hpp"
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
    // A memory region's fd shrank below the region while the session ran (noticed when a read of
    // it faulted): the finding region-beyond-fd. By default reported like ring_error.
    virtual void region_shrank(std::string_view text) { ring_error(text); }
  };

  // `device` Unknown: inferred like the session analyser does (GET_CONFIG reply, net-only
  // requests and protocol features), else buffers stay generic.
  explicit RingSampler(DeviceKind device = DeviceKind::Unknown);

  // Every front-end channel message, requests (ToBackend) and replies (ToFrontend), while its fds
  // are still open. Only the few requests about memory, features and rings are decoded; the rest
  // cost one header read. True when ring or memory state changed (the caller re-checks
  // any_started() for its timer).
  bool on_message(Direction direction, std::span<const uint8_t> bytes, std::span<const int> fds,
                  Output& out);
  // Samples every started ring; emits only changes.
  void sample(Output& out);
  // A notification of ring `index` is about to be relayed (`--interpose-notify`): the ring's used
  // entries are followed now, before the peer reacts to it (at a kick the new buffers are still in
  // flight, at a call the driver has not consumed the used ones), so lengths are judged for more
  // chains than periodic samples see. What it finds goes out with the ring's next sample.
  void follow(uint32_t index);
  // A ring is started and has addresses to sample.
  bool any_started() const;
  // Session over: unmaps everything, forgets every ring.
  void reset();

  const GuestMapping& memory() const { return memory_; }
  // The tracked state the sampling follows (the same rules as the session analyser's).
  const MemoryTableTracker& memory_table() const { return table_; }
  const VringTracker& vrings() const { return vrings_; }
  DeviceKind device() const { return device_.kind(); }

 private:
  // What sampling remembers about one ring beyond its tracked state.
  struct Sampling {
    std::optional<uint32_t> exact_base;  // the back-end cannot have moved since this base
    bool awaiting_final = false;         // stopped by GET_VRING_BASE; the reply gets a last sample
    bool loc_valid = false;
    RingLocation loc;
    bool have_last = false;
    RingSnapshot last;
    bool fault_reported = false;
    // Judges the used entries across samples (split rings without IN_ORDER); forgets what it
    // learnt whenever the location is re-derived.
    SplitRingFollower follower;
    std::vector<RingFault> follower_faults;  // found between samples, for the next one
  };

  Sampling& sampling(uint32_t index);
  bool on_request(const DecodedMessage& msg, std::span<const int> fds, Output& out);
  bool on_reply(const DecodedMessage& msg, Output& out);
  bool apply_memory_change(const MemoryTableChange& change, std::span<const int> fds, Output& out);
  void sample_ring(const VringState& ring, Sampling& s, Output& out);
  void locate(const VringState& ring, Sampling& s);
  bool followed_ring(const Sampling& s) const;
  bool recheck_backing(Output& out);
  void invalidate_all();

  MemoryTableTracker table_;
  VringTracker vrings_;
  DeviceInference device_;
  std::optional<uint64_t> protocol_features_;  // SET_PROTOCOL_FEATURES (XEN_MMAP changes layouts)
  std::optional<uint32_t> base_request_;  // the ring the GET_VRING_BASE waiting for its reply named
  GuestMapping memory_;
  std::vector<std::pair<uint32_t, Sampling>> sampling_;  // sorted by ring index
  std::vector<FdInfo> fd_infos_;                         // decode_message wants descriptions
  std::vector<int> region_fds_;
  RingScratch scratch_;
  RingSnapshot snap_, retake_;
  std::vector<uint8_t> encoded_;
};

}  // namespace vhs
