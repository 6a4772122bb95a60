// Ring sampling glue: locating a ring through the memory table, dispatching a snapshot to the split
// or packed reader, and the RingState payload encoding (docs/ring-state-format.md).
#include "decoders/virtio/ring_snapshot.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "decoders/virtio/packed_ring.hpp"
#include "decoders/virtio/split_ring.hpp"

namespace vhs {
namespace {

// Header flag bits (docs/ring-state-format.md).
constexpr uint16_t kFlagEventIdx = 0x1;
constexpr uint16_t kFlagIndicesOk = 0x2;
constexpr uint16_t kFlagVringBase = 0x4;
constexpr uint16_t kFlagPending = 0x8;
constexpr uint16_t kFlagHeadsApproximate = 0x10;

void put8(std::vector<uint8_t>& b, size_t off, uint8_t v) { b[off] = v; }
void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v);
  b[off + 1] = static_cast<uint8_t>(v >> 8);
}
void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  put16(b, off, static_cast<uint16_t>(v));
  put16(b, off + 2, static_cast<uint16_t>(v >> 16));
}
void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
  put32(b, off, static_cast<uint32_t>(v));
  put32(b, off + 4, static_cast<uint32_t>(v >> 32));
}

std::optional<RingSnapshot> bad(std::string* error, std::string why) {
  if (error) *error = std::move(why);
  return std::nullopt;
}

}  // namespace

void push_fault(std::vector<RingFault>& faults, const RingFault& f) {
  if (faults.size() < kSnapshotMaxFaults) faults.push_back(f);
}

std::string_view ring_type_name(RingType t) {
  switch (t) {
    case RingType::Split: return "split";
    case RingType::Packed: return "packed";
  }
  return "unknown";
}

RingLocation locate_ring(const MemoryMap& map, uint32_t queue, uint32_t num,
                         const VringAddrValue& addr, uint64_t features, DeviceKind device) {
  RingLocation loc;
  loc.queue = queue;
  loc.type = ((features >> kFeatureRingPacked) & 1u) ? RingType::Packed : RingType::Split;
  loc.event_idx = ((features >> kFeatureEventIdx) & 1u) != 0;
  loc.detail = DetailContext{device, queue, features};
  const bool power_of_two = num != 0 && (num & (num - 1)) == 0;
  if (num == 0 || num > kMaxQueueSize || (loc.type == RingType::Split && !power_of_two)) {
    push_fault(loc.faults, {RingFaultKind::SizeInvalid, ChainError::None, 0, 0, num});
    return loc;
  }
  loc.size = static_cast<uint16_t>(num);
  if ((features >> kFeatureAccessPlatform) & 1u) {
    loc.iova = true;
    return loc;
  }
  const uint64_t n = num;
  const uint64_t ev = loc.event_idx ? 2 : 0;
  // Part sizes: VIRTIO spec "Split Virtqueues" and "Packed Virtqueues".
  const std::array<uint64_t, 3> sizes =
      loc.type == RingType::Split ? std::array<uint64_t, 3>{16 * n, 4 + 2 * n + ev, 4 + 8 * n + ev}
                                  : std::array<uint64_t, 3>{16 * n, 4, 4};
  const std::array<uint64_t, 3> uvas = {addr.desc_user_addr, addr.avail_user_addr,
                                        addr.used_user_addr};
  std::array<uint64_t*, 3> gpas = {&loc.desc, &loc.driver, &loc.device};
  for (uint32_t part = 0; part < 3; ++part) {
    if (auto gpa = map.uva_range_to_gpa(uvas[part], sizes[part]))
      *gpas[part] = *gpa;
    else
      push_fault(loc.faults, {RingFaultKind::PartUnmapped, ChainError::None, 0, part, uvas[part]});
  }
  return loc;
}

void take_ring_snapshot(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch,
                        RingSnapshot& out) {
  if (loc.type == RingType::Packed)
    take_packed_snapshot(mem, loc, scratch, out);
  else
    take_split_snapshot(mem, loc, scratch, out);
}

void take_settled_ring_snapshot(const GuestMemoryView& mem, const RingLocation& loc,
                                RingScratch& scratch, RingSnapshot& out, RingSnapshot& spare,
                                int retries) {
  take_ring_snapshot(mem, loc, scratch, out);
  for (int i = 0; i < retries && !out.faults.empty(); ++i) {
    take_ring_snapshot(mem, loc, scratch, spare);
    if (spare == out) return;
    std::swap(out, spare);
  }
}

RingSnapshot take_ring_snapshot(const GuestMemoryView& mem, const RingLocation& loc) {
  RingScratch scratch;
  RingSnapshot s;
  take_ring_snapshot(mem, loc, scratch, s);
  return s;
}

void encode_ring_snapshot(const RingSnapshot& s, std::vector<uint8_t>& b) {
  const size_t heads = std::min<size_t>(s.heads.size(), 255);
  const size_t faults = std::min<size_t>(s.faults.size(), 255);
  const size_t oldest_len = s.oldest ? kRingStateOldestLen : 0;
  const size_t chain_heads = std::min<size_t>(s.chain_heads.size(), 255);
  b.assign(kRingStateHeaderLen + 2 * heads + oldest_len + kRingStateFaultLen * faults +
               kRingStateChainHeadLen * chain_heads,
           0);
  uint16_t flags = 0;
  if (s.event_idx) flags |= kFlagEventIdx;
  if (s.indices_ok) flags |= kFlagIndicesOk;
  if (s.vring_base) flags |= kFlagVringBase;
  if (s.pending) flags |= kFlagPending;
  if (s.heads_approximate) flags |= kFlagHeadsApproximate;
  put8(b, 0, kRingStateVersion);
  put8(b, 1, static_cast<uint8_t>(s.type));
  put16(b, 2, kRingStateHeaderLen);
  put32(b, 4, s.queue);
  put16(b, 8, s.size);
  put16(b, 10, flags);
  put16(b, 12, s.avail_idx);
  put16(b, 14, s.avail_flags);
  put16(b, 16, s.used_idx);
  put16(b, 18, s.used_flags);
  put16(b, 20, s.used_event);
  put16(b, 22, s.avail_event);
  put32(b, 24, s.vring_base.value_or(0));
  put32(b, 28, s.inflight);
  put32(b, 32, s.pending.value_or(0));
  put8(b, 36, static_cast<uint8_t>(heads));
  put8(b, 37, static_cast<uint8_t>(faults));
  put8(b, 38, static_cast<uint8_t>(oldest_len));
  put8(b, 39, kRingStateFaultLen);
  put8(b, 40, static_cast<uint8_t>(chain_heads));
  put8(b, 41, static_cast<uint8_t>(kRingStateChainHeadLen));
  size_t off = kRingStateHeaderLen;
  for (size_t i = 0; i < heads; ++i, off += 2) put16(b, off, s.heads[i]);
  if (s.oldest) {
    const BufferSummary& o = *s.oldest;
    put16(b, off + 0, o.head);
    put16(b, off + 2, o.descs);
    put8(b, off + 4, static_cast<uint8_t>(o.device));
    put8(b, off + 5, static_cast<uint8_t>(o.error));
    put8(b, off + 6, o.detail_ok ? 1 : 0);
    put32(b, off + 8, o.op);
    put64(b, off + 16, o.arg);
    put64(b, off + 24, o.data_len);
    put64(b, off + 32, o.readable_bytes);
    put64(b, off + 40, o.writable_bytes);
    off += kRingStateOldestLen;
  }
  for (size_t i = 0; i < faults; ++i, off += kRingStateFaultLen) {
    const RingFault& f = s.faults[i];
    put8(b, off + 0, static_cast<uint8_t>(f.kind));
    put8(b, off + 1, static_cast<uint8_t>(f.chain));
    put16(b, off + 2, f.head);
    put32(b, off + 4, f.index);
    put64(b, off + 8, f.value);
  }
  for (size_t i = 0; i < chain_heads; ++i, off += kRingStateChainHeadLen) {
    const ChainHead& h = s.chain_heads[i];
    put16(b, off + 0, h.head);
    put16(b, off + 2, h.descs);
    put8(b, off + 4, static_cast<uint8_t>(h.error));
    put8(b, off + 5, h.byte_count);
    put64(b, off + 8, h.readable_bytes);
    put64(b, off + 16, h.writable_bytes);
    std::copy_n(h.bytes.begin(), std::min<size_t>(h.byte_count, kChainHeadBytes),
                b.begin() + off + 24);
  }
}

std::vector<uint8_t> encode_ring_snapshot(const RingSnapshot& s) {
  std::vector<uint8_t> b;
  encode_ring_snapshot(s, b);
  return b;
}

std::optional<RingSnapshot> decode_ring_snapshot(std::span<const uint8_t> bytes,
                                                 std::string* error) {
  if (bytes.size() < 4)
    return bad(error,
               fmt::format("ring-state payload of {} bytes is shorter than its 4-byte preamble",
                           bytes.size()));
  const uint8_t* p = bytes.data();
  if (p[0] != kRingStateVersion)
    return bad(error, fmt::format("ring-state version {} is not supported (expected {})", p[0],
                                  kRingStateVersion));
  const size_t header_len = load_le16(p + 2);
  if (header_len < kRingStateHeaderLenV1)
    return bad(error, fmt::format("ring-state header_len {} is below {}", header_len,
                                  kRingStateHeaderLenV1));
  if (bytes.size() < header_len)
    return bad(error, fmt::format("ring-state payload of {} bytes is shorter than header_len {}",
                                  bytes.size(), header_len));
  if (p[1] > static_cast<uint8_t>(RingType::Packed))
    return bad(error,
               fmt::format("ring-state ring type {} is neither 0 (split) nor 1 (packed)", p[1]));
  const size_t heads = p[36], faults = p[37], oldest_len = p[38], fault_len = p[39];
  if (oldest_len != 0 && oldest_len < kRingStateOldestLen)
    return bad(error, fmt::format("ring-state oldest_len {} is neither 0 nor at least {}",
                                  oldest_len, kRingStateOldestLen));
  if (faults != 0 && fault_len < kRingStateFaultLen)
    return bad(error,
               fmt::format("ring-state fault_len {} is below {}", fault_len, kRingStateFaultLen));
  // Chain heads exist from header_len 44 on; a 40-byte header is an older record without them.
  const bool has_chain_heads = header_len >= kRingStateHeaderLen;
  const size_t chain_heads = has_chain_heads ? p[40] : 0;
  const size_t chain_head_len = has_chain_heads ? p[41] : 0;
  if (chain_heads != 0 && chain_head_len < kRingStateChainHeadLen)
    return bad(error, fmt::format("ring-state chain_head_len {} is below {}", chain_head_len,
                                  kRingStateChainHeadLen));
  const size_t need =
      header_len + 2 * heads + oldest_len + fault_len * faults + chain_head_len * chain_heads;
  if (bytes.size() < need)
    return bad(error,
               fmt::format("ring-state payload of {} bytes is shorter than the {} its counts need",
                           bytes.size(), need));

  RingSnapshot s;
  const uint16_t flags = load_le16(p + 10);
  s.type = static_cast<RingType>(p[1]);
  s.queue = load_le32(p + 4);
  s.size = load_le16(p + 8);
  s.event_idx = flags & kFlagEventIdx;
  s.indices_ok = flags & kFlagIndicesOk;
  s.heads_approximate = flags & kFlagHeadsApproximate;
  s.avail_idx = load_le16(p + 12);
  s.avail_flags = load_le16(p + 14);
  s.used_idx = load_le16(p + 16);
  s.used_flags = load_le16(p + 18);
  s.used_event = load_le16(p + 20);
  s.avail_event = load_le16(p + 22);
  if (flags & kFlagVringBase) s.vring_base = load_le32(p + 24);
  s.inflight = load_le32(p + 28);
  if (flags & kFlagPending) s.pending = load_le32(p + 32);
  size_t off = header_len;
  s.heads.reserve(heads);
  for (size_t i = 0; i < heads; ++i, off += 2) s.heads.push_back(load_le16(p + off));
  if (oldest_len) {
    BufferSummary o;
    o.head = load_le16(p + off);
    o.descs = load_le16(p + off + 2);
    o.device = static_cast<DeviceKind>(p[off + 4]);
    o.error = static_cast<ChainError>(p[off + 5]);
    o.detail_ok = p[off + 6] != 0;
    o.op = load_le32(p + off + 8);
    o.arg = load_le64(p + off + 16);
    o.data_len = load_le64(p + off + 24);
    o.readable_bytes = load_le64(p + off + 32);
    o.writable_bytes = load_le64(p + off + 40);
    s.oldest = o;
    off += oldest_len;
  }
  for (size_t i = 0; i < faults; ++i, off += fault_len) {
    RingFault f;
    f.kind = static_cast<RingFaultKind>(p[off]);
    f.chain = static_cast<ChainError>(p[off + 1]);
    f.head = load_le16(p + off + 2);
    f.index = load_le32(p + off + 4);
    f.value = load_le64(p + off + 8);
    s.faults.push_back(f);
  }
  s.chain_heads.reserve(chain_heads);
  for (size_t i = 0; i < chain_heads; ++i, off += chain_head_len) {
    ChainHead h;
    h.head = load_le16(p + off);
    h.descs = load_le16(p + off + 2);
    h.error = static_cast<ChainError>(p[off + 4]);
    h.byte_count = static_cast<uint8_t>(std::min<size_t>(p[off + 5], kChainHeadBytes));
    h.readable_bytes = load_le64(p + off + 8);
    h.writable_bytes = load_le64(p + off + 16);
    std::copy_n(p + off + 24, h.byte_count, h.bytes.begin());
    s.chain_heads.push_back(h);
  }
  return s;
}

void redetail_ring_snapshot(RingSnapshot& s, DeviceKind device, uint64_t features) {
  if (device == DeviceKind::Unknown || s.chain_heads.empty() || !s.oldest) return;
  const ChainHead& first = s.chain_heads.front();
  if (first.head != s.oldest->head) return;
  s.oldest = summarize_chain_head(first, DetailContext{device, s.queue, features});
}

std::string describe_ring_snapshot(const RingSnapshot& s) {
  std::string line = fmt::format("q{} {} size {}", s.queue, ring_type_name(s.type), s.size);
  if (!s.indices_ok) {
    line += " unreadable";
  } else if (s.type == RingType::Split) {
    line += fmt::format(" avail {} used {}", s.avail_idx, s.used_idx);
    if (s.event_idx)
      line += fmt::format(" used_event {} avail_event {}", s.used_event, s.avail_event);
    if (s.avail_flags) line += fmt::format(" avail_flags {:#x}", s.avail_flags);
    if (s.used_flags) line += fmt::format(" used_flags {:#x}", s.used_flags);
  } else {
    line += fmt::format(" avail {}/w{} used {}/w{} driver_evt {:#x}/{} device_evt {:#x}/{}",
                        s.avail_idx & 0x7fff, s.avail_idx >> 15, s.used_idx & 0x7fff,
                        s.used_idx >> 15, s.used_event, s.avail_flags, s.avail_event, s.used_flags);
  }
  if (s.indices_ok) {
    line += fmt::format(" inflight {}", s.inflight);
    if (s.pending) line += fmt::format(" (unfetched {})", *s.pending);
    if (!s.heads.empty()) {
      line += " [";
      for (size_t i = 0; i < s.heads.size(); ++i)
        line += fmt::format("{}{}", i ? " " : "", s.heads[i]);
      if (s.heads.size() < s.inflight) line += " ...";
      line += "]";
    }
    if (s.heads_approximate) line += " approx";
    if (s.oldest) line += " oldest " + describe_buffer(*s.oldest);
  }
  if (!s.faults.empty()) line += fmt::format(" faults {}", s.faults.size());
  return line;
}

}  // namespace vhs
