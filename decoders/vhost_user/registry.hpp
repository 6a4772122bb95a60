// The one table of vhost-user requests (both channels). Names, payload kinds, fd rules, reply
// rules and gating protocol features come only from here: the decoder, the session analyser, the
// CLI, the GUI and the capture docs all read this table.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "decoders/vhost_user/wire.hpp"

namespace vhs {

// Shape of a payload on the wire (spec "Message Specification" payload types).
enum class PayloadKind : uint8_t {
  None,               // size 0
  U64,                // plain number (queue count, MTU, slots, ...)
  Features,           // u64 virtio + vhost feature bits
  ProtocolFeatures,   // u64 vhost-user protocol feature bits
  Ack,                // u64 reply: 0 = success
  VringIndexFd,       // u64: bits 0-7 queue index, bit 8 NOFD
  Mac,                // u64 whose first 6 bytes are a MAC address
  Status,             // u64 virtio device status byte
  VringState,         // index u32, num u32
  VringAddr,          // 40 bytes
  MemTable,           // 8 + 32*n
  SingleRegion,       // 40
  Log,                // 16
  Iotlb,              // 32
  Config,             // 12 + size
  VringArea,          // 24
  Inflight,           // 24
  SharedObject,       // 16-byte UUID
  DeviceStateParams,  // direction u32, phase u32
  DeviceStateResult,  // u64: bits 0-7 error, bit 8 no fd
  ShmemMap,           // 40
  ShmemConfig,        // 8 + 8*k
  Opaque,             // layout private to one implementation (crypto session)
};

std::string_view payload_kind_name(PayloadKind kind);

// How many fds a message carries.
enum class FdRule : uint8_t {
  None,
  One,
  OneUnlessNofd,     // u64 / vring-area payload NOFD bit (0x100) clear => 1 fd
  OnePerRegion,      // SET_MEM_TABLE: one per region
  OneIfLogShmfd,     // SET_LOG_BASE
  OneIfMmapSize,     // GET_INFLIGHT_FD reply: 1 unless mmap_size == 0
  OneOnSuccess,      // shared-object replies
  OneUnlessNoFdBit,  // SET_DEVICE_STATE_FD reply: bit 8 set => none
  ZeroOrOne,         // tolerated either way (REM_MEM_REG)
};

// When the receiver of a request answers.
enum class ReplyRule : uint8_t {
  AckIfNeedReply,  // no intrinsic reply; a u64 ack when NEED_REPLY is set
  Always,          // intrinsic reply, independent of NEED_REPLY
  IfLogShmfd,      // SET_LOG_BASE: u64 reply when LOG_SHMFD was negotiated
};

// Broad purpose, for colouring and grouping.
enum class Category : uint8_t {
  Negotiation,
  Memory,
  Vring,
  Config,
  BackendChannel,
  Migration,
  Device
};

std::string_view category_name(Category c);

struct RequestInfo {
  Channel channel;
  uint32_t number;
  std::string_view name;      // spec name without the VHOST_USER_ prefix
  std::string_view old_name;  // pre-rename alias (SLAVE_*), empty if none
  PayloadKind payload;
  FdRule fds;
  ReplyRule reply;
  PayloadKind reply_payload;  // None when no intrinsic reply (acks are PayloadKind::Ack)
  FdRule reply_fds;
  int8_t protocol_feature;  // gating protocol feature bit, -1 if always legal
  bool frontend_waits;      // QEMU blocks on the reply (a missing reply hangs the VM)
  Category category;
  std::string_view meaning;  // one line
};

std::span<const RequestInfo> all_requests();
const RequestInfo* find_request(Channel channel, uint32_t number);
const RequestInfo* find_request_by_name(std::string_view name);  // either channel, either alias
// How a message is named in text: "SET_MEM_TABLE", "GET_FEATURES reply", "request 99 reply".
std::string message_label(Channel channel, const Header& header);

}  // namespace vhs
