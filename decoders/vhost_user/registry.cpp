// The one table of vhost-user requests (front-end channel 1-44, back-end channel 1-10) and the
// lookups over it. Every other name, payload shape, fd rule and reply rule is read from here.
#include "decoders/vhost_user/registry.hpp"

#include <array>
#include <cctype>

namespace vhs {
namespace {

using PK = PayloadKind;
using FR = FdRule;
using RR = ReplyRule;
using Cat = Category;
constexpr Channel F = Channel::Frontend;
constexpr Channel B = Channel::Backend;
constexpr int8_t kAny = -1;  // legal without a protocol feature

// Column order follows RequestInfo: channel, number, name, old_name, payload, fds, reply,
// reply_payload, reply_fds, protocol_feature, frontend_waits, category, meaning.
// For requests without an intrinsic reply, reply_payload is Ack: what a NEED_REPLY answer holds.
// frontend_waits marks requests whose reply QEMU always blocks on (pitfall 8.1 "always" list plus
// SET_LOG_BASE, whose reply exists only with LOG_SHMFD); any NEED_REPLY request is waited on too.
constexpr std::array kRequests = {
    // ---- front-end channel (spec "Front-end message types") ----
    RequestInfo{F, 1, "GET_FEATURES", "", PK::None, FR::None, RR::Always, PK::Features, FR::None,
                kAny, true, Cat::Negotiation, "read the back-end's virtio + vhost feature bits"},
    RequestInfo{F, 2, "SET_FEATURES", "", PK::Features, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, kAny, false, Cat::Negotiation,
                "set the acked virtio + vhost feature bits"},
    RequestInfo{F, 3, "SET_OWNER", "", PK::None, FR::None, RR::AckIfNeedReply, PK::Ack, FR::None,
                kAny, false, Cat::Negotiation,
                "claim the back-end for this front-end (session start)"},
    RequestInfo{F, 4, "RESET_OWNER", "", PK::None, FR::None, RR::AckIfNeedReply, PK::Ack, FR::None,
                kAny, false, Cat::Negotiation, "deprecated: release ownership of the back-end"},
    RequestInfo{F, 5, "SET_MEM_TABLE", "", PK::MemTable, FR::OnePerRegion, RR::AckIfNeedReply,
                PK::Ack, FR::None, kAny, false, Cat::Memory,
                "replace the guest memory map (one fd per region)"},
    RequestInfo{F, 6, "SET_LOG_BASE", "", PK::Log, FR::OneIfLogShmfd, RR::IfLogShmfd, PK::U64,
                FR::None, kAny, true, Cat::Migration, "set the dirty-page log buffer (migration)"},
    RequestInfo{F, 7, "SET_LOG_FD", "", PK::None, FR::One, RR::AckIfNeedReply, PK::Ack, FR::None,
                kAny, false, Cat::Migration, "set the eventfd signalled when the log changes"},
    RequestInfo{F, 8, "SET_VRING_NUM", "", PK::VringState, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, kAny, false, Cat::Vring, "set a queue's size"},
    RequestInfo{F, 9, "SET_VRING_ADDR", "", PK::VringAddr, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, kAny, false, Cat::Vring, "set a queue's descriptor/used/avail addresses"},
    RequestInfo{F, 10, "SET_VRING_BASE", "", PK::VringState, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, kAny, false, Cat::Vring, "set the next avail index the back-end reads"},
    RequestInfo{F, 11, "GET_VRING_BASE", "", PK::VringState, FR::None, RR::Always, PK::VringState,
                FR::None, kAny, true, Cat::Vring, "stop a queue and read back its avail index"},
    RequestInfo{F, 12, "SET_VRING_KICK", "", PK::VringIndexFd, FR::OneUnlessNofd,
                RR::AckIfNeedReply, PK::Ack, FR::None, kAny, false, Cat::Vring,
                "set a queue's kick eventfd (starts the queue)"},
    RequestInfo{F, 13, "SET_VRING_CALL", "", PK::VringIndexFd, FR::OneUnlessNofd,
                RR::AckIfNeedReply, PK::Ack, FR::None, kAny, false, Cat::Vring,
                "set a queue's call (interrupt) eventfd"},
    RequestInfo{F, 14, "SET_VRING_ERR", "", PK::VringIndexFd, FR::OneUnlessNofd, RR::AckIfNeedReply,
                PK::Ack, FR::None, kAny, false, Cat::Vring, "set a queue's error eventfd"},
    RequestInfo{F, 15, "GET_PROTOCOL_FEATURES", "", PK::None, FR::None, RR::Always,
                PK::ProtocolFeatures, FR::None, kAny, true, Cat::Negotiation,
                "read the back-end's vhost-user protocol feature bits"},
    RequestInfo{F, 16, "SET_PROTOCOL_FEATURES", "", PK::ProtocolFeatures, FR::None,
                RR::AckIfNeedReply, PK::Ack, FR::None, kAny, false, Cat::Negotiation,
                "set the acked protocol feature bits"},
    RequestInfo{F, 17, "GET_QUEUE_NUM", "", PK::None, FR::None, RR::Always, PK::U64, FR::None, 0,
                true, Cat::Negotiation, "read the maximum number of queues"},
    RequestInfo{F, 18, "SET_VRING_ENABLE", "", PK::VringState, FR::None, RR::AckIfNeedReply,
                PK::Ack, FR::None, kAny, false, Cat::Vring, "enable (num=1) or disable a queue"},
    RequestInfo{F, 19, "SEND_RARP", "", PK::Mac, FR::None, RR::AckIfNeedReply, PK::Ack, FR::None, 2,
                false, Cat::Device, "ask the back-end to broadcast a RARP for this MAC"},
    RequestInfo{F, 20, "NET_SET_MTU", "", PK::U64, FR::None, RR::AckIfNeedReply, PK::Ack, FR::None,
                4, false, Cat::Device, "tell a net back-end the MTU"},
    RequestInfo{F, 21, "SET_BACKEND_REQ_FD", "SET_SLAVE_REQ_FD", PK::None, FR::One,
                RR::AckIfNeedReply, PK::Ack, FR::None, 5, false, Cat::BackendChannel,
                "hand over the socket of the back-end channel"},
    RequestInfo{F, 22, "IOTLB_MSG", "", PK::Iotlb, FR::None, RR::Always, PK::Ack, FR::None, kAny,
                true, Cat::Memory, "IOTLB update or invalidate (ACCESS_PLATFORM)"},
    RequestInfo{F, 23, "SET_VRING_ENDIAN", "", PK::VringState, FR::None, RR::AckIfNeedReply,
                PK::Ack, FR::None, 6, false, Cat::Vring, "set a legacy queue's endianness"},
    RequestInfo{F, 24, "GET_CONFIG", "", PK::Config, FR::None, RR::Always, PK::Config, FR::None, 9,
                true, Cat::Config, "read device config space"},
    RequestInfo{F, 25, "SET_CONFIG", "", PK::Config, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, 9, false, Cat::Config, "write device config space"},
    RequestInfo{F, 26, "CREATE_CRYPTO_SESSION", "", PK::Opaque, FR::None, RR::Always, PK::Opaque,
                FR::None, 7, true, Cat::Device, "create a crypto session (QEMU-private layout)"},
    RequestInfo{F, 27, "CLOSE_CRYPTO_SESSION", "", PK::U64, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, 7, false, Cat::Device, "close a crypto session by id"},
    RequestInfo{F, 28, "POSTCOPY_ADVISE", "", PK::None, FR::None, RR::Always, PK::None, FR::One, 8,
                true, Cat::Migration, "prepare postcopy; the reply carries a userfaultfd"},
    RequestInfo{F, 29, "POSTCOPY_LISTEN", "", PK::None, FR::None, RR::Always, PK::Ack, FR::None, 8,
                true, Cat::Migration, "enter postcopy listening mode"},
    RequestInfo{F, 30, "POSTCOPY_END", "", PK::None, FR::None, RR::Always, PK::Ack, FR::None, 8,
                true, Cat::Migration, "postcopy finished"},
    RequestInfo{F, 31, "GET_INFLIGHT_FD", "", PK::Inflight, FR::None, RR::Always, PK::Inflight,
                FR::OneIfMmapSize, 12, true, Cat::Vring,
                "get the shared inflight-tracking buffer (reply carries its fd)"},
    RequestInfo{F, 32, "SET_INFLIGHT_FD", "", PK::Inflight, FR::One, RR::AckIfNeedReply, PK::Ack,
                FR::None, 12, false, Cat::Vring, "give the inflight buffer back after a reconnect"},
    RequestInfo{F, 33, "GPU_SET_SOCKET", "", PK::None, FR::One, RR::AckIfNeedReply, PK::Ack,
                FR::None, kAny, false, Cat::Device, "hand over the vhost-user-gpu socket"},
    RequestInfo{F, 34, "RESET_DEVICE", "", PK::None, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, 13, false, Cat::Device, "reset the device to its initial state"},
    RequestInfo{F, 35, "VRING_KICK", "", PK::VringState, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, 14, false, Cat::Vring, "in-band kick of a queue"},
    RequestInfo{F, 36, "GET_MAX_MEM_SLOTS", "", PK::None, FR::None, RR::Always, PK::U64, FR::None,
                15, true, Cat::Memory, "read how many memory slots the back-end supports"},
    RequestInfo{F, 37, "ADD_MEM_REG", "", PK::SingleRegion, FR::One, RR::AckIfNeedReply, PK::Ack,
                FR::None, 15, false, Cat::Memory, "add one guest memory region (with its fd)"},
    RequestInfo{F, 38, "REM_MEM_REG", "", PK::SingleRegion, FR::ZeroOrOne, RR::AckIfNeedReply,
                PK::Ack, FR::None, 15, false, Cat::Memory, "remove one guest memory region"},
    RequestInfo{F, 39, "SET_STATUS", "", PK::Status, FR::None, RR::AckIfNeedReply, PK::Ack,
                FR::None, 16, false, Cat::Device, "set the virtio device status byte"},
    RequestInfo{F, 40, "GET_STATUS", "", PK::None, FR::None, RR::Always, PK::Status, FR::None, 16,
                true, Cat::Device, "read the virtio device status byte"},
    RequestInfo{F, 41, "GET_SHARED_OBJECT", "", PK::SharedObject, FR::None, RR::Always,
                PK::SharedObject, FR::OneOnSuccess, 18, true, Cat::Device,
                "look up a shared object by UUID (reply carries a dmabuf fd)"},
    RequestInfo{F, 42, "SET_DEVICE_STATE_FD", "", PK::DeviceStateParams, FR::One, RR::Always,
                PK::DeviceStateResult, FR::OneUnlessNoFdBit, 19, true, Cat::Migration,
                "start a device state transfer over a pipe"},
    RequestInfo{F, 43, "CHECK_DEVICE_STATE", "", PK::None, FR::None, RR::Always, PK::Ack, FR::None,
                19, true, Cat::Migration, "ask whether the device state transfer succeeded"},
    RequestInfo{F, 44, "GET_SHMEM_CONFIG", "", PK::None, FR::None, RR::Always, PK::ShmemConfig,
                FR::None, 20, true, Cat::Memory, "read the sizes of the shared memory regions"},

    // ---- back-end channel (spec "Back-end message types"); the front-end answers ----
    RequestInfo{B, 1, "BACKEND_IOTLB_MSG", "SLAVE_IOTLB_MSG", PK::Iotlb, FR::None,
                RR::AckIfNeedReply, PK::Ack, FR::None, kAny, false, Cat::BackendChannel,
                "IOTLB miss or access failure reported by the back-end"},
    RequestInfo{B, 2, "BACKEND_CONFIG_CHANGE_MSG", "SLAVE_CONFIG_CHANGE_MSG", PK::None, FR::None,
                RR::AckIfNeedReply, PK::Ack, FR::None, 9, false, Cat::BackendChannel,
                "device config space changed"},
    RequestInfo{B, 3, "BACKEND_VRING_HOST_NOTIFIER_MSG", "SLAVE_VRING_HOST_NOTIFIER_MSG",
                PK::VringArea, FR::OneUnlessNofd, RR::AckIfNeedReply, PK::Ack, FR::None, 11, false,
                Cat::BackendChannel, "set or clear a queue's host notifier area"},
    RequestInfo{B, 4, "BACKEND_VRING_CALL", "SLAVE_VRING_CALL", PK::VringState, FR::None,
                RR::AckIfNeedReply, PK::Ack, FR::None, 14, false, Cat::BackendChannel,
                "in-band call (interrupt) for a queue"},
    RequestInfo{B, 5, "BACKEND_VRING_ERR", "SLAVE_VRING_ERR", PK::VringState, FR::None,
                RR::AckIfNeedReply, PK::Ack, FR::None, 14, false, Cat::BackendChannel,
                "in-band error notification for a queue"},
    RequestInfo{B, 6, "BACKEND_SHARED_OBJECT_ADD", "", PK::SharedObject, FR::None,
                RR::AckIfNeedReply, PK::Ack, FR::None, 18, false, Cat::BackendChannel,
                "export a shared object under a UUID"},
    RequestInfo{B, 7, "BACKEND_SHARED_OBJECT_REMOVE", "", PK::SharedObject, FR::None,
                RR::AckIfNeedReply, PK::Ack, FR::None, 18, false, Cat::BackendChannel,
                "withdraw a shared object"},
    RequestInfo{B, 8, "BACKEND_SHARED_OBJECT_LOOKUP", "", PK::SharedObject, FR::None, RR::Always,
                PK::Ack, FR::OneOnSuccess, 18, false, Cat::BackendChannel,
                "look up a shared object (reply carries a dmabuf fd)"},
    RequestInfo{B, 9, "BACKEND_SHMEM_MAP", "", PK::ShmemMap, FR::One, RR::AckIfNeedReply, PK::Ack,
                FR::None, 20, false, Cat::BackendChannel, "map an fd into a shared memory region"},
    RequestInfo{B, 10, "BACKEND_SHMEM_UNMAP", "", PK::ShmemMap, FR::None, RR::AckIfNeedReply,
                PK::Ack, FR::None, 20, false, Cat::BackendChannel,
                "unmap part of a shared memory region"},
};

// Direct index by number so find_request is a bounds check and a load (hot in decode_message).
constexpr uint32_t kMaxNumber = 44;
struct Index {
  std::array<const RequestInfo*, kMaxNumber + 1> frontend{};
  std::array<const RequestInfo*, kMaxNumber + 1> backend{};
};

const Index& index() {
  static const Index idx = [] {
    Index i;
    for (const RequestInfo& r : kRequests) {
      auto& slot = r.channel == Channel::Frontend ? i.frontend : i.backend;
      if (r.number <= kMaxNumber) slot[r.number] = &r;
    }
    return i;
  }();
  return idx;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::string_view payload_kind_name(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::None: return "none";
    case PayloadKind::U64: return "u64";
    case PayloadKind::Features: return "features";
    case PayloadKind::ProtocolFeatures: return "protocol-features";
    case PayloadKind::Ack: return "ack";
    case PayloadKind::VringIndexFd: return "vring-index-fd";
    case PayloadKind::Mac: return "mac";
    case PayloadKind::Status: return "status";
    case PayloadKind::VringState: return "vring-state";
    case PayloadKind::VringAddr: return "vring-addr";
    case PayloadKind::MemTable: return "mem-table";
    case PayloadKind::SingleRegion: return "single-region";
    case PayloadKind::Log: return "log";
    case PayloadKind::Iotlb: return "iotlb";
    case PayloadKind::Config: return "config";
    case PayloadKind::VringArea: return "vring-area";
    case PayloadKind::Inflight: return "inflight";
    case PayloadKind::SharedObject: return "shared-object";
    case PayloadKind::DeviceStateParams: return "device-state-params";
    case PayloadKind::DeviceStateResult: return "device-state-result";
    case PayloadKind::ShmemMap: return "shmem-map";
    case PayloadKind::ShmemConfig: return "shmem-config";
    case PayloadKind::Opaque: return "opaque";
  }
  return "unknown";
}

std::string_view category_name(Category c) {
  switch (c) {
    case Category::Negotiation: return "negotiation";
    case Category::Memory: return "memory";
    case Category::Vring: return "vring";
    case Category::Config: return "config";
    case Category::BackendChannel: return "backend-channel";
    case Category::Migration: return "migration";
    case Category::Device: return "device";
  }
  return "unknown";
}

std::span<const RequestInfo> all_requests() { return kRequests; }

const RequestInfo* find_request(Channel channel, uint32_t number) {
  if (number > kMaxNumber) return nullptr;
  const Index& i = index();
  return channel == Channel::Frontend ? i.frontend[number] : i.backend[number];
}

const RequestInfo* find_request_by_name(std::string_view name) {
  constexpr std::string_view kPrefix = "VHOST_USER_";
  if (name.size() > kPrefix.size() && iequals(name.substr(0, kPrefix.size()), kPrefix))
    name.remove_prefix(kPrefix.size());
  if (name.empty()) return nullptr;
  for (const RequestInfo& r : kRequests) {
    if (iequals(r.name, name) || (!r.old_name.empty() && iequals(r.old_name, name))) return &r;
  }
  return nullptr;
}

std::string message_label(Channel channel, const Header& header) {
  const RequestInfo* info = find_request(channel, header.request);
  std::string s = info ? std::string(info->name) : "request " + std::to_string(header.request);
  if (header.is_reply()) s += " reply";
  return s;
}

}  // namespace vhs
