// The ring picture: one recorded ring state per queue drawn as a ring. The view-model says, for
// the RingState record a scrubber points at, what each descriptor and each ring position holds,
// where the avail and used indexes point, and which chains are in flight, with their device
// detail and how long they have been in flight. No GL here: the GUI draws it, tests check it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::view {

// What a cell holds, from the driver's point of view (spec "Ring states"; VIRTIO "Virtqueues").
// The order is also the drawing priority when several cells share one segment.
enum class CellState : uint8_t {
  Free = 0,   // nothing known in it: not made available, or already given back and consumed
  Used,       // completed by the back-end, not yet consumed by the driver
  Available,  // made available by the driver, not yet taken by the back-end
  InFlight,   // taken by the back-end, not yet completed
};

std::string_view cell_state_name(CellState s);  // "free", "used", "available", "in flight"

// One in-flight chain of a ring state.
struct InFlightChain {
  uint16_t head = 0;    // split: head descriptor index; packed: buffer id
  bool fetched = true;  // false: available, the back-end has not taken it yet
  // Device detail read from the chain's first bytes ("head 0: READ sector 8 len 4096"); empty
  // when the record kept no raw head for this chain (only the oldest few are kept).
  std::string detail;
  uint64_t since_ns = 0;  // time of the first consecutive ring state that lists this chain
  // It was already in flight in the first ring state of the queue (or the walk back stopped): the
  // age is a lower bound.
  bool at_least = false;
};

// One queue at one ring state.
struct QueuePicture {
  uint32_t queue = 0;
  uint32_t entry = 0;  // the RingState record
  uint64_t time_ns = 0;
  RingSnapshot snapshot;
  // Per descriptor index (split) or buffer id (packed), `size` cells. A chain colours its head:
  // where its other descriptors sit is not recorded.
  std::vector<CellState> descriptors;
  // Per ring position (index mod size), `size` cells: the avail ring entries between the used and
  // avail indexes are in flight (the last `pending` of them not yet fetched); with EVENT_IDX, the
  // used ring entries between the driver's used_event and the used index are used, not consumed.
  std::vector<CellState> positions;
  uint32_t avail_hand = 0, used_hand = 0;   // ring positions the indexes point at
  std::optional<uint32_t> used_unconsumed;  // split with EVENT_IDX: used idx - used_event
  std::vector<InFlightChain> chains;        // oldest first
  uint32_t unlisted = 0;                    // in flight but not listed (the record caps heads)
};

struct RingPicture {
  size_t session = 0;
  size_t position = 0;  // index into the session's ring states the picture shows
  uint32_t entry = 0;   // that RingState record
  uint64_t time_ns = 0;
  std::vector<QueuePicture> queues;  // each queue's newest ring state at or before `entry`
};

// The RingState entries of session `session` (an index into Store::sessions()), in record order,
// taken from `ring_records` (every RingState entry of the store, in order).
std::vector<uint32_t> session_ring_states(const Store& store, size_t session,
                                          std::span<const uint32_t> ring_records);

// The scrubber position for record `entry`: the last ring state at or before it (0 when none is).
size_t ring_state_at(std::span<const uint32_t> states, uint32_t entry);

// The picture at `states[position]`. Empty `queues` when `states` is empty.
RingPicture build_ring_picture(const Store& store, size_t session, std::span<const uint32_t> states,
                               size_t position);

// `cells` folded into at most `max_segments` segments, each the highest-priority state of the
// cells it covers (so one in-flight descriptor among 32768 stays visible).
std::vector<CellState> fold_cells(std::span<const CellState> cells, size_t max_segments);

}  // namespace vhs::view
