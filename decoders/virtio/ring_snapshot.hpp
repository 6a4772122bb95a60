// RingState samples: where a ring lives (RingLocation, resolved through the memory table), the
// compact RingSnapshot a sample produces, and its versioned little-endian byte encoding, the
// payload of RingState capture records (layout: docs/ring-state-format.md).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_detail.hpp"

namespace vhs {

enum class RingType : uint8_t { Split = 0, Packed = 1 };

std::string_view ring_type_name(RingType t);  // "split" / "packed"

// A problem found while locating or reading a ring. Compact and string-free so it travels inside
// a RingState record; ring_health turns it into a Finding with text.
enum class RingFaultKind : uint8_t {
  SizeInvalid = 1,       // value = queue size (0, > 32768, or split and not a power of 2)
  PartUnmapped = 2,      // index = part (0 desc, 1 avail/driver area, 2 used/device area),
                         // value = the address from SET_VRING_ADDR (UVA)
  PartUnreadable = 3,    // like PartUnmapped, but the table maps it and the view has no bytes
  IndexAhead = 4,        // split: avail idx (value) ahead of used idx (index) by more than size
  HeadOutOfRange = 5,    // split: avail ring position (index) holds head (value) >= size
  UsedIdOutOfRange = 6,  // split: used ring position (index) holds id (value) >= size
  Chain = 7,             // chain of `head` has `chain` error at descriptor `index`, detail `value`
  BaseMismatch = 8,      // split: vring base last_avail (value) is not between used and avail idx
  // Found by following the ring across samples (split_follower.hpp), not by one snapshot:
  UsedNotInFlight = 9,     // split: used ring position (index) names `head`, which was not in
                           // flight; value = times it was used minus times made available since
                           // it was last known free (>= 1)
  UsedLenBeyondChain = 10, // split: used ring position (index) for `head` reports len (value >> 32)
                           // beyond the chain's device-writable bytes (value & 0xffffffff)
};

struct RingFault {
  RingFaultKind kind = RingFaultKind::SizeInvalid;
  ChainError chain = ChainError::None;  // for Chain
  uint16_t head = 0;
  uint32_t index = 0;
  uint64_t value = 0;
  bool operator==(const RingFault&) const = default;
};

// Appends unless the list already holds kSnapshotMaxFaults (declared below) entries.
void push_fault(std::vector<RingFault>& faults, const RingFault& f);

// Caps that keep a snapshot small and its cost bounded whatever the ring holds.
inline constexpr size_t kSnapshotMaxHeads = 64;  // in-flight heads listed (the total is exact)
inline constexpr size_t kSnapshotMaxFaults = 8;
inline constexpr size_t kSnapshotWalkedChains = 16;  // oldest in-flight chains validated per sample
// Oldest in-flight chains whose raw head (ChainHead: kChainHeadBytes of readable bytes) a sample
// keeps: at most 4 x 40 bytes of guest data per sample.
inline constexpr size_t kSnapshotRawChains = 4;
// The queue size bound, kMaxQueueSize, is payload_layout.hpp's (one definition for both).

// Where one ring is and how to read it. Addresses are guest-physical (translated from the UVAs
// of SET_VRING_ADDR); a part that could not be translated leaves a fault and the ring unread.
struct RingLocation {
  uint32_t queue = 0;
  RingType type = RingType::Split;
  uint16_t size = 0;       // queue size (SET_VRING_NUM); valid only without SizeInvalid
  uint64_t desc = 0;       // descriptor table / packed descriptor ring
  uint64_t driver = 0;     // split: avail ring; packed: driver event-suppression area
  uint64_t device = 0;     // split: used ring; packed: device event-suppression area
  bool event_idx = false;  // RING_EVENT_IDX acked: used_event / avail_event exist
  // The back-end's position from SET_VRING_BASE / GET_VRING_BASE (spec "Ring states"; packed rings:
  // "Vring descriptor indices for packed virtqueues"), only when the caller knows it is current
  // (ring just started, or stopped). Split: last_avail_idx gives the "not yet fetched" count.
  // Packed: the used position/wrap replace the inferred ones.
  std::optional<uint32_t> vring_base;
  DetailContext detail;           // device kind, queue, features: how buffers are summarized
  std::vector<RingFault> faults;  // SizeInvalid / PartUnmapped found while locating
  // ACCESS_PLATFORM: the ring addresses are IOVAs, which would need the IOTLB to translate. Such
  // a ring is not read (no faults either: nothing is known to be wrong with it).
  bool iova = false;

  bool readable() const { return faults.empty() && !iova; }
};

// Builds a location from session facts: SET_VRING_NUM, SET_VRING_ADDR and the acked features
// (RING_PACKED picks the layout, RING_EVENT_IDX the event fields). With ACCESS_PLATFORM the
// addresses are IOVAs, which this does not translate: the location is marked `iova`.
RingLocation locate_ring(const MemoryMap& map, uint32_t queue, uint32_t num,
                         const VringAddrValue& addr, uint64_t features, DeviceKind device);

// One sample of one ring.
//
// Field meaning by ring type (the six index words are the same slots so views can line them up):
//   field        split                      packed
//   avail_idx    avail->idx                 driver's next avail position, bit 15 = wrap counter
//   avail_flags  avail->flags               driver event suppression flags
//   used_idx     used->idx                  device's next used position, bit 15 = wrap counter
//   used_flags   used->flags                device event suppression flags
//   used_event   avail ring used_event      driver event suppression off_wrap
//   avail_event  used ring avail_event      device event suppression off_wrap
struct RingSnapshot {
  uint32_t queue = 0;
  RingType type = RingType::Split;
  uint16_t size = 0;
  bool event_idx = false;
  bool indices_ok = false;  // the index words were read; false: see faults
  uint16_t avail_idx = 0, avail_flags = 0, used_idx = 0, used_flags = 0;
  uint16_t used_event = 0, avail_event = 0;  // zero unless event_idx (split) / always (packed)
  std::optional<uint32_t> vring_base;        // as given in the location
  uint32_t inflight = 0;                     // buffers made available and not yet used
  std::optional<uint32_t> pending;           // split with vring_base: of those, not yet fetched
  bool heads_approximate = false;            // the head list may be wrong (see split_ring.hpp)
  std::vector<uint16_t> heads;               // in-flight heads (packed: buffer ids), oldest first
  std::optional<BufferSummary> oldest;       // the first of `heads`, read through its chain
  std::vector<RingFault> faults;
  // The raw heads of the oldest in-flight chains (at most kSnapshotRawChains, oldest first), from
  // which `oldest` is derived: with them a reader can read the requests as another device kind.
  // Empty in records written before they existed.
  std::vector<ChainHead> chain_heads;

  bool operator==(const RingSnapshot&) const = default;
};

// Reusable buffers for taking snapshots: one per sampling thread, so steady-state sampling does
// not allocate.
struct RingScratch {
  std::vector<uint8_t> ring;      // avail + used rings (split) or descriptor ring (packed)
  std::vector<uint8_t> table;     // split descriptor table
  std::vector<uint8_t> indirect;  // one indirect table
  std::vector<int32_t> counts;    // per head
  std::vector<uint32_t> last;     // per head
  Chain chain;
};

// Samples a ring (dispatches on loc.type). `out` is overwritten; its vectors keep their capacity.
void take_ring_snapshot(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
                        RingSnapshot& out);
RingSnapshot take_ring_snapshot(const GuestMemoryView& mem, const RingLocation& loc);
// A snapshot of live memory is not atomic: the driver may recycle a descriptor while it is being
// walked, and that torn read looks like a broken chain. So a snapshot with faults is retaken (at
// most `retries` times, `spare` holds the retake) until two in a row agree: a real fault repeats,
// a torn read does not.
void take_settled_ring_snapshot(const GuestMemoryView& mem, const RingLocation& loc,
                                RingScratch& scratch, RingSnapshot& out, RingSnapshot& spare,
                                int retries = 3);

// ---- RingState record payload (version 1) ----

inline constexpr uint8_t kRingStateVersion = 1;
// The header grew from 40 bytes (records without chain heads) to 44 (chain-head count and length);
// readers accept both (docs/ring-state-format.md, "Versioning").
inline constexpr size_t kRingStateHeaderLen = 44;
inline constexpr size_t kRingStateHeaderLenV1 = 40;
inline constexpr size_t kRingStateOldestLen = 48;
inline constexpr size_t kRingStateFaultLen = 16;
inline constexpr size_t kRingStateChainHeadLen = 24 + kChainHeadBytes;

std::vector<uint8_t> encode_ring_snapshot(const RingSnapshot& s);
void encode_ring_snapshot(const RingSnapshot& s, std::vector<uint8_t>& out);  // replaces out
// nullopt on a malformed or unsupported payload, with the reason in *error when given. Bytes
// after the documented sections are ignored (later versions may append).
std::optional<RingSnapshot> decode_ring_snapshot(std::span<const uint8_t> bytes,
                                                 std::string* error = nullptr);

// Derives `oldest` again from the first chain head as `ctx.device` reads it (the user's
// --device, or a device recognised after the sample was recorded). Nothing changes when the
// snapshot has no chain heads (an older record) or the device is unknown.
void redetail_ring_snapshot(RingSnapshot& s, DeviceKind device, uint64_t features);

// One line for dump/summary: "q0 split size 256 avail 17 used 14 inflight 3 (4 5 6) oldest head 4:
// READ sector 2048 len 4096".
std::string describe_ring_snapshot(const RingSnapshot& s);

}  // namespace vhs
