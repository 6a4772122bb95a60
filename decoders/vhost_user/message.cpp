// Decoding one vhost-user message: header checks, choice of payload layout (request vs reply,
// postcopy and XEN_MMAP variants), payload decode, request-specific field checks and fd rules.
// Hot path (runs for every message of a capture): no string work unless a finding is raised.
#include "decoders/vhost_user/message.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "decoders/vhost_user/payload_decoders.hpp"
#include "decoders/vhost_user/payload_layout.hpp"

namespace vhs {
namespace {

// Registry rows this file treats specially, by enumerator.
struct SpecialRequests {
  const RequestInfo* set_mem_table = &request_info(FrontendRequest::SET_MEM_TABLE);
  const RequestInfo* add_mem_reg = &request_info(FrontendRequest::ADD_MEM_REG);
  const RequestInfo* get_vring_base = &request_info(FrontendRequest::GET_VRING_BASE);
  const RequestInfo* set_vring_num = &request_info(FrontendRequest::SET_VRING_NUM);
  const RequestInfo* set_vring_enable = &request_info(FrontendRequest::SET_VRING_ENABLE);
  const RequestInfo* set_vring_endian = &request_info(FrontendRequest::SET_VRING_ENDIAN);
  const RequestInfo* vring_kick = &request_info(FrontendRequest::VRING_KICK);
  const RequestInfo* backend_vring_call = &request_info(BackendRequest::BACKEND_VRING_CALL);
  const RequestInfo* backend_vring_err = &request_info(BackendRequest::BACKEND_VRING_ERR);
  const RequestInfo* get_config = &request_info(FrontendRequest::GET_CONFIG);
  const RequestInfo* get_inflight_fd = &request_info(FrontendRequest::GET_INFLIGHT_FD);
};

const SpecialRequests& special() {
  static const SpecialRequests s;
  return s;
}

void add(std::vector<Finding>& findings, FindingCode code, std::string detail) {
  findings.push_back({code, std::move(detail)});
}

std::string flags_problem_text(uint32_t flags) {
  std::string s = fmt::format("reply flags are 0x{:x}, expected exactly 0x5", flags);
  if (flags & kFlagNeedReply) s += " (NEED_REPLY set on a reply)";
  return s;
}

void check_header(const Header& h, std::vector<Finding>& findings) {
  if (h.version() != kProtocolVersion)
    add(findings, FindingCode::BadVersion,
        fmt::format("flags 0x{:x} carry version {}, expected 1", h.flags, h.version()));
  if (h.flags & kFlagReservedMask)
    add(findings, FindingCode::ReservedFlags,
        fmt::format("flags 0x{:x} set reserved bits 0x{:x}", h.flags, h.flags & kFlagReservedMask));
  if (h.is_reply() && h.flags != (kProtocolVersion | kFlagReply))
    add(findings, FindingCode::ReplyFlagsNotExact, flags_problem_text(h.flags));
  if (h.size > kMaxPayloadSize)
    add(findings, FindingCode::OversizedMessage,
        fmt::format("header.size is {} bytes, no peer accepts more than {}", h.size,
                    kMaxPayloadSize));
}

// The postcopy exchange reuses two request codes with other layouts (spec "Postcopy migration"):
// the back-end echoes the table/region with its own bases, and the front-end then acks with a bare
// u64. An 8-byte SET_MEM_TABLE is also an empty table; the ack carries 0, so only a non-zero first
// word (a table claiming regions it does not hold) is decoded as a table.
PayloadKind choose_kind(const RequestInfo& info, bool reply, uint32_t size,
                        std::span<const uint8_t> payload, FdRule& fds) {
  const SpecialRequests& sp = special();
  const bool mem = &info == sp.set_mem_table || &info == sp.add_mem_reg;
  if (reply) {
    fds = info.reply_fds;
    if (mem && size != 8) return info.payload;
    return reply_payload_for(info, size);
  }
  fds = info.fds;
  if (mem && size == 8) {
    const bool zero = payload.size() == 8 &&
                      std::all_of(payload.begin(), payload.end(), [](uint8_t b) { return b == 0; });
    if (&info == sp.add_mem_reg || zero) {
      fds = FdRule::None;
      return PayloadKind::U64;
    }
  }
  return info.payload;
}

void check_request_fields(const DecodedMessage& m, std::vector<Finding>& findings) {
  const SpecialRequests& sp = special();
  const RequestInfo* info = m.info;
  if (const auto* vs = std::get_if<VringStateValue>(&m.payload); vs && !m.is_reply) {
    if (info == sp.get_vring_base && vs->num != 0)
      add(findings, FindingCode::InvalidField,
          fmt::format("{} num is {}, must be 0", info->name, vs->num));
    if ((info == sp.set_vring_enable || info == sp.set_vring_endian) && vs->num > 1)
      add(findings, FindingCode::InvalidField,
          fmt::format("{} num is {}, expected 0 or 1", info->name, vs->num));
    if ((info == sp.vring_kick || info == sp.backend_vring_call || info == sp.backend_vring_err) &&
        vs->num != 0)
      add(findings, FindingCode::InvalidField,
          fmt::format("{} num is {}, reserved and must be 0", info->name, vs->num));
    if (info == sp.set_vring_num && (vs->num == 0 || vs->num > kMaxQueueSize))
      add(findings, FindingCode::InvalidField,
          fmt::format("{} num is {}, expected 1..{}", info->name, vs->num, kMaxQueueSize));
  }
  if (const auto* cfg = std::get_if<ConfigValue>(&m.payload);
      cfg && m.is_reply && info == sp.get_config && cfg->size == 0)
    add(findings, FindingCode::InvalidField,
        fmt::format("{} reply has config.size 0 (back-end failure)", info->name));
  if (const auto* inf = std::get_if<InflightValue>(&m.payload);
      inf && !m.is_reply && info == sp.get_inflight_fd) {
    if (inf->num_queues == 0)
      add(findings, FindingCode::InvalidField, fmt::format("{} num_queues is 0", info->name));
    if (inf->queue_size == 0)
      add(findings, FindingCode::InvalidField, fmt::format("{} queue_size is 0", info->name));
  }
}

struct FdExpectation {
  bool checked = false;
  uint32_t min = 0, max = 0;
  std::string_view why;
};

FdExpectation expected_fds(FdRule rule, const Payload& p, bool payload_complete,
                           const DecodeContext& ctx) {
  switch (rule) {
    case FdRule::None: return {true, 0, 0, "none"};
    case FdRule::One: return {true, 1, 1, "one"};
    case FdRule::ZeroOrOne: return {true, 0, 1, "zero or one"};
    case FdRule::OneUnlessNofd: {
      if (!payload_complete) return {};
      bool nofd = false;
      if (const auto* v = std::get_if<VringIndexFdValue>(&p))
        nofd = v->nofd();
      else if (const auto* a = std::get_if<VringAreaValue>(&p))
        nofd = a->nofd();
      return nofd ? FdExpectation{true, 0, 0, "none: NOFD is set"}
                  : FdExpectation{true, 1, 1, "one: NOFD is clear"};
    }
    case FdRule::OnePerRegion: {
      if (!payload_complete) return {};
      const auto* t = std::get_if<MemTableValue>(&p);
      const uint32_t n = t ? t->nregions : 0;
      return {true, n, n, "one per region"};
    }
    case FdRule::OneIfLogShmfd: {
      if (!ctx.protocol_features_known) return {};
      const bool shmfd = has_feature(ctx.protocol_features, ProtocolFeature::LOG_SHMFD);
      return shmfd ? FdExpectation{true, 1, 1, "one: LOG_SHMFD negotiated"}
                   : FdExpectation{true, 0, 0, "none: LOG_SHMFD not negotiated"};
    }
    case FdRule::OneIfMmapSize: {
      if (!payload_complete) return {};
      const auto* v = std::get_if<InflightValue>(&p);
      return v && v->mmap_size != 0 ? FdExpectation{true, 1, 1, "one: mmap_size is not 0"}
                                    : FdExpectation{true, 0, 0, "none: mmap_size is 0"};
    }
    case FdRule::OneOnSuccess: {
      if (!payload_complete) return {};
      if (const auto* v = std::get_if<U64Value>(&p))
        return v->value == 0 ? FdExpectation{true, 1, 1, "one: lookup succeeded"}
                             : FdExpectation{true, 0, 0, "none: lookup failed"};
      return {true, 0, 1, "one on success, none on failure"};
    }
    case FdRule::OneUnlessNoFdBit: {
      if (!payload_complete) return {};
      const auto* v = std::get_if<DeviceStateResultValue>(&p);
      return v && v->no_fd() ? FdExpectation{true, 0, 0, "none: no-fd bit is set"}
                             : FdExpectation{true, 1, 1, "one: no-fd bit is clear"};
    }
  }
  return {};
}

void check_fds(const DecodedMessage& m, FdRule rule, bool payload_complete,
               const DecodeContext& ctx, std::vector<Finding>& findings) {
  const FdExpectation e = expected_fds(rule, m.payload, payload_complete, ctx);
  if (e.checked && (m.fd_count < e.min || m.fd_count > e.max)) {
    add(findings, FindingCode::FdCountMismatch,
        fmt::format("{} {} carries {} fd{}, expected {}", m.name(),
                    m.is_reply ? "reply" : "request", m.fd_count, m.fd_count == 1 ? "" : "s",
                    e.why));
    return;
  }
  // Back-end channel requests may pass fds only with BACKEND_SEND_FD (spec, back-end messages).
  if (m.channel == Channel::Backend && !m.is_reply && m.fd_count > 0 &&
      ctx.protocol_features_known &&
      !has_feature(ctx.protocol_features, ProtocolFeature::BACKEND_SEND_FD))
    add(findings, FindingCode::FdCountMismatch,
        fmt::format("{} carries {} fd{} but BACKEND_SEND_FD was not negotiated", m.name(),
                    m.fd_count, m.fd_count == 1 ? "" : "s"));
}

}  // namespace

std::string_view DecodedMessage::name() const { return info ? info->name : "UNKNOWN"; }

DecodedMessage decode_message(Channel channel, std::span<const uint8_t> bytes,
                              std::span<const FdInfo> fds, const DecodeContext& ctx) {
  DecodedMessage m;
  m.channel = channel;
  m.fd_count = static_cast<uint32_t>(fds.size());
  const auto header = parse_header(bytes);
  if (!header) {
    add(m.findings, FindingCode::TruncatedHeader,
        fmt::format("message has {} byte{}, the header needs {}", bytes.size(),
                    bytes.size() == 1 ? "" : "s", kHeaderSize));
    m.payload_kind = PayloadKind::Opaque;
    m.payload = OpaqueValue{0};
    return m;
  }
  m.header = *header;
  m.header_complete = true;
  m.is_reply = header->is_reply();
  check_header(m.header, m.findings);

  const size_t available = bytes.size() - kHeaderSize;
  const uint32_t declared = m.header.size;
  const bool payload_complete = available >= declared;
  const auto present = bytes.subspan(kHeaderSize, std::min<size_t>(available, declared));
  if (!payload_complete)
    add(m.findings, FindingCode::TruncatedPayload,
        fmt::format("header.size is {} but only {} payload byte{} present", declared, available,
                    available == 1 ? " is" : "s are"));
  else if (available > declared)
    add(m.findings, FindingCode::PayloadSizeMismatch,
        fmt::format("{} bytes follow the payload: header.size is {}, the message holds {}",
                    available - declared, declared, available));

  m.info = find_request(channel, m.header.request);
  if (!m.info) {
    add(m.findings, FindingCode::UnknownRequest,
        m.header.request == 0
            ? std::string("request 0 is VHOST_USER_NONE (invalid)")
            : fmt::format("request {} is not defined on the {} channel", m.header.request,
                          channel == Channel::Frontend ? "front-end" : "back-end"));
    m.payload_kind = PayloadKind::Opaque;
    m.payload = OpaqueValue{static_cast<uint32_t>(present.size())};
    return m;
  }

  FdRule fd_rule = FdRule::None;
  m.payload_kind = choose_kind(*m.info, m.is_reply, declared, present, fd_rule);
  const bool xen =
      ctx.protocol_features_known && has_feature(ctx.protocol_features, ProtocolFeature::XEN_MMAP);
  const PayloadSizeRule size_rule = payload_size_rule(m.payload_kind, xen);
  if (declared <= kMaxPayloadSize && !size_rule.accepts(declared))
    add(m.findings, FindingCode::PayloadSizeMismatch,
        fmt::format("{} {} payload ({}): expected {} bytes, found {}", m.info->name,
                    m.is_reply ? "reply" : "request", payload_kind_name(m.payload_kind),
                    size_rule.text(), declared));

  PayloadDecodeOptions options;
  options.xen_mmap = xen;
  options.keep_config_data = m.is_reply || m.info != special().get_config;
  m.payload = decode_payload(m.payload_kind, present, declared, options, m.findings);

  check_request_fields(m, m.findings);
  check_fds(m, fd_rule, payload_complete, ctx, m.findings);
  return m;
}

bool answer_due(Channel channel, std::span<const uint8_t> request, const DecodeContext& ctx) {
  const auto h = parse_header(request);
  if (!h || h->is_reply()) return false;
  if (h->needs_reply()) return true;
  const RequestInfo* info = find_request(channel, h->request);
  if (info == nullptr) return false;
  if (info->reply == ReplyRule::Always) return true;
  return info->reply == ReplyRule::IfLogShmfd &&
         has_feature(ctx.protocol_features, ProtocolFeature::LOG_SHMFD);
}

}  // namespace vhs
