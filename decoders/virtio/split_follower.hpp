// Following a split ring across samples, to judge the used entries themselves (VIRTIO spec "The
// Virtqueue Used Ring"): each names a buffer that was in flight, and its len is at most the
// device-writable bytes of that buffer's chain. One snapshot cannot tell (split_ring.hpp: a
// stateless reader only approximates the in-flight heads); a reader that sees every avail and
// used entry between two samples can, as long as it never claims more than it saw.
//
// What is exact. Each follow() takes a consistent cut: used idx, avail idx, used idx again, kept
// only when both used reads agree, so every use counted completes a publication counted. Between
// two cuts it reads the avail entries [A0, A1) and the used entries [U0, U1), and re-reads both
// indices afterwards: when either ring moved a whole lap meanwhile, a slot may have been
// overwritten and the follower forgets what it knew (no judgement until it learns again). So the
// per-head change, made available minus used, is exact for each interval.
//
// What is learnt. A correct driver never makes a head available again while it is in flight
// (VIRTIO "The Virtqueue Descriptor Table": the device owns it), so at a cut every head is in
// flight 0 or 1 times. The follower keeps bounds [lo, hi] for that count, [0, 1] when unknown,
// shifted by each interval's change and clamped to [0, 1]; an idle ring (avail idx == used idx)
// pins every head to 0. hi < 0 means the device used the head more often than it could have been
// made available: UsedNotInFlight. lo > 1 is a driver that made an in-flight head available again
// (another rule's business): the head is forgotten.
//
// Lengths. A head known to be in flight at a cut has its chain walked; the walk is kept only when
// the used ring, read again after the walk, does not already hold that head (the driver may reuse
// descriptors once used, never before). The first use of the head after that is its completion:
// len > the chain's writable bytes is UsedLenBeyondChain.
//
// VIRTIO_F_IN_ORDER lets a device write one used entry for a batch: the caller does not follow
// such rings. Packed rings are not followed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

// What a UsedNotInFlight / UsedLenBeyondChain fault says ("used ring entry 0 names head 5, which
// was not in flight (...)"), without the queue: the findings and the checker both print it.
std::string used_entry_fault_text(const RingFault& f);

class SplitRingFollower {
 public:
  // Forget everything: the ring was (re)located, restarted or its memory changed.
  void reset();
  // One cut. Appends UsedNotInFlight / UsedLenBeyondChain faults (push_fault's cap applies).
  void follow(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
              std::vector<RingFault>& faults);

  // For tests: whether the last follow() took a cut, and what is known of a head.
  bool synced() const { return synced_; }
  struct HeadKnowledge {
    int8_t lo = 0, hi = 1;                // in-flight count bounds at the last cut
    std::optional<uint32_t> writable;     // chain's writable bytes while known in flight
  };
  const HeadKnowledge* head(uint16_t h) const {
    return h < heads_.size() ? &heads_[h] : nullptr;
  }

 private:
  struct Interval {  // per head, over one interval
    int32_t published = 0, used = 0;
    uint16_t first_use = 0, last_use = 0;  // used ring positions
    uint32_t first_len = 0;
  };
  void forget_all(uint16_t size);
  void learn_idle();
  void walk_in_flight(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
                      uint16_t used_idx);

  bool synced_ = false;
  uint16_t avail_seen_ = 0, used_seen_ = 0;
  std::vector<HeadKnowledge> heads_;
  std::vector<Interval> interval_;
  std::vector<uint16_t> touched_;
  std::vector<uint8_t> avail_buf_, used_buf_;
  std::vector<std::pair<uint16_t, uint32_t>> walked_;  // head, writable bytes (not yet confirmed)
};

}  // namespace vhs
