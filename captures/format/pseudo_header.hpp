// The per-packet pseudo-header of a vhostscope capture: encoding a Record into packet bytes and
// decoding packet bytes back into a Record. Pure (no I/O); byte layout in docs/capture-format.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "captures/format/record.hpp"

namespace vhs {

// "VHSR": lets a reader tell a vhostscope packet from anything else written as LINKTYPE_USER0.
inline constexpr uint8_t kPseudoHeaderMagic[4] = {'V', 'H', 'S', 'R'};
// Bumped only for changes an older reader cannot skip; growth goes through the length fields.
inline constexpr uint8_t kPseudoHeaderVersion = 1;
// Fixed part of the pseudo-header in version 1; `header_len` may say more (skipped by readers).
inline constexpr size_t kPseudoHeaderFixedSize = 24;
// Fixed part of one fd description in version 1 (before the name); `desc_len` covers the rest.
inline constexpr size_t kFdDescFixedSize = 24;

// Byte offsets of the version 1 fixed part (little endian).
namespace pseudo_header_offset {
inline constexpr size_t kMagic = 0;      // 4 bytes
inline constexpr size_t kVersion = 4;    // u8
inline constexpr size_t kKind = 5;       // u8 RecordKind
inline constexpr size_t kHeaderLen = 6;  // u16: offset of the fd table
inline constexpr size_t kDirection = 8;  // u8 Direction
inline constexpr size_t kChannel = 9;    // u8 Channel
inline constexpr size_t kFlags = 10;     // u16 kRecord* bits
inline constexpr size_t kSession = 12;   // u32
inline constexpr size_t kFdCount = 16;   // u16
inline constexpr size_t kReserved = 18;  // u16, written 0
inline constexpr size_t kDataLen = 20;   // u32: length of the record bytes
}  // namespace pseudo_header_offset

// Byte offsets inside one version 1 fd description (little endian).
namespace fd_desc_offset {
inline constexpr size_t kDescLen = 0;    // u16: length of this description, name included
inline constexpr size_t kKind = 2;       // u8 FdKind
inline constexpr size_t kReserved = 3;   // u8, written 0
inline constexpr size_t kNameLen = 4;    // u16
inline constexpr size_t kReserved2 = 6;  // u16, written 0
inline constexpr size_t kInode = 8;      // u64
inline constexpr size_t kSize = 16;      // u64
inline constexpr size_t kName = 24;      // name_len bytes, no terminator
}  // namespace fd_desc_offset

// Appends the pseudo-header, the fd table and the record bytes of `record` to `out` (which is
// not cleared, so a caller can reuse one buffer). Fd names longer than the u16 length field
// allows are cut.
void encode_packet(const Record& record, std::vector<uint8_t>& out);

enum class PacketStatus : uint8_t {
  Ok,           // `out` holds the record (timestamp untouched: it lives in the pcap header)
  UnknownKind,  // well formed, but a record kind this reader does not know: skip it
  Corrupt,      // `why` says what is wrong; `out` is unspecified
};

// Decodes one packet. `captured_short` = the pcap caplen was smaller than the original length:
// the record bytes may then stop early (the record gets kRecordIncomplete), but the
// pseudo-header and fd table must still be whole. Reuses the capacity of `out`'s vectors.
PacketStatus decode_packet(std::span<const uint8_t> packet, bool captured_short, Record& out,
                           std::string& why);
// The same without copying the record bytes: out.bytes points into `packet`, out.fds into `fds`
// (resized to the fd count; its names keep their capacity).
PacketStatus decode_packet_view(std::span<const uint8_t> packet, bool captured_short,
                                RecordView& out, std::vector<FdInfo>& fds, std::string& why);

}  // namespace vhs
