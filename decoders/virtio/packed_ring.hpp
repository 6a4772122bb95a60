// Packed virtqueues (VIRTIO spec "Packed Virtqueues"): descriptor ring positions and wrap counters,
// event suppression areas, bounded chain walks (NEXT runs and indirect tables) and the buffers in
// flight.
//
// Positions. A descriptor slot's AVAIL bit is the driver's wrap counter at the time it last wrote
// the slot, and the device writes used entries only behind the driver, with AVAIL = USED = its own
// wrap counter. So the AVAIL bits always read Wd for slots [0, a) and !Wd for [a, N): the driver's
// next position `a` and counter Wd are exact (the first AVAIL-bit change; none means a = 0 and
// Wd = !AVAIL). The device's next used position `u` is private. When the caller supplies a current
// vring base (spec "Vring descriptor indices for packed virtqueues") its used half is used;
// otherwise `u` is inferred as the start of the run of available-looking descriptors (AVAIL !=
// USED, AVAIL = the slot's lap bit) that ends at `a`, minus a leading partial chain whose buffer id
// equals the used entry just before it (the tail of a completed multi-descriptor buffer: the device
// overwrote only its first slot).
//
// In flight = the chains in [u, a). Exact for in-order completion. With out-of-order completion a
// buffer completed ahead of older ones stays listed until `u` passes its slots, and an in-flight
// buffer whose slots `u` already passed is not listed (its descriptors were skipped by the
// advance of a younger buffer's used entry). Buffer ids come from each chain's last descriptor
// (spec 2.8.6; Linux writes the id into every descriptor of the chain).
#pragma once

#include <cstdint>
#include <optional>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

// Event suppression flags (spec 2.8.10).
inline constexpr uint16_t kPackedEventEnable = 0;
inline constexpr uint16_t kPackedEventDisable = 1;
inline constexpr uint16_t kPackedEventDesc = 2;

// A ring position with its wrap counter, in the vring-base encoding: bits 0-14 index, bit 15 wrap.
struct PackedPosition {
  uint16_t index = 0;
  bool wrap = true;  // both counters start at 1
  uint16_t encoded() const { return static_cast<uint16_t>(index | (wrap ? 0x8000 : 0)); }
};

struct PackedEventArea {
  uint16_t off_wrap = 0;
  uint16_t flags = 0;
};

struct PackedState {
  PackedEventArea driver, device;
  PackedPosition next_avail;    // driver's next position (exact)
  PackedPosition next_used;     // device's next used position (vring base or inferred)
  bool used_from_base = false;  // next_used came from the caller's vring base
  uint32_t inflight_descs = 0;  // ring descriptors in [next_used, next_avail)
};

// Reads the event areas and the whole descriptor ring (into scratch.ring), then works out the
// positions. nullopt when unreadable.
std::optional<PackedState> read_packed_state(const GuestMemoryView& mem, const RingLocation& loc,
                                             RingScratch& scratch);

// Walks the chain whose first descriptor is at ring slot `slot`, taking at most `limit` ring
// descriptors (the available ones from there): running past them is NextOutOfRange. Indirect
// tables are read when `read_indirect`, else only counted.
void walk_packed_chain(const GuestMemoryView& mem, const RingLocation& loc, uint16_t slot,
                       uint32_t limit, Chain& out, RingScratch* scratch = nullptr,
                       bool read_indirect = true);

// The snapshot of a packed ring (what take_ring_snapshot does for RingType::Packed).
void take_packed_snapshot(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
                          RingSnapshot& out);

}  // namespace vhs
