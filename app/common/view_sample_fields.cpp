#include "app/common/view_sample_fields.hpp"

#include <fmt/format.h>

#include "app/common/text_escape.hpp"
#include "decoders/session/ring_health.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::view {
namespace {

class FieldList {
 public:
  void add(std::string path, FieldValue value, std::string text, size_t offset, size_t length,
           uint8_t depth) {
    fields_.push_back({std::move(path), std::move(value), std::move(text),
                       static_cast<uint32_t>(offset), static_cast<uint32_t>(length), depth});
  }
  void number(std::string path, uint64_t v, size_t offset, size_t length, uint8_t depth,
              std::string note = {}) {
    std::string text = std::to_string(v);
    if (!note.empty()) text += "  (" + note + ")";
    add(std::move(path), FieldValue::unsigned_number(v), std::move(text), offset, length, depth);
  }
  std::vector<Field> take() { return std::move(fields_); }

 private:
  std::vector<Field> fields_;
};

uint16_t le16(std::span<const uint8_t> b, size_t off) {
  return static_cast<uint16_t>(b[off] | b[off + 1] << 8);
}

std::string flag_names(uint16_t flags) {
  static constexpr const char* kNames[] = {"EVENT_IDX", "INDICES_OK", "VRING_BASE", "PENDING",
                                           "HEADS_APPROXIMATE"};
  std::string out;
  for (size_t bit = 0; bit < std::size(kNames); ++bit)
    if (flags & (1u << bit)) out += std::string(out.empty() ? "" : "|") + kNames[bit];
  return out;
}

std::string hex16(uint16_t v) { return fmt::format("{:#x}", v); }

// The six index words; their meaning depends on the ring type (docs/ring-state-format.md 1.1,
// virtio spec "Driver Event Suppression" / "Device Event Suppression" for packed rings).
void index_fields(FieldList& out, const RingSnapshot& s) {
  if (!s.indices_ok) {
    out.add("indexes", FieldValue::none(), "not readable (see faults)", 12, 12, 0);
    return;
  }
  if (s.type == RingType::Split) {
    out.number("avail_idx", s.avail_idx, 12, 2, 0, "made available");
    out.add("avail_flags",
            FieldValue::flags(s.avail_flags, s.avail_flags & 1 ? "NO_INTERRUPT" : ""),
            hex16(s.avail_flags) + (s.avail_flags & 1 ? "  (NO_INTERRUPT)" : ""), 14, 2, 0);
    out.number("used_idx", s.used_idx, 16, 2, 0, "completed");
    out.add("used_flags", FieldValue::flags(s.used_flags, s.used_flags & 1 ? "NO_NOTIFY" : ""),
            hex16(s.used_flags) + (s.used_flags & 1 ? "  (NO_NOTIFY)" : ""), 18, 2, 0);
    if (s.event_idx) {
      out.number("used_event", s.used_event, 20, 2, 0, "call wanted after");
      out.number("avail_event", s.avail_event, 22, 2, 0, "kick wanted after");
    }
    return;
  }
  auto position = [](uint16_t v) {
    return fmt::format("{}  (position {}, wrap {})", v, v & 0x7fff, v >> 15);
  };
  out.add("driver_position", FieldValue::unsigned_number(s.avail_idx), position(s.avail_idx), 12, 2,
          0);
  out.add("driver_event_flags", FieldValue::unsigned_number(s.avail_flags), hex16(s.avail_flags),
          14, 2, 0);
  out.add("device_position", FieldValue::unsigned_number(s.used_idx), position(s.used_idx), 16, 2,
          0);
  out.add("device_event_flags", FieldValue::unsigned_number(s.used_flags), hex16(s.used_flags), 18,
          2, 0);
  out.add("driver_event_off_wrap", FieldValue::unsigned_number(s.used_event), hex16(s.used_event),
          20, 2, 0);
  out.add("device_event_off_wrap", FieldValue::unsigned_number(s.avail_event), hex16(s.avail_event),
          22, 2, 0);
}

void oldest_fields(FieldList& out, const BufferSummary& b, size_t at) {
  out.add("oldest", FieldValue::none(), escape_text(describe_buffer(b)), at, kRingStateOldestLen,
          0);
  out.number("oldest.head", b.head, at, 2, 1);
  out.number("oldest.descs", b.descs, at + 2, 2, 1);
  out.add("oldest.device",
          FieldValue::enumerated(static_cast<uint64_t>(b.device), device_kind_name(b.device)),
          std::string(device_kind_name(b.device)), at + 4, 1, 1);
  if (b.error != ChainError::None)
    out.add("oldest.chain_error",
            FieldValue::enumerated(static_cast<uint64_t>(b.error), chain_error_name(b.error)),
            std::string(chain_error_name(b.error)), at + 5, 1, 1);
  if (b.detail_ok) {
    out.number("oldest.op", b.op, at + 8, 4, 1);
    out.number("oldest.arg", b.arg, at + 16, 8, 1,
               b.device == DeviceKind::Blk ? "sector" : std::string());
    out.number("oldest.data_len", b.data_len, at + 24, 8, 1);
  }
  out.number("oldest.readable_bytes", b.readable_bytes, at + 32, 8, 1);
  out.number("oldest.writable_bytes", b.writable_bytes, at + 40, 8, 1);
}

std::vector<Field> ring_state_fields(std::span<const uint8_t> bytes) {
  FieldList out;
  std::string error;
  const auto s = decode_ring_snapshot(bytes, &error);
  if (!s) {
    out.add("ring_state", FieldValue::none(), "undecodable: " + error, 0, bytes.size(), 0);
    return out.take();
  }
  // The decoder accepted the sizes below (versioned header, documented sections).
  const size_t header_len = le16(bytes, 2);
  const size_t head_count = bytes[36];
  const size_t oldest_len = bytes[38];
  const size_t fault_len = bytes[39];
  out.number("queue", s->queue, 4, 4, 0);
  out.add("ring_type",
          FieldValue::enumerated(static_cast<uint64_t>(s->type), ring_type_name(s->type)),
          std::string(ring_type_name(s->type)), 1, 1, 0);
  out.number("size", s->size, 8, 2, 0, "descriptors");
  const uint16_t flags = le16(bytes, 10);
  out.add("flags", FieldValue::flags(flags, flag_names(flags)),
          hex16(flags) + "  (" + flag_names(flags) + ")", 10, 2, 0);
  index_fields(out, *s);
  if (s->vring_base) out.number("vring_base", *s->vring_base, 24, 4, 0, "last vring base");
  out.number("in_flight", s->inflight, 28, 4, 0, "available, not used");
  if (s->pending) out.number("not_fetched", *s->pending, 32, 4, 0, "not read by the back-end");
  if (!s->heads.empty()) {
    std::string list;
    for (uint16_t h : s->heads) list += (list.empty() ? "" : " ") + std::to_string(h);
    if (s->heads.size() < s->inflight) list += " …";
    if (s->heads_approximate) list += "  (approximate)";
    out.add("heads", FieldValue::text(list), list, header_len, head_count * 2, 0);
  }
  const size_t oldest_at = header_len + head_count * 2;
  if (s->oldest) oldest_fields(out, *s->oldest, oldest_at);
  const size_t faults_at = oldest_at + oldest_len;
  for (size_t k = 0; k < s->faults.size(); ++k)
    out.add(fmt::format("fault[{}]", k),
            FieldValue::unsigned_number(static_cast<uint64_t>(s->faults[k].kind)),
            escape_text(fault_finding(*s, s->faults[k]).detail), faults_at + k * fault_len,
            fault_len, 0);
  return out.take();
}

std::vector<Field> notify_fields(std::span<const uint8_t> bytes) {
  FieldList out;
  std::string error;
  const auto n = decode_notify(bytes, &error);
  if (!n) {
    out.add("notify", FieldValue::none(), "undecodable: " + error, 0, bytes.size(), 0);
    return out.take();
  }
  out.number("queue", n->queue, 6, 2, 0);
  out.add("source",
          FieldValue::enumerated(static_cast<uint64_t>(n->source), notify_source_name(n->source)),
          std::string(notify_source_name(n->source)), 1, 1, 0);
  out.add("event",
          FieldValue::enumerated(static_cast<uint64_t>(n->event), notify_event_name(n->event)),
          std::string(notify_event_name(n->event)), 4, 1, 0);
  out.number("count", n->count, 8, 8, 0, "coalesced notifications");
  return out.take();
}

}  // namespace

std::vector<Field> sample_fields(const Store& store, size_t i) {
  switch (store.entry(i).kind) {
    case RecordKind::RingState: return ring_state_fields(store.bytes(i));
    case RecordKind::Notify: return notify_fields(store.bytes(i));
    default: return {};
  }
}

std::string ring_state_summary(const Store& store, size_t i) {
  if (store.entry(i).kind != RecordKind::RingState) return {};
  std::string error;
  const auto s = decode_ring_snapshot(store.bytes(i), &error);
  if (!s) return "(" + error + ")";
  std::string out = fmt::format("q{} ", s->queue);
  if (!s->indices_ok) {
    out += "indexes unreadable";
  } else {
    out += s->inflight ? fmt::format("{} in flight", s->inflight) : std::string("idle");
    if (s->pending && *s->pending) out += fmt::format(" ({} not fetched)", *s->pending);
    // Buffer details quote guest memory (file names, frames): escaped like any outside text.
    if (s->oldest) out += " · oldest " + escape_text(describe_buffer(*s->oldest));
    if (s->type == RingType::Split)
      out += fmt::format(" · avail {} used {}", s->avail_idx, s->used_idx);
    else
      out += fmt::format(" · avail {}/w{} used {}/w{}", s->avail_idx & 0x7fff, s->avail_idx >> 15,
                         s->used_idx & 0x7fff, s->used_idx >> 15);
  }
  if (!s->faults.empty())
    out += fmt::format(" · {} fault{}", s->faults.size(), s->faults.size() == 1 ? "" : "s");
  return out;
}

}  // namespace vhs::view
