// Wire-level facts of the vhost-user framing (spec "Message Specification"): header layout,
// flag bits, channels and directions. Shared by every layer; no behaviour beyond parsing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace vhs {

// Which socket a message travelled on.
enum class Channel : uint8_t {
  Frontend = 0,  // the vhost-user socket: requests from the front-end (QEMU)
  Backend = 1,   // the back-end channel from SET_BACKEND_REQ_FD: requests from the back-end
};

// Which way a message travelled, independent of request/reply.
enum class Direction : uint8_t {
  ToBackend = 0,   // written by the front-end, read by the back-end
  ToFrontend = 1,  // written by the back-end, read by the front-end
};

inline constexpr size_t kHeaderSize = 12;

inline constexpr uint32_t kFlagVersionMask = 0x3;
inline constexpr uint32_t kProtocolVersion = 0x1;
inline constexpr uint32_t kFlagReply = 0x4;
inline constexpr uint32_t kFlagNeedReply = 0x8;
inline constexpr uint32_t kFlagReservedMask = ~uint32_t{0xF};

// Largest payload any known peer accepts (rust-vmm's MAX_MSG_SIZE; QEMU and libvhost-user accept
// less). A larger size field cannot be relayed safely: no peer could read it, and the stream cannot
// be re-synchronised. Documented in docs/capture-format.md and README.
inline constexpr uint32_t kMaxPayloadSize = 4096;

// Room for received fds: rust-vmm accepts 32 per message, QEMU's chardev 16, libvhost-user 8.
inline constexpr size_t kMaxFdsPerMessage = 32;

struct Header {
  uint32_t request = 0;
  uint32_t flags = 0;
  uint32_t size = 0;

  bool is_reply() const { return (flags & kFlagReply) != 0; }
  bool needs_reply() const { return (flags & kFlagNeedReply) != 0; }
  uint32_t version() const { return flags & kFlagVersionMask; }
};

// Header fields are host-native (x86_64 here: little endian).
inline std::optional<Header> parse_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return std::nullopt;
  Header h;
  std::memcpy(&h.request, bytes.data() + 0, 4);
  std::memcpy(&h.flags, bytes.data() + 4, 4);
  std::memcpy(&h.size, bytes.data() + 8, 4);
  return h;
}

// On the front-end channel requests flow to the back-end; on the back-end channel the reverse.
inline Direction request_direction(Channel c) {
  return c == Channel::Frontend ? Direction::ToBackend : Direction::ToFrontend;
}

}  // namespace vhs
