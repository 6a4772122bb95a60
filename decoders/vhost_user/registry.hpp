// The one table of vhost-user requests (both channels). Names, payload kinds, fd rules, reply
// rules and gating protocol features come only from here: the decoder, the session analyser, the
// CLI, the GUI and the capture docs all read this table.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <optional>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/request_list.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

// Requests by name, generated from request_list.hpp: code names a request as
// FrontendRequest::SET_MEM_TABLE, never by a string (a misspelt string would make a rule dead
// silently; a misspelt enumerator does not compile).
enum class FrontendRequest : uint32_t {
#define VHS_ENUMERATOR(NAME, number, ...) NAME = number,
  VHS_FRONTEND_REQUESTS(VHS_ENUMERATOR)
};
enum class BackendRequest : uint32_t { VHS_BACKEND_REQUESTS(VHS_ENUMERATOR) };
#undef VHS_ENUMERATOR

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

// What the fds a message carries are for (spec "Front-end message types": each request's
// description says which fds it passes and what the receiver does with them).
enum class FdRole : uint8_t {
  None,
  MemoryRegion,         // guest memory backing a region (SET_MEM_TABLE: one per region)
  MemoryRegionRemoved,  // REM_MEM_REG: the region being removed, for the back-end to match
  LogBitmap,            // SET_LOG_BASE: the dirty-page log
  LogEventfd,           // SET_LOG_FD: signalled when the log changes
  Kick,                 // SET_VRING_KICK: the driver notifies the device
  Call,                 // SET_VRING_CALL: the device interrupts the driver
  Err,                  // SET_VRING_ERR: the device reports a ring error
  BackendChannel,       // SET_BACKEND_REQ_FD: the socket of the back-end channel
  Inflight,             // GET/SET_INFLIGHT_FD: the shared inflight-tracking buffer
  Userfaultfd,          // POSTCOPY_ADVISE reply
  GpuSocket,            // GPU_SET_SOCKET: the vhost-user-gpu socket
  SharedObject,         // GET_SHARED_OBJECT / BACKEND_SHARED_OBJECT_LOOKUP reply: a dmabuf
  DeviceState,          // SET_DEVICE_STATE_FD: the pipe the device state moves over
  HostNotifier,         // BACKEND_VRING_HOST_NOTIFIER_MSG: the page the driver kicks through
  ShmemMapping,         // BACKEND_SHMEM_MAP: memory to map into a shared memory region
};

std::string_view fd_role_name(FdRole role);

// When the receiver of a request answers.
enum class ReplyRule : uint8_t {
  AckIfNeedReply,  // no intrinsic reply; a u64 ack when NEED_REPLY is set
  Always,          // intrinsic reply, independent of NEED_REPLY
  // SET_LOG_BASE: a reply when LOG_SHMFD was negotiated. The spec gives its payload as N/A and
  // QEMU reads the reply without looking at it; libvhost-user answers a u64 0, DPDK an empty
  // payload. Both are well-formed (reply_payload_for).
  IfLogShmfd,
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
  FdRole fd_role;  // what the request's fds are
  ReplyRule reply;
  PayloadKind reply_payload;  // None when no intrinsic reply (acks are PayloadKind::Ack)
  FdRule reply_fds;
  FdRole reply_fd_role;                 // what the reply's fds are
  std::optional<ProtocolFeature> gate;  // must be negotiated first; nullopt: always legal
  bool frontend_waits;                  // QEMU blocks on the reply (a missing reply hangs the VM)
  Category category;
  std::string_view meaning;  // one line

  constexpr bool is(FrontendRequest r) const {
    return channel == Channel::Frontend && number == static_cast<uint32_t>(r);
  }
  constexpr bool is(BackendRequest r) const {
    return channel == Channel::Backend && number == static_cast<uint32_t>(r);
  }
  // The enumerator of this row; only meaningful on its own channel (check `channel` first).
  constexpr FrontendRequest frontend() const { return static_cast<FrontendRequest>(number); }
  constexpr BackendRequest backend() const { return static_cast<BackendRequest>(number); }
};

// A request's row. Always found: every enumerator has one.
const RequestInfo& request_info(FrontendRequest r);
const RequestInfo& request_info(BackendRequest r);
// True when `info` (may be nullptr) is the row of `r`.
inline bool is_request(const RequestInfo* info, FrontendRequest r) { return info && info->is(r); }
inline bool is_request(const RequestInfo* info, BackendRequest r) { return info && info->is(r); }
std::string_view request_name(FrontendRequest r);
std::string_view request_name(BackendRequest r);

std::span<const RequestInfo> all_requests();
const RequestInfo* find_request(Channel channel, uint32_t number);
// For user input only (CLI options, GUI filter, ctl commands): either channel, either alias,
// case-insensitive, with or without the VHOST_USER_ prefix. Code names requests by enumerator.
const RequestInfo* find_request_by_name(std::string_view name);
// The payload kind of a reply of `size` bytes to `info`'s request: its row's reply_payload, except
// that an IfLogShmfd reply may also be empty (ReplyRule above). Every reader of replies asks here.
PayloadKind reply_payload_for(const RequestInfo& info, uint32_t size);
// How a message is named in text: "SET_MEM_TABLE", "GET_FEATURES reply", "request 99 reply".
std::string message_label(Channel channel, const Header& header);

}  // namespace vhs
