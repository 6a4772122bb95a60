// Encoding and decoding of the per-packet pseudo-header (docs/capture-format.md). Fields are
// written byte by byte in little endian so the file layout never depends on struct padding or
// on the host's byte order.
#include "captures/format/pseudo_header.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

namespace vhs {
namespace {

void put_u8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }
void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint16_t get_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t get_u32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint64_t get_u64(const uint8_t* p) {
  return uint64_t{get_u32(p)} | (uint64_t{get_u32(p + 4)} << 32);
}

bool known_kind(uint8_t k) {
  return k >= static_cast<uint8_t>(RecordKind::Message) &&
         k <= static_cast<uint8_t>(RecordKind::Notify);
}

// FdKind values this reader does not know (written by a newer writer) read as Unknown rather
// than as an out-of-range enum value.
FdKind fd_kind_from_wire(uint8_t v) {
  return v <= static_cast<uint8_t>(FdKind::Other) ? static_cast<FdKind>(v) : FdKind::Unknown;
}

}  // namespace

void encode_packet(const Record& record, std::vector<uint8_t>& out) {
  constexpr size_t kMaxU16 = std::numeric_limits<uint16_t>::max();
  const size_t fd_count = std::min(record.fds.size(), kMaxU16);

  out.insert(out.end(), std::begin(kPseudoHeaderMagic), std::end(kPseudoHeaderMagic));
  put_u8(out, kPseudoHeaderVersion);
  put_u8(out, static_cast<uint8_t>(record.kind));
  put_u16(out, static_cast<uint16_t>(kPseudoHeaderFixedSize));
  put_u8(out, static_cast<uint8_t>(record.direction));
  put_u8(out, static_cast<uint8_t>(record.channel));
  put_u16(out, record.flags);
  put_u32(out, record.session);
  put_u16(out, static_cast<uint16_t>(fd_count));
  put_u16(out, 0);
  put_u32(out, static_cast<uint32_t>(record.bytes.size()));

  for (size_t i = 0; i < fd_count; ++i) {
    const FdInfo& fd = record.fds[i];
    const size_t name_len = std::min(fd.name.size(), kMaxU16 - kFdDescFixedSize);
    put_u16(out, static_cast<uint16_t>(kFdDescFixedSize + name_len));
    put_u8(out, static_cast<uint8_t>(fd.kind));
    put_u8(out, 0);
    put_u16(out, static_cast<uint16_t>(name_len));
    put_u16(out, 0);
    put_u64(out, fd.inode);
    put_u64(out, fd.size);
    out.insert(out.end(), fd.name.begin(), fd.name.begin() + static_cast<std::ptrdiff_t>(name_len));
  }
  out.insert(out.end(), record.bytes.begin(), record.bytes.end());
}

PacketStatus decode_packet(std::span<const uint8_t> packet, bool captured_short, Record& out,
                           std::string& why) {
  RecordView view;
  const PacketStatus status = decode_packet_view(packet, captured_short, view, out.fds, why);
  if (status != PacketStatus::Ok) return status;
  out.kind = view.kind;
  out.direction = view.direction;
  out.channel = view.channel;
  out.flags = view.flags;
  out.session = view.session;
  out.bytes.assign(view.bytes.begin(), view.bytes.end());
  return status;
}

PacketStatus decode_packet_view(std::span<const uint8_t> packet, bool captured_short,
                                RecordView& out, std::vector<FdInfo>& fds, std::string& why) {
  namespace off = pseudo_header_offset;
  const uint8_t* p = packet.data();
  const size_t size = packet.size();

  if (size < kPseudoHeaderFixedSize) {
    why = fmt::format("packet of {} bytes is shorter than the {}-byte pseudo-header", size,
                      kPseudoHeaderFixedSize);
    return PacketStatus::Corrupt;
  }
  if (!std::equal(std::begin(kPseudoHeaderMagic), std::end(kPseudoHeaderMagic), p + off::kMagic)) {
    why = fmt::format(
        "bad pseudo-header magic {:02x} {:02x} {:02x} {:02x} (expected 56 48 53 52, \"VHSR\")",
        p[0], p[1], p[2], p[3]);
    return PacketStatus::Corrupt;
  }
  if (p[off::kVersion] != kPseudoHeaderVersion) {
    why = fmt::format("pseudo-header version {}, this reader understands version {}",
                      p[off::kVersion], kPseudoHeaderVersion);
    return PacketStatus::Corrupt;
  }
  const size_t header_len = get_u16(p + off::kHeaderLen);
  if (header_len < kPseudoHeaderFixedSize || header_len > size) {
    why = fmt::format("pseudo-header length {} outside {}..{} (packet is {} bytes)", header_len,
                      kPseudoHeaderFixedSize, size, size);
    return PacketStatus::Corrupt;
  }
  const uint8_t kind = p[off::kKind];
  if (!known_kind(kind)) return PacketStatus::UnknownKind;

  const uint8_t direction = p[off::kDirection];
  const uint8_t channel = p[off::kChannel];
  if (direction > static_cast<uint8_t>(Direction::ToFrontend)) {
    why = fmt::format("direction {} is neither 0 (to back-end) nor 1 (to front-end)", direction);
    return PacketStatus::Corrupt;
  }
  if (channel > static_cast<uint8_t>(Channel::Backend)) {
    why = fmt::format("channel {} is neither 0 (front-end) nor 1 (back-end)", channel);
    return PacketStatus::Corrupt;
  }

  out.kind = static_cast<RecordKind>(kind);
  out.direction = static_cast<Direction>(direction);
  out.channel = static_cast<Channel>(channel);
  out.flags = get_u16(p + off::kFlags);
  out.session = get_u32(p + off::kSession);
  const size_t fd_count = get_u16(p + off::kFdCount);
  const size_t data_len = get_u32(p + off::kDataLen);

  // resize() rather than clear(): the FdInfo names keep their capacity from the last record.
  fds.resize(fd_count);
  size_t pos = header_len;
  for (size_t i = 0; i < fd_count; ++i) {
    namespace fo = fd_desc_offset;
    if (size - pos < kFdDescFixedSize) {
      why = fmt::format("fd description {} of {} at offset {} runs past the packet end ({} bytes)",
                        i + 1, fd_count, pos, size);
      return PacketStatus::Corrupt;
    }
    const uint8_t* d = p + pos;
    const size_t desc_len = get_u16(d + fo::kDescLen);
    const size_t name_len = get_u16(d + fo::kNameLen);
    if (desc_len < kFdDescFixedSize + name_len || desc_len > size - pos) {
      why = fmt::format("fd description {} of {} has length {} (name {} bytes), {} bytes remain",
                        i + 1, fd_count, desc_len, name_len, size - pos);
      return PacketStatus::Corrupt;
    }
    FdInfo& fd = fds[i];
    fd.kind = fd_kind_from_wire(d[fo::kKind]);
    fd.inode = get_u64(d + fo::kInode);
    fd.size = get_u64(d + fo::kSize);
    fd.name.assign(reinterpret_cast<const char*>(d + fo::kName), name_len);
    pos += desc_len;  // skips fields a later version appends after the name
  }

  const size_t remaining = size - pos;
  if (remaining != data_len && !(captured_short && remaining < data_len)) {
    why = fmt::format("record bytes: pseudo-header says {}, packet holds {}", data_len, remaining);
    return PacketStatus::Corrupt;
  }
  if (remaining < data_len) out.flags |= kRecordIncomplete;
  out.fds = fds;
  out.bytes = {p + pos, p + size};
  return PacketStatus::Ok;
}

}  // namespace vhs
