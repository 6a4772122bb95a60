// Packed virtqueue reading: positions and wrap counters, chain walks, in-flight buffers and the
// packed-ring snapshot.
#include "decoders/virtio/packed_ring.hpp"

#include <algorithm>
#include <array>

#include "decoders/virtio/ring_reading.hpp"

namespace vhs {
namespace {

using ring_reading::add_desc;
using ring_reading::fail;
using ring_reading::kDescSize;

struct RawDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t id;
  uint16_t flags;
};

RawDesc parse_desc(const uint8_t* p) {
  return RawDesc{load_le64(p), load_le32(p + 8), load_le16(p + 12), load_le16(p + 14)};
}

bool avail_bit(uint16_t flags) { return (flags & kPackedDescAvail) != 0; }
bool used_bit(uint16_t flags) { return (flags & kPackedDescUsed) != 0; }

// The descriptor ring, from a copy made once per snapshot or through the view.
using RingSource = ring_reading::DescSource<RawDesc, parse_desc>;

// Indirect tables of packed rings are read in order, len/16 entries (spec 2.8.7).
void walk_indirect(const GuestMemoryView& mem, const RawDesc& ind, uint16_t slot, Chain& c,
                   std::vector<uint8_t>& buf, bool read) {
  if (!ring_reading::indirect_shape_ok(c, ind, slot) || !read) return;
  if (!ring_reading::read_indirect_table(mem, c, ind, slot, buf)) return;
  const uint32_t n = ind.len / kDescSize;
  for (uint32_t j = 0; j < n; ++j) {
    const RawDesc e = parse_desc(buf.data() + j * kDescSize);
    if (e.flags & kDescIndirect) return fail(c, ChainError::NestedIndirect, j, e.flags);
    add_desc(mem, c, e, static_cast<uint16_t>(j), true, true);
  }
}

void walk_chain(const GuestMemoryView& mem, const RingSource& ring, uint16_t size, uint16_t slot,
                uint32_t limit, Chain& c, std::vector<uint8_t>& indirect_buf, bool full) {
  c.clear();
  c.head = slot;
  if (slot >= size) return fail(c, ChainError::HeadOutOfRange, slot, slot);
  uint16_t pos = slot;
  for (uint32_t steps = 0;; ++steps) {
    if (steps == limit) {
      // All available descriptors consumed and NEXT still set: the chain runs off the end.
      return fail(c, limit >= size ? ChainError::Loop : ChainError::NextOutOfRange, pos, steps);
    }
    RawDesc d{};
    if (!ring.get(pos, d))
      return fail(c, ChainError::TableUnreadable, pos, ring.gpa + pos * kDescSize);
    ++c.ring_descs;
    c.id = d.id;
    if (d.flags & kDescIndirect) return walk_indirect(mem, d, pos, c, indirect_buf, full);
    add_desc(mem, c, d, pos, false, full);
    if (!(d.flags & kDescNext)) return;
    pos = static_cast<uint16_t>(pos + 1 == size ? 0 : pos + 1);
  }
}

PackedPosition advance(PackedPosition p, uint32_t n, uint16_t size) {
  uint32_t i = p.index + n;
  while (i >= size) {
    i -= size;
    p.wrap = !p.wrap;
  }
  p.index = static_cast<uint16_t>(i);
  return p;
}

// Descriptors from `from` up to the driver's next position `to` (0..N), if `from` is behind it.
std::optional<uint32_t> distance(PackedPosition from, PackedPosition to, uint16_t size) {
  if (from.index >= size) return std::nullopt;
  if (from.wrap == to.wrap) {
    if (from.index > to.index) return std::nullopt;
    return to.index - from.index;
  }
  if (from.index < to.index) return std::nullopt;
  return to.index + size - from.index;
}

}  // namespace

std::optional<PackedState> read_packed_state(const GuestMemoryView& mem, const RingLocation& loc,
                                             RingScratch& scratch) {
  const uint16_t n = loc.size;
  if (n == 0) return std::nullopt;
  PackedState st;
  std::array<uint8_t, 4> area{};
  if (!mem.read(loc.driver, area)) return std::nullopt;
  st.driver = {load_le16(area.data()), load_le16(area.data() + 2)};
  if (!mem.read(loc.device, area)) return std::nullopt;
  st.device = {load_le16(area.data()), load_le16(area.data() + 2)};
  // One copy of the whole ring: positions need every slot's flags. On a live ring the driver may
  // be writing the newest descriptor meanwhile (contents first, flags last); the copy can pair its
  // new flags with old contents, a one-descriptor glitch that the next sample corrects.
  scratch.ring.resize(kDescSize * n);
  if (!mem.read(loc.desc, scratch.ring)) return std::nullopt;
  const uint8_t* ring = scratch.ring.data();
  auto flags = [&](uint32_t i) { return load_le16(ring + i * kDescSize + 14); };

  // The driver's position: where the AVAIL bits change (see packed_ring.hpp).
  const bool b0 = avail_bit(flags(0));
  uint16_t a = 0;
  while (a < n && avail_bit(flags(a)) == b0) ++a;
  st.next_avail = a == n ? PackedPosition{0, !b0} : PackedPosition{a, b0};
  const PackedPosition drv = st.next_avail;
  auto lap_bit = [&](uint32_t i) { return i < drv.index ? drv.wrap : !drv.wrap; };
  auto avail_looking = [&](uint32_t i) {
    const uint16_t f = flags(i);
    return avail_bit(f) != used_bit(f) && avail_bit(f) == lap_bit(i);
  };
  auto run_is_available = [&](PackedPosition from, uint32_t count) {
    for (uint32_t k = 0, i = from.index; k < count; ++k, i = (i + 1 == n ? 0 : i + 1))
      if (!avail_looking(i)) return false;
    return true;
  };

  if (loc.vring_base) {
    const uint32_t base = *loc.vring_base;
    const PackedPosition used{static_cast<uint16_t>((base >> 16) & 0x7fff),
                              ((base >> 31) & 1u) != 0};
    const auto d = distance(used, drv, n);
    if (d && run_is_available(used, *d)) {
      st.next_used = used;
      st.used_from_base = true;
      st.inflight_descs = *d;
      return st;
    }
  }

  // Inference: the available-looking run that ends at the driver's position.
  uint32_t run = 0;
  for (uint32_t j = drv.index; run < n; ++run) {
    j = j == 0 ? n - 1u : j - 1u;
    if (!avail_looking(j)) break;
  }
  if (run == n) {
    st.next_used = {drv.index, !drv.wrap};
    st.inflight_descs = n;
    return st;
  }
  const uint16_t s = static_cast<uint16_t>((drv.index + n - run) % n);
  PackedPosition used{s, s < drv.index ? drv.wrap : !drv.wrap};
  if (run == 0) used = drv;
  uint32_t descs = run;
  if (run > 0) {
    // Skip the tail of the buffer whose used entry sits just before the run.
    const uint16_t q = static_cast<uint16_t>(s == 0 ? n - 1 : s - 1);
    const RawDesc prev = parse_desc(ring + q * kDescSize);
    if (avail_bit(prev.flags) == used_bit(prev.flags)) {
      uint32_t len = 0;
      uint16_t last_id = 0;
      bool complete = false;
      for (uint32_t i = s; len < run; i = (i + 1 == n ? 0 : i + 1)) {
        const RawDesc d = parse_desc(ring + i * kDescSize);
        ++len;
        last_id = d.id;
        if (!(d.flags & kDescNext) || (d.flags & kDescIndirect)) {
          complete = true;
          break;
        }
      }
      if (complete && last_id == prev.id) {
        used = advance(used, len, n);
        descs -= len;
      }
    }
  }
  st.next_used = used;
  st.inflight_descs = descs;
  return st;
}

void walk_packed_chain(const GuestMemoryView& mem, const RingLocation& loc, uint16_t slot,
                       uint32_t limit, Chain& out, RingScratch* scratch, bool read_indirect) {
  std::vector<uint8_t> local;
  std::vector<uint8_t>& buf = scratch ? scratch->indirect : local;
  walk_chain(mem, RingSource{mem, loc.desc, nullptr}, loc.size, slot, limit, out, buf,
             read_indirect);
}

void take_packed_snapshot(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
                          RingSnapshot& out) {
  ring_reading::begin_snapshot(loc, RingType::Packed, out);
  if (!loc.readable()) return;

  const auto st = read_packed_state(mem, loc, scratch);
  if (!st) {
    const uint32_t part = !mem.mapped(loc.desc, kDescSize * loc.size) ? 0u
                          : !mem.mapped(loc.driver, 4)                ? 1u
                                                                      : 2u;
    const uint64_t addr = part == 0 ? loc.desc : part == 1 ? loc.driver : loc.device;
    push_fault(out.faults, {RingFaultKind::PartUnreadable, ChainError::None, 0, part, addr});
    return;
  }
  out.indices_ok = true;
  out.avail_idx = st->next_avail.encoded();
  out.avail_flags = st->driver.flags;
  out.used_event = st->driver.off_wrap;
  out.used_idx = st->next_used.encoded();
  out.used_flags = st->device.flags;
  out.avail_event = st->device.off_wrap;

  // Every in-flight chain is walked over the ring copy to count buffers; the oldest few are
  // walked in full (indirect tables read, buffers checked).
  const RingSource ring{mem, loc.desc, scratch.ring.data()};
  uint16_t pos = st->next_used.index;
  uint32_t remaining = st->inflight_descs;
  for (size_t i = 0; remaining > 0; ++i) {
    const bool full = i < kSnapshotWalkedChains;
    walk_chain(mem, ring, loc.size, pos, remaining, scratch.chain, scratch.indirect, full);
    const Chain& ch = scratch.chain;
    ++out.inflight;
    if (out.heads.size() < kSnapshotMaxHeads) out.heads.push_back(ch.id);
    ring_reading::keep_chain_head(mem, ch, loc, i, out);
    if (ch.error != ChainError::None)
      push_fault(out.faults,
                 {RingFaultKind::Chain, ch.error, ch.head, ch.error_at, ch.error_value});
    if (ch.error != ChainError::None && ch.error != ChainError::BufferUnmapped) {
      // Where the next chain starts is unknown after a broken one.
      out.heads_approximate = true;
      break;
    }
    pos = static_cast<uint16_t>((pos + ch.ring_descs) % loc.size);
    remaining -= std::min<uint32_t>(remaining, ch.ring_descs);
  }
}

}  // namespace vhs
