// Split virtqueues (VIRTIO spec "Split Virtqueues"): index words, used elements, bounded descriptor
// chain walks (indirect tables included) and the set of buffers in flight.
//
// In-flight heads. The back-end's own position (last_avail_idx) is private and buffers may be
// completed out of order, so a snapshot cannot always name the in-flight heads exactly. What is
// exact is their number, avail.idx - used.idx (free-running u16). The heads come from counting
// over two aligned windows (A = avail.idx, U = used.idx, N = queue size):
//     c(h) = #{p in [A-N, A) : avail.ring[p % N] == h} - #{q in [A-N, U) : used.ring[q % N].id ==
//     h}
// Both windows start at A-N. If every buffer published before A-N was also completed at a used
// position before A-N, the used window holds exactly the completions of the N publications in
// the avail window, and c(h) is 1 for each in-flight head and 0 for every other head, whatever
// the completion order. Heads with c(h) >= 1 are reported, ordered by their newest publication
// (oldest first); for an in-order device that is avail slots [U, A). The rule fails when a
// buffer stays in flight while N newer ones are published: its avail slot was overwritten, no
// snapshot can name it, and another head is listed in its place (the count stays right). A sampler
// that follows the ring across samples could keep it; this stateless reader cannot. Inconsistencies
// that do show (heads found != A - U, a head counted twice, heads >= N) set heads_approximate.
// A zeroed fresh ring balances itself: the unwritten avail and used slots in the windows both
// count head 0. The avail slot at A % N may already hold the driver's next, unpublished head (it
// writes the slot before the index): a one-head glitch at most, gone by the next sample.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

struct SplitIndices {
  uint16_t avail_flags = 0, avail_idx = 0, used_event = 0;
  uint16_t used_flags = 0, used_idx = 0, avail_event = 0;
};

inline constexpr uint16_t kAvailNoInterrupt = 0x1;  // avail->flags
inline constexpr uint16_t kUsedNoNotify = 0x1;      // used->flags

// Reads both idx words first, then flags and (with event_idx) the event words: the entries
// behind an index are only meaningful after the index (VIRTIO spec "Split Virtqueues": entries are
// written before the index that publishes them).
std::optional<SplitIndices> read_split_indices(const GuestMemoryView& mem, const RingLocation& loc);

struct SplitUsedElem {
  uint32_t id = 0;
  uint32_t len = 0;
};

// The `count` used elements before used_idx (oldest first); count is clamped to the queue size.
bool read_split_used(const GuestMemoryView& mem, const RingLocation& loc, uint16_t used_idx,
                     uint16_t count, std::vector<SplitUsedElem>& out);

// Walks the chain that starts at `head`: at most N table descriptors, an indirect table at most
// its own length; stops at the first structural problem (Chain::error). `scratch` (optional)
// supplies reusable buffers.
void walk_split_chain(const GuestMemoryView& mem, const RingLocation& loc, uint16_t head,
                      Chain& out, RingScratch* scratch = nullptr);

struct SplitInflight {
  uint32_t total = 0;           // avail.idx - used.idx (exact), 0 when > N (index fault)
  std::vector<uint16_t> heads;  // all heads found, oldest first
  bool approximate = false;     // heads.size() != total, or a head counted twice
};

// The in-flight heads by the counting rule above (not capped). Faults (HeadOutOfRange,
// UsedIdOutOfRange, IndexAhead) are appended to `faults` when given.
SplitInflight split_inflight(const GuestMemoryView& mem, const RingLocation& loc,
                             const SplitIndices& idx, RingScratch& scratch,
                             std::vector<RingFault>* faults = nullptr);

// The snapshot of a split ring (what take_ring_snapshot does for RingType::Split).
void take_split_snapshot(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
                         RingSnapshot& out);

}  // namespace vhs
