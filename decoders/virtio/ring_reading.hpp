// What the split and packed ring readers share: the 16-byte descriptor's home (a copy or the
// guest view), how a chain walk records a problem, the checks on an indirect table, and the reset
// a snapshot starts from. Internal to decoders/: split_ring.cpp and packed_ring.cpp only.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::ring_reading {

// Both layouts use 16-byte descriptors: addr, len, then two 16-bit words that differ by layout.
inline constexpr uint64_t kDescSize = 16;
inline constexpr uint32_t kMaxIndirectEntries =
    32768;  // the largest queue; QEMU caps chains at 1024

// Where descriptors are read from: a copy made once per snapshot, or the view. `Parse` decodes
// one descriptor of the layout at hand.
template <typename Desc, Desc (*Parse)(const uint8_t*)>
struct DescSource {
  const GuestMemoryView& mem;
  uint64_t gpa;
  const uint8_t* copy;  // nullptr: read each descriptor through the view

  bool get(uint16_t index, Desc& out) const {
    if (copy) {
      out = Parse(copy + index * kDescSize);
      return true;
    }
    std::array<uint8_t, kDescSize> b{};
    if (!mem.read(gpa + index * kDescSize, b)) return false;
    out = Parse(b.data());
    return true;
  }
};

// Records the chain's first problem; returns nothing so walks can `return fail(...)`.
void fail(Chain& c, ChainError e, uint32_t at, uint64_t value);

// Appends a data descriptor. With `check`, an unmapped buffer is recorded but does not stop the
// walk: the chain shape is still worth showing.
template <typename Desc>
void add_desc(const GuestMemoryView& mem, Chain& c, const Desc& d, uint16_t index, bool in_indirect,
              bool check) {
  c.add(ChainDesc{d.addr, d.len, d.flags, index, in_indirect});
  if (check && c.error == ChainError::None && !mem.mapped(d.addr, d.len))
    fail(c, ChainError::BufferUnmapped, index, d.addr);
}

// The INDIRECT descriptor itself (found at `at`): no NEXT, a whole number of entries, not more
// than the largest queue. False (and the chain failed) otherwise.
template <typename Desc>
bool indirect_shape_ok(Chain& c, const Desc& ind, uint16_t at) {
  if (ind.flags & kDescNext) {
    fail(c, ChainError::IndirectWithNext, at, ind.flags);
    return false;
  }
  if (ind.len == 0 || ind.len % kDescSize != 0 || ind.len / kDescSize > kMaxIndirectEntries) {
    fail(c, ChainError::IndirectBadLength, at, ind.len);
    return false;
  }
  return true;
}

// Copies the indirect table into `buf`. False (and the chain failed) when it cannot be read.
template <typename Desc>
bool read_indirect_table(const GuestMemoryView& mem, Chain& c, const Desc& ind, uint16_t at,
                         std::vector<uint8_t>& buf) {
  buf.resize(ind.len);
  if (!range_fits(ind.addr, ind.len) || !mem.read(ind.addr, buf)) {
    fail(c, ChainError::TableUnreadable, at, ind.addr);
    return false;
  }
  return true;
}

// The i-th oldest in-flight chain was walked: its raw head is kept (the first
// kSnapshotRawChains), and the oldest is summarised from it.
void keep_chain_head(const GuestMemoryView& mem, const Chain& chain, const RingLocation& loc,
                     size_t i, RingSnapshot& out);

// Overwrites `out` with an empty sample of `loc` (vectors keep their capacity) and copies the
// faults found while locating.
void begin_snapshot(const RingLocation& loc, RingType type, RingSnapshot& out);

}  // namespace vhs::ring_reading
