// Decoding one vhost-user message into a typed value plus per-message findings (placeholder:
// header only, payload decoders land next).
#include "decoders/message.hpp"

namespace vhs {

std::string_view DecodedMessage::name() const { return info ? info->name : "UNKNOWN"; }

DecodedMessage decode_message(Channel channel, std::span<const uint8_t> bytes,
                              std::span<const FdInfo> fds, const DecodeContext&) {
  DecodedMessage m;
  m.channel = channel;
  m.fd_count = static_cast<uint32_t>(fds.size());
  if (auto h = parse_header(bytes)) {
    m.header = *h;
    m.header_complete = true;
    m.is_reply = h->is_reply();
    m.info = find_request(channel, h->request);
  } else {
    m.findings.push_back({FindingCode::TruncatedHeader, "header needs 12 bytes"});
  }
  return m;
}

std::vector<Field> describe_fields(const DecodedMessage&, std::span<const uint8_t>,
                                   std::span<const FdInfo>, const DecodeContext&) {
  return {};
}

std::string summarize_payload(const DecodedMessage&, const DecodeContext&) { return {}; }

}  // namespace vhs
