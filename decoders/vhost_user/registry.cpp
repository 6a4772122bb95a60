// The one table of vhost-user requests (front-end channel 1-44, back-end channel 1-10) and the
// lookups over it. Every other name, payload shape, fd rule and reply rule is read from here.
#include "decoders/vhost_user/registry.hpp"

#include <array>
#include <cctype>
#include <optional>

namespace vhs {
namespace {

// The table, expanded from request_list.hpp. A gate of NONE means "legal without a protocol
// feature".
constexpr std::optional<ProtocolFeature> kGateNONE = std::nullopt;
#define VHS_GATE(NAME) kGate##NAME
#define VHS_DECLARE_GATE(NAME, bit) \
  constexpr std::optional<ProtocolFeature> kGate##NAME = ProtocolFeature::NAME;
VHS_PROTOCOL_FEATURES(VHS_DECLARE_GATE)
#undef VHS_DECLARE_GATE

#define VHS_ROW(CHANNEL, NAME, number, old_name, payload, fds, fd_role, reply, reply_payload, \
                reply_fds, reply_fd_role, gate, waits, category, meaning)                     \
  RequestInfo{Channel::CHANNEL,                                                               \
              number,                                                                         \
              #NAME,                                                                          \
              old_name,                                                                       \
              PayloadKind::payload,                                                           \
              FdRule::fds,                                                                    \
              FdRole::fd_role,                                                                \
              ReplyRule::reply,                                                               \
              PayloadKind::reply_payload,                                                     \
              FdRule::reply_fds,                                                              \
              FdRole::reply_fd_role,                                                          \
              VHS_GATE(gate),                                                                 \
              waits,                                                                          \
              Category::category,                                                             \
              meaning},
#define VHS_FRONTEND_ROW(...) VHS_ROW(Frontend, __VA_ARGS__)
#define VHS_BACKEND_ROW(...) VHS_ROW(Backend, __VA_ARGS__)

constexpr std::array kRequests = {VHS_FRONTEND_REQUESTS(VHS_FRONTEND_ROW)
                                      VHS_BACKEND_REQUESTS(VHS_BACKEND_ROW)};

#undef VHS_FRONTEND_ROW
#undef VHS_BACKEND_ROW
#undef VHS_ROW
#undef VHS_GATE

#define VHS_COUNT(...) +1
constexpr size_t kFrontendCount = 0 VHS_FRONTEND_REQUESTS(VHS_COUNT);
constexpr size_t kBackendCount = 0 VHS_BACKEND_REQUESTS(VHS_COUNT);
#undef VHS_COUNT

// Every request the spec names, in number order with no gaps, so row i of a channel is request
// i + 1 and request_info() is an index.
static_assert(kFrontendCount == 44, "front-end channel: requests 1-44");
static_assert(kBackendCount == 10, "back-end channel: requests 1-10");
constexpr bool rows_in_order() {
  for (size_t i = 0; i < kRequests.size(); ++i) {
    const bool frontend = i < kFrontendCount;
    const size_t expected = frontend ? i + 1 : i - kFrontendCount + 1;
    if (kRequests[i].channel != (frontend ? Channel::Frontend : Channel::Backend)) return false;
    if (kRequests[i].number != expected) return false;
    // A request with a reply fd rule has a reply role, and the other way round.
    if ((kRequests[i].fds == FdRule::None) != (kRequests[i].fd_role == FdRole::None)) return false;
    if ((kRequests[i].reply_fds == FdRule::None) != (kRequests[i].reply_fd_role == FdRole::None))
      return false;
  }
  return true;
}
static_assert(rows_in_order(),
              "request_list.hpp rows must be in number order, fd roles with fd rules");

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

std::string_view fd_role_name(FdRole role) {
  switch (role) {
    case FdRole::None: return "none";
    case FdRole::MemoryRegion: return "guest memory region";
    case FdRole::MemoryRegionRemoved: return "region being removed";
    case FdRole::LogBitmap: return "dirty-page log bitmap";
    case FdRole::LogEventfd: return "log-changed eventfd";
    case FdRole::Kick: return "kick eventfd";
    case FdRole::Call: return "call eventfd";
    case FdRole::Err: return "error eventfd";
    case FdRole::BackendChannel: return "back-end channel socket";
    case FdRole::Inflight: return "inflight buffer (shared memory)";
    case FdRole::Userfaultfd: return "userfaultfd";
    case FdRole::GpuSocket: return "vhost-user-gpu socket";
    case FdRole::SharedObject: return "dmabuf of the shared object";
    case FdRole::DeviceState: return "device state pipe";
    case FdRole::HostNotifier: return "host notifier page";
    case FdRole::ShmemMapping: return "memory to map into a shared memory region";
  }
  return "unknown";
}

std::span<const RequestInfo> all_requests() { return kRequests; }

const RequestInfo& request_info(FrontendRequest r) { return kRequests[static_cast<size_t>(r) - 1]; }
const RequestInfo& request_info(BackendRequest r) {
  return kRequests[kFrontendCount + static_cast<size_t>(r) - 1];
}
std::string_view request_name(FrontendRequest r) { return request_info(r).name; }
std::string_view request_name(BackendRequest r) { return request_info(r).name; }

const RequestInfo* find_request(Channel channel, uint32_t number) {
  // Rows are in number order per channel (static_assert above): a bounds check and a load, hot
  // in decode_message.
  if (channel == Channel::Frontend)
    return number >= 1 && number <= kFrontendCount ? &kRequests[number - 1] : nullptr;
  return number >= 1 && number <= kBackendCount ? &kRequests[kFrontendCount + number - 1] : nullptr;
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

PayloadKind reply_payload_for(const RequestInfo& info, uint32_t size) {
  if (info.reply == ReplyRule::IfLogShmfd && size == 0) return PayloadKind::None;
  return info.reply_payload;
}

std::string message_label(Channel channel, const Header& header) {
  const RequestInfo* info = find_request(channel, header.request);
  std::string s = info ? std::string(info->name) : "request " + std::to_string(header.request);
  if (header.is_reply()) s += " reply";
  return s;
}

}  // namespace vhs
