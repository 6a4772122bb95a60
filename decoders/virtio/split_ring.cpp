// Split virtqueue reading: index words, used elements, bounded chain walks, in-flight heads and
// the split-ring snapshot.
#include "decoders/virtio/split_ring.hpp"

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
  uint16_t flags;
  uint16_t next;
};

RawDesc parse_desc(const uint8_t* p) {
  return RawDesc{load_le64(p), load_le32(p + 8), load_le16(p + 12), load_le16(p + 14)};
}

using TableSource = ring_reading::DescSource<RawDesc, parse_desc>;

// Walks an indirect table (spec 2.7.5.3): entries chained by `next` inside the table, no nesting.
void walk_indirect(const GuestMemoryView& mem, const RawDesc& ind, uint16_t at, Chain& c,
                   std::vector<uint8_t>& buf) {
  if (!ring_reading::indirect_shape_ok(c, ind, at)) return;
  if (!ring_reading::read_indirect_table(mem, c, ind, at, buf)) return;
  const uint32_t n = ind.len / kDescSize;
  uint32_t j = 0;
  for (uint32_t steps = 0;; ++steps) {
    if (steps == n) return fail(c, ChainError::Loop, j, steps);
    const RawDesc e = parse_desc(buf.data() + j * kDescSize);
    if (e.flags & kDescIndirect) return fail(c, ChainError::NestedIndirect, j, e.flags);
    add_desc(mem, c, e, static_cast<uint16_t>(j), true, true);
    if (!(e.flags & kDescNext)) return;
    if (e.next >= n) return fail(c, ChainError::NextOutOfRange, j, e.next);
    j = e.next;
  }
}

void walk_chain(const GuestMemoryView& mem, const TableSource& table, uint16_t size, uint16_t head,
                Chain& c, std::vector<uint8_t>& indirect_buf) {
  c.clear();
  c.head = c.id = head;
  if (head >= size) return fail(c, ChainError::HeadOutOfRange, head, head);
  uint16_t idx = head;
  // A chain can hold at most `size` table descriptors (spec 2.7.5.2): one more is a loop.
  for (uint32_t steps = 0;; ++steps) {
    if (steps == size) return fail(c, ChainError::Loop, idx, steps);
    RawDesc d{};
    if (!table.get(idx, d))
      return fail(c, ChainError::TableUnreadable, idx, table.gpa + idx * kDescSize);
    ++c.ring_descs;
    if (d.flags & kDescIndirect) return walk_indirect(mem, d, idx, c, indirect_buf);
    add_desc(mem, c, d, idx, false, true);
    if (!(d.flags & kDescNext)) return;
    if (d.next >= size) return fail(c, ChainError::NextOutOfRange, idx, d.next);
    idx = d.next;
  }
}

struct InflightCount {
  uint32_t total = 0;
  uint32_t found = 0;
  bool approximate = false;
  bool index_fault = false;
  bool unreadable = false;
};

// The counting rule of split_ring.hpp. Appends up to `cap` heads to `heads`.
InflightCount count_inflight(const GuestMemoryView& mem, const RingLocation& loc,
                             const SplitIndices& idx, RingScratch& s,
                             std::vector<RingFault>* faults, std::vector<uint16_t>& heads,
                             size_t cap) {
  InflightCount r;
  const uint32_t n = loc.size;
  const uint16_t a = idx.avail_idx, u = idx.used_idx;
  const uint32_t k = static_cast<uint16_t>(a - u);
  if (k > n) {
    r.index_fault = true;
    if (faults) push_fault(*faults, {RingFaultKind::IndexAhead, ChainError::None, 0, u, a});
    return r;
  }
  r.total = k;
  if (k == 0) return r;

  s.ring.resize(10 * static_cast<size_t>(n));
  const std::span<uint8_t> avail(s.ring.data(), 2 * static_cast<size_t>(n));
  const std::span<uint8_t> used(s.ring.data() + avail.size(), 8 * static_cast<size_t>(n));
  if (!mem.read(loc.driver + 4, avail) || !mem.read(loc.device + 4, used)) {
    r.unreadable = r.approximate = true;
    return r;
  }
  s.counts.assign(n, 0);
  s.last.assign(n, UINT32_MAX);
  const uint16_t start = static_cast<uint16_t>(a - n);
  const uint32_t mask = n - 1;  // split sizes are powers of two dividing 65536
  auto avail_head = [&](uint32_t p) {
    return load_le16(avail.data() + 2 * (static_cast<uint16_t>(start + p) & mask));
  };
  for (uint32_t p = 0; p < n; ++p) {
    const uint16_t h = avail_head(p);
    if (h >= n) {
      if (p >= n - k && faults)  // only the in-flight part of the window must be valid
        push_fault(*faults, {RingFaultKind::HeadOutOfRange, ChainError::None, h,
                             static_cast<uint16_t>(start + p), h});
      continue;
    }
    ++s.counts[h];
    s.last[h] = p;
  }
  for (uint32_t q = 0; q < n - k; ++q) {
    const uint16_t pos = static_cast<uint16_t>(start + q);
    const uint32_t id = load_le32(used.data() + 8 * (pos & mask));
    if (id >= n) {
      if (faults)
        push_fault(*faults, {RingFaultKind::UsedIdOutOfRange, ChainError::None, 0, pos, id});
      continue;
    }
    --s.counts[id];
  }
  for (uint32_t p = 0; p < n; ++p) {
    const uint16_t h = avail_head(p);
    if (h >= n || s.last[h] != p || s.counts[h] < 1) continue;
    if (s.counts[h] > 1) r.approximate = true;
    if (heads.size() < cap) heads.push_back(h);
    ++r.found;
  }
  if (r.found != r.total) r.approximate = true;
  return r;
}

}  // namespace

std::optional<SplitIndices> read_split_indices(const GuestMemoryView& mem,
                                               const RingLocation& loc) {
  SplitIndices x;
  auto a_idx = read_le16(mem, loc.driver + 2);
  auto u_idx = read_le16(mem, loc.device + 2);
  auto a_flags = read_le16(mem, loc.driver);
  auto u_flags = read_le16(mem, loc.device);
  if (!a_idx || !u_idx || !a_flags || !u_flags) return std::nullopt;
  x.avail_idx = *a_idx;
  x.used_idx = *u_idx;
  x.avail_flags = *a_flags;
  x.used_flags = *u_flags;
  if (loc.event_idx) {
    auto used_event = read_le16(mem, loc.driver + 4 + 2 * uint64_t{loc.size});
    auto avail_event = read_le16(mem, loc.device + 4 + 8 * uint64_t{loc.size});
    if (!used_event || !avail_event) return std::nullopt;
    x.used_event = *used_event;
    x.avail_event = *avail_event;
  }
  return x;
}

bool read_split_used(const GuestMemoryView& mem, const RingLocation& loc, uint16_t used_idx,
                     uint16_t count, std::vector<SplitUsedElem>& out) {
  out.clear();
  if (loc.size == 0) return count == 0;
  count = std::min<uint16_t>(count, loc.size);
  for (uint16_t i = 0; i < count; ++i) {
    const uint16_t pos = static_cast<uint16_t>(used_idx - count + i);
    std::array<uint8_t, 8> b{};
    if (!mem.read(loc.device + 4 + 8 * uint64_t{static_cast<uint16_t>(pos % loc.size)}, b))
      return false;
    out.push_back({load_le32(b.data()), load_le32(b.data() + 4)});
  }
  return true;
}

void walk_split_chain(const GuestMemoryView& mem, const RingLocation& loc, uint16_t head,
                      Chain& out, RingScratch* scratch) {
  std::vector<uint8_t> local;
  std::vector<uint8_t>& buf = scratch ? scratch->indirect : local;
  walk_chain(mem, TableSource{mem, loc.desc, nullptr}, loc.size, head, out, buf);
}

SplitInflight split_inflight(const GuestMemoryView& mem, const RingLocation& loc,
                             const SplitIndices& idx, RingScratch& scratch,
                             std::vector<RingFault>* faults) {
  SplitInflight r;
  const InflightCount c = count_inflight(mem, loc, idx, scratch, faults, r.heads, SIZE_MAX);
  r.total = c.total;
  r.approximate = c.approximate;
  return r;
}

void take_split_snapshot(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
                         RingSnapshot& out) {
  ring_reading::begin_snapshot(loc, RingType::Split, out);
  if (!loc.readable()) return;

  const auto idx = read_split_indices(mem, loc);
  if (!idx) {
    const bool avail_ok = mem.mapped(loc.driver, 4);
    push_fault(out.faults, {RingFaultKind::PartUnreadable, ChainError::None, 0, avail_ok ? 2u : 1u,
                            avail_ok ? loc.device : loc.driver});
    return;
  }
  out.indices_ok = true;
  out.avail_idx = idx->avail_idx;
  out.avail_flags = idx->avail_flags;
  out.used_idx = idx->used_idx;
  out.used_flags = idx->used_flags;
  out.used_event = idx->used_event;
  out.avail_event = idx->avail_event;

  const InflightCount c =
      count_inflight(mem, loc, *idx, scratch, &out.faults, out.heads, kSnapshotMaxHeads);
  out.inflight = c.total;
  out.heads_approximate = c.approximate;
  if (c.unreadable) {
    push_fault(out.faults, {RingFaultKind::PartUnreadable, ChainError::None, 0, 1, loc.driver});
    return;
  }
  if (c.index_fault) return;
  if (loc.vring_base) {
    // The back-end has fetched up to last_avail_idx: used <= last_avail <= avail (mod 2^16).
    const uint16_t last_avail = static_cast<uint16_t>(*loc.vring_base);
    const uint32_t fetched_not = static_cast<uint16_t>(idx->avail_idx - last_avail);
    if (fetched_not > c.total)
      push_fault(out.faults,
                 {RingFaultKind::BaseMismatch, ChainError::None, 0, idx->used_idx, last_avail});
    else
      out.pending = fetched_not;
  }
  if (out.heads.empty()) return;

  // Validate the oldest chains. Up to 4096 entries (64 KiB) the table is copied once, one read
  // instead of one per descriptor; bigger tables are read per descriptor so that a sample never
  // copies more than that.
  const size_t table_bytes = kDescSize * loc.size;
  const uint8_t* copy = nullptr;
  if (table_bytes <= 64 * 1024) {
    scratch.table.resize(table_bytes);
    if (!mem.read(loc.desc, scratch.table)) {
      push_fault(out.faults, {RingFaultKind::PartUnreadable, ChainError::None, 0, 0, loc.desc});
      return;
    }
    copy = scratch.table.data();
  }
  const TableSource table{mem, loc.desc, copy};
  const size_t walks = std::min(out.heads.size(), kSnapshotWalkedChains);
  for (size_t i = 0; i < walks; ++i) {
    walk_chain(mem, table, loc.size, out.heads[i], scratch.chain, scratch.indirect);
    const Chain& ch = scratch.chain;
    if (ch.error != ChainError::None)
      push_fault(out.faults,
                 {RingFaultKind::Chain, ch.error, ch.head, ch.error_at, ch.error_value});
    ring_reading::keep_chain_head(mem, ch, loc, i, out);
  }
}

}  // namespace vhs
