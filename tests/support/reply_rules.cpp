// Default replies per the registry (see reply_rules.hpp).
#include "support/reply_rules.hpp"

#include <cstring>

#include "decoders/vhost_user/registry.hpp"
#include "support/message_builder.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {

namespace {

uint64_t value_for(const RequestInfo* info, const std::map<std::string, uint64_t>& values,
                   uint64_t fallback) {
  if (info == nullptr) return fallback;
  auto it = values.find(std::string(info->name));
  return it == values.end() ? fallback : it->second;
}

Bytes u64_bytes(uint64_t v) { return u64_payload(v); }

}  // namespace

bool expects_reply(Channel channel, const Header& request) {
  if (request.is_reply()) return false;
  if (request.needs_reply()) return true;
  const RequestInfo* info = find_request(channel, request.request);
  if (info == nullptr) return false;
  // Test peers behave as if LOG_SHMFD were negotiated.
  return info->reply == ReplyRule::Always || info->reply == ReplyRule::IfLogShmfd;
}

PlannedReply default_reply(Channel channel, std::span<const uint8_t> request,
                           const std::map<std::string, uint64_t>& values) {
  PlannedReply out;
  auto h = parse_header(request);
  if (!h || !expects_reply(channel, *h)) return out;
  std::span<const uint8_t> payload = request.subspan(kHeaderSize);
  const RequestInfo* info = find_request(channel, h->request);
  out.send = true;

  bool intrinsic =
      info != nullptr && (info->reply == ReplyRule::Always || info->reply == ReplyRule::IfLogShmfd);
  Bytes body;
  FdRule fd_rule = FdRule::None;
  if (!intrinsic) {
    body = u64_bytes(value_for(info, values, 0));  // ack: 0 = success
  } else {
    fd_rule = info->reply_fds;
    switch (info->reply_payload) {
      case PayloadKind::None: break;
      case PayloadKind::VringState: {
        uint32_t index = 0;
        if (payload.size() >= 4) std::memcpy(&index, payload.data(), 4);
        body = vring_state(index, static_cast<uint32_t>(value_for(info, values, 0)));
        break;
      }
      case PayloadKind::Inflight: {
        body.assign(24, 0);
        uint64_t mmap_size = value_for(info, values, 4096);
        std::memcpy(body.data(), &mmap_size, 8);
        if (payload.size() >= 20) std::memcpy(body.data() + 16, payload.data() + 16, 4);
        if (mmap_size == 0) fd_rule = FdRule::None;
        break;
      }
      case PayloadKind::Config:
      case PayloadKind::MemTable:
      case PayloadKind::SingleRegion:
      case PayloadKind::SharedObject:
      case PayloadKind::Opaque:
        body.assign(payload.begin(), payload.end());  // echo: same size as asked
        break;
      case PayloadKind::ShmemConfig: body.assign(8, 0); break;
      case PayloadKind::DeviceStateResult:
        body = u64_bytes(value_for(info, values, 0x100));  // ok, no fd returned
        break;
      default: body = u64_bytes(value_for(info, values, 0)); break;
    }
  }
  out.bytes = message(h->request, kProtocolVersion | kFlagReply, body);
  switch (fd_rule) {
    case FdRule::One:
    case FdRule::OneIfMmapSize:
    case FdRule::OneOnSuccess: out.fds.push_back(make_memfd("reply", 4096)); break;
    default: break;
  }
  return out;
}

}  // namespace vhs::test
