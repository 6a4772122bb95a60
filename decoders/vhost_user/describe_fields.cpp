// The full field tree of one message (header, payload fields, fds) with byte offsets into the
// whole message, for `dump -V` and the GUI's hex highlighting. Each line carries its typed value
// and its rendering. Payload offsets come only from the layout slots (payload_layout.hpp); path
// names follow field_paths.hpp. Not on the hot path.
#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "decoders/vhost_user/byte_reader.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/virtio/device_config.hpp"

namespace vhs {
namespace {

struct Rendered {
  FieldValue value;
  std::string text;
};

std::string bytes_hex(std::span<const uint8_t> b, size_t limit = 64) {
  std::string s;
  for (size_t i = 0; i < b.size() && i < limit; ++i)
    s += fmt::format("{}{:02x}", i ? " " : "", b[i]);
  if (b.size() > limit) s += fmt::format(" ... ({} bytes)", b.size());
  return s;
}

std::string join(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  if (name.empty()) return std::string(prefix);
  return fmt::format("{}.{}", prefix, name);
}

Rendered enumerated(uint64_t v, std::string_view name) {
  return {FieldValue::enumerated(v, name), named_value(name, v)};
}

Rendered yes_no(bool v) { return {FieldValue::boolean(v), v ? "yes" : "no"}; }

class TreeBuilder {
 public:
  TreeBuilder(std::span<const uint8_t> payload, const DecodeContext& ctx)
      : r_(payload), ctx_(ctx) {}

  std::vector<Field> fields;
  uint32_t explained = 0;  // end of the last payload byte a line explains

  void add(std::string path, Rendered r, uint32_t payload_offset, uint32_t length, uint8_t depth) {
    fields.push_back({std::move(path), std::move(r.value), std::move(r.text),
                      static_cast<uint32_t>(kHeaderSize) + payload_offset, length, depth});
    if (depth == 0 || fields.back().value.kind != ValueKind::None)
      explained = std::max(explained, payload_offset + length);
  }

  // Emits the slots found at `base` (those whose bytes are absent are skipped) and the children
  // of the words that have some.
  void walk(std::string_view prefix, std::span<const PayloadSlot> slots, uint32_t base,
            uint8_t depth) {
    for (const PayloadSlot& s : slots) {
      const uint32_t at = base + s.offset;
      if (!r_.has(at, s.size)) continue;
      const std::string path = join(prefix, s.name);
      add(path, render(s, at), at, s.size, depth);
      const uint64_t word = read_slot(r_, s, base);
      switch (s.style) {
        case SlotStyle::IndexNofd:
          bit_ranges(path, layout::kVringIndexBits, word, at, depth);
          break;
        case SlotStyle::StateResult:
          bit_ranges(path, layout::kStateResultBits, word, at, depth);
          break;
        case SlotStyle::Features: feature_bits(path, word, false, at, depth); break;
        case SlotStyle::ProtocolFeatures: feature_bits(path, word, true, at, depth); break;
        default: break;
      }
    }
  }

  Rendered render(const PayloadSlot& s, uint32_t at) const {
    const uint64_t v = read_slot(r_, s, at - s.offset);
    switch (s.style) {
      case SlotStyle::Dec: return {FieldValue::unsigned_number(v), fmt::format("{}", v)};
      case SlotStyle::Size: return {FieldValue::unsigned_number(v), size_text(v)};
      case SlotStyle::Address: return {FieldValue::address(v), hex_u64(v)};
      case SlotStyle::HexFlags: return {FieldValue::flags(v, ""), hex_u64(v)};
      case SlotStyle::Padding:
        return {FieldValue::raw_bytes(r_.sub(at, s.size)), bytes_hex(r_.sub(at, s.size))};
      case SlotStyle::PaddingWord: return {FieldValue::raw_bytes(r_.sub(at, s.size)), hex_u64(v)};
      case SlotStyle::Features:
        return {FieldValue::flags(v, describe_features(v, ctx_.device)),
                features_text(v, ctx_.device)};
      case SlotStyle::ProtocolFeatures:
        return {FieldValue::flags(v, describe_protocol_features(v)), protocol_features_text(v)};
      case SlotStyle::Status:
        return {FieldValue::flags(v, v > 0xff ? "" : describe_status(static_cast<uint8_t>(v))),
                status_text(v)};
      case SlotStyle::IndexNofd: {
        const uint64_t index = layout::kVringIndexBits[0].extract(v);
        const bool nofd = layout::kVringIndexBits[1].extract(v) != 0;
        return {FieldValue::flags(v, nofd ? "NOFD" : ""),
                fmt::format("0x{:x} (index {}{})", v, index, nofd ? ", NOFD" : "")};
      }
      case SlotStyle::StateResult: {
        const uint64_t error = layout::kStateResultBits[0].extract(v);
        const bool no_fd = layout::kStateResultBits[1].extract(v) != 0;
        return {FieldValue::flags(v, no_fd ? "NO_FD" : ""),
                fmt::format("0x{:x} (error {}{})", v, error, no_fd ? ", no fd" : ", fd")};
      }
      case SlotStyle::VringAddrFlags: {
        const bool log = (v & kVringAddrFlagLog) != 0;
        return {FieldValue::flags(v, log ? "LOG" : ""),
                v == 0 ? std::string("0x0") : fmt::format("0x{:x} ({})", v, log ? "LOG" : "?")};
      }
      case SlotStyle::Ack:
        return {FieldValue::unsigned_number(v),
                v == 0 ? std::string("0 (success)") : fmt::format("{} (failure)", v)};
      case SlotStyle::Mac: return {FieldValue::raw_bytes(r_.sub(at, 6)), mac_text(v)};
      case SlotStyle::Uuid: {
        std::array<uint8_t, 16> u{};
        r_.copy(at, u);
        return {FieldValue::raw_bytes(u), uuid_text(u)};
      }
      case SlotStyle::IotlbType: return enumerated(v, iotlb_type_name(static_cast<uint8_t>(v)));
      case SlotStyle::IotlbPerm: return enumerated(v, iotlb_perm_name(static_cast<uint8_t>(v)));
      case SlotStyle::Direction:
        return enumerated(v, device_state_direction_name(static_cast<uint32_t>(v)));
      case SlotStyle::Phase:
        return enumerated(v, device_state_phase_name(static_cast<uint32_t>(v)));
      case SlotStyle::ConfigFlags:
        return enumerated(v, config_flags_name(static_cast<uint32_t>(v)));
    }
    return {};
  }

  // One line per bit range of a word ("vring.index", "vring.nofd"), pointing at its byte.
  void bit_ranges(const std::string& path, std::span<const BitSlot> bits, uint64_t word,
                  uint32_t at, uint8_t depth) {
    for (const BitSlot& b : bits) {
      const uint64_t v = b.extract(word);
      add(join(path, b.name),
          b.is_flag() ? yes_no(v != 0)
                      : Rendered{FieldValue::unsigned_number(v), fmt::format("{}", v)},
          at + b.byte_offset(), b.byte_length(), depth + 1);
    }
  }

  // One line per set bit, pointing at the byte that holds it.
  void feature_bits(const std::string& path, uint64_t bits, bool protocol, uint32_t at,
                    uint8_t depth) {
    for (unsigned bit = 0; bit < 64; ++bit) {
      if (!((bits >> bit) & 1)) continue;
      const std::string_view name =
          protocol ? protocol_feature_name(bit) : feature_name(ctx_.device, bit);
      add(fmt::format("{}.bit[{}]", path, bit),
          {FieldValue::enumerated(bit, name),
           name.empty() ? std::string("(unnamed)") : std::string(name)},
          at + bit / 8, 1, depth + 1);
    }
  }

  // A memory region: a group line summarising it, then its slots.
  void region(const std::string& path, std::span<const PayloadSlot> slots, uint32_t size,
              uint32_t at, uint8_t depth) {
    if (!r_.has(at, 1)) return;
    add(path,
        {FieldValue::none(),
         fmt::format("gpa {} size {}", hex_u64(read_slot(r_, layout::kRegionGpa, at)),
                     human_size(read_slot(r_, layout::kRegionSize, at)))},
        at, static_cast<uint32_t>(std::min<size_t>(size, r_.size() - at)), depth);
    walk(path, slots, at, depth + 1);
  }

  const ByteReader& reader() const { return r_; }

 private:
  ByteReader r_;
  const DecodeContext& ctx_;
};

FieldValue config_field_value(const ConfigField& f, std::span<const uint8_t> bytes) {
  const uint64_t v = config_field_number(bytes);
  switch (f.style) {
    case ConfigFieldStyle::Dec:
    case ConfigFieldStyle::Sectors: return FieldValue::unsigned_number(v);
    case ConfigFieldStyle::Hex: return FieldValue::flags(v, "");
    case ConfigFieldStyle::Mac: return FieldValue::raw_bytes(bytes);
    case ConfigFieldStyle::NetStatus: return FieldValue::flags(v, net_status_names(v));
    case ConfigFieldStyle::Text: {
      std::string s;
      for (uint8_t c : bytes) {
        if (c == 0) break;
        s += static_cast<char>(c);
      }
      return FieldValue::text(s);
    }
  }
  return FieldValue::raw_bytes(bytes);
}

// Device fields that lie wholly inside the carried window [offset, offset + data.size()).
void config_children(TreeBuilder& t, const std::string& path, uint32_t offset,
                     std::span<const uint8_t> data, DeviceKind device) {
  for (const ConfigField& f : device_config_fields(device)) {
    if (f.offset < offset || uint64_t{f.offset} + f.size > uint64_t{offset} + data.size()) continue;
    const uint32_t at = f.offset - offset;
    const auto bytes = data.subspan(at, f.size);
    t.add(fmt::format("{}.{}", path, f.name),
          {config_field_value(f, bytes), render_config_field(f, bytes)}, kConfigHeaderSize + at,
          f.size, 1);
  }
}

void config_data(const DecodedMessage& msg, TreeBuilder& t, const DecodeContext& ctx) {
  const ByteReader& r = t.reader();
  const uint32_t n = static_cast<uint32_t>(r.size());
  if (n <= kConfigHeaderSize) return;
  const bool ignored = !msg.is_reply && std::holds_alternative<ConfigValue>(msg.payload) &&
                       std::get<ConfigValue>(msg.payload).data.empty();
  const auto data = r.sub(kConfigHeaderSize, n - kConfigHeaderSize);
  const std::string path(layout::kConfigDataName);
  t.add(path,
        {FieldValue::raw_bytes(data),
         ignored ? fmt::format("{} bytes (ignored in a request)", data.size()) : bytes_hex(data)},
        kConfigHeaderSize, static_cast<uint32_t>(data.size()), 0);
  if (!ignored)
    config_children(t, path, read_slot_as<uint32_t>(r, layout::kConfigOffset), data, ctx.device);
}

void describe_payload(const DecodedMessage& msg, TreeBuilder& t, const DecodeContext& ctx) {
  const ByteReader& r = t.reader();
  const uint32_t n = static_cast<uint32_t>(r.size());
  const bool xen =
      ctx.protocol_features_known && has_feature(ctx.protocol_features, ProtocolFeature::XEN_MMAP);
  const PayloadLayout l = payload_layout(msg.payload_kind, xen);
  if (l.any_size) {
    if (n)
      t.add("opaque",
            {FieldValue::raw_bytes(r.sub(0, n)),
             fmt::format("{} bytes: {}", n, bytes_hex(r.sub(0, n), 32))},
            0, n, 0);
  } else {
    t.walk("", l.fixed, 0, 0);
    const uint32_t head = l.fixed_size();
    if (msg.payload_kind == PayloadKind::Config) {
      config_data(msg, t, ctx);
    } else if (l.tail_size != 0 && !l.tail_repeats) {
      t.region(std::string(l.tail_name), l.tail, l.tail_size, head, 0);
    } else if (l.tail_size != 0) {
      const uint32_t count = n >= head ? (n - head) / l.tail_size : 0;
      const bool group = !(l.tail.size() == 1 && l.tail.front().name.empty());
      for (uint32_t i = 0; i < count; ++i) {
        const std::string path = fmt::format("{}[{}]", l.tail_name, i);
        if (group)
          t.region(path, l.tail, l.tail_size, head + i * l.tail_size, 0);
        else
          t.walk(path, l.tail, head + i * l.tail_size, 0);
      }
    }
  }
  // Bytes the layout does not explain (size mismatch, truncation) still get a line so the hex
  // view covers them.
  const uint32_t used = std::min(t.explained, n);
  if (n > used)
    t.add("extra", {FieldValue::raw_bytes(r.sub(used, n - used)), bytes_hex(r.sub(used, n - used))},
          used, n - used, 0);
}

std::string fd_text(const FdInfo& fd) {
  std::string s(fd_kind_name(fd.kind));
  if (fd.inode) s += fmt::format(" inode={}", fd.inode);
  if (fd.size) s += fmt::format(" size={}", size_text(fd.size));
  if (!fd.name.empty()) s += fmt::format(" name={}", fd.name);
  return s;
}

std::string header_flag_names(uint32_t flags) {
  std::string names;
  if (flags & kFlagReply) names = "REPLY";
  if (flags & kFlagNeedReply) names += names.empty() ? "NEED_REPLY" : "|NEED_REPLY";
  return names;
}

void describe_header(const DecodedMessage& msg, std::span<const uint8_t> bytes,
                     std::vector<Field>& out) {
  using namespace layout;
  const ByteReader whole(bytes);
  const uint32_t header_len = static_cast<uint32_t>(std::min(bytes.size(), kHeaderSize));
  out.push_back({"header", FieldValue::none(),
                 msg.header_complete
                     ? fmt::format("{} {}", msg.name(), msg.is_reply ? "reply" : "request")
                     : fmt::format("truncated ({} of {} bytes)", bytes.size(), kHeaderSize),
                 0, header_len, 0});
  if (whole.has(kHeaderRequest.offset, kHeaderRequest.size)) {
    const auto request = read_slot_as<uint32_t>(whole, kHeaderRequest);
    const RequestInfo* info = find_request(msg.channel, request);
    out.push_back({std::string(kHeaderRequest.name),
                   FieldValue::enumerated(request, info ? info->name : std::string_view{}),
                   request_text(msg.channel, request), kHeaderRequest.offset, kHeaderRequest.size,
                   1});
  }
  if (whole.has(kHeaderFlags.offset, kHeaderFlags.size)) {
    const auto flags = read_slot_as<uint32_t>(whole, kHeaderFlags);
    out.push_back({std::string(kHeaderFlags.name),
                   FieldValue::flags(flags, header_flag_names(flags)), header_flags_text(flags),
                   kHeaderFlags.offset, kHeaderFlags.size, 1});
    for (const BitSlot& b : kHeaderFlagBits) {
      const uint64_t v = b.extract(flags);
      const Rendered r = b.is_flag()
                             ? yes_no(v != 0)
                             : Rendered{FieldValue::unsigned_number(v), fmt::format("{}", v)};
      out.push_back({join(kHeaderFlags.name, b.name), r.value, r.text,
                     kHeaderFlags.offset + b.byte_offset(), b.byte_length(), 2});
    }
  }
  if (whole.has(kHeaderSizeField.offset, kHeaderSizeField.size)) {
    const auto size = read_slot_as<uint32_t>(whole, kHeaderSizeField);
    out.push_back({std::string(kHeaderSizeField.name), FieldValue::unsigned_number(size),
                   fmt::format("{}", size), kHeaderSizeField.offset, kHeaderSizeField.size, 1});
  }
}

}  // namespace

std::vector<Field> describe_fields(const DecodedMessage& msg, std::span<const uint8_t> bytes,
                                   std::span<const FdInfo> fds, const DecodeContext& ctx) {
  std::vector<Field> out;
  describe_header(msg, bytes, out);
  if (msg.header_complete) {
    const size_t available = bytes.size() - kHeaderSize;
    TreeBuilder t(bytes.subspan(kHeaderSize, std::min<size_t>(available, msg.header.size)), ctx);
    describe_payload(msg, t, ctx);
    for (Field& f : t.fields) out.push_back(std::move(f));
    if (available > msg.header.size) {
      const auto rest = bytes.subspan(kHeaderSize + msg.header.size);
      out.push_back({"trailing", FieldValue::raw_bytes(rest), bytes_hex(rest),
                     static_cast<uint32_t>(kHeaderSize + msg.header.size),
                     static_cast<uint32_t>(available - msg.header.size), 0});
    }
  }
  for (size_t i = 0; i < fds.size(); ++i)
    out.push_back(
        {fmt::format("fd[{}]", i),
         FieldValue::enumerated(static_cast<uint64_t>(fds[i].kind), fd_kind_name(fds[i].kind)),
         fd_text(fds[i]), 0, 0, 0});
  return out;
}

}  // namespace vhs
