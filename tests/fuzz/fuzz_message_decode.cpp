// Fuzz target 2: the message decoders. Input: one control byte, then one vhost-user message
// (header + payload) as it travels on the socket. The control byte picks what the session would
// know when the message arrives: bits 0-2 the device kind, bits 3-4 the negotiated protocol
// features (unknown, none, all, the low 32 bits of the payload), bits 5-7 how many fds came with
// it. The message is decoded on both channels, then rendered as the field tree and the summary.
// Properties: every field lies inside the message, a filter term built from any field parses
// (the GUI's "filter on this value"), one fd role per fd.
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "app/common/view_fds.hpp"
#include "app/common/view_filter.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/message.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace vhs;

constexpr std::array<DeviceKind, 8> kDevices = {
    DeviceKind::Unknown, DeviceKind::Net, DeviceKind::Blk,  DeviceKind::Fs,
    DeviceKind::Vsock,   DeviceKind::Gpu, DeviceKind::Scsi, static_cast<DeviceKind>(99)};

DecodeContext context_of(uint8_t control, std::span<const uint8_t> message) {
  DecodeContext ctx;
  ctx.device = kDevices[control & 0x7];
  switch ((control >> 3) & 0x3) {
    case 0: break;  // before GET_PROTOCOL_FEATURES: feature-dependent rules are not checked
    case 1: ctx.protocol_features_known = true; break;
    case 2:
      ctx.protocol_features_known = true;
      ctx.protocol_features = ~uint64_t{0};
      break;
    case 3: {
      ctx.protocol_features_known = true;
      uint32_t low = 0;
      if (message.size() >= kHeaderSize + 4) std::memcpy(&low, message.data() + kHeaderSize, 4);
      ctx.protocol_features = low;
      break;
    }
  }
  return ctx;
}

// The fds as the proxy would describe them: every kind, including one past the last.
std::vector<FdInfo> fds_of(uint8_t control) {
  std::vector<FdInfo> fds(control >> 5);
  for (size_t i = 0; i < fds.size(); ++i) {
    fds[i].kind = static_cast<FdKind>(i % 8);
    fds[i].size = i * 4096;
    fds[i].name = i % 2 ? "memfd:pc.ram" : "";
  }
  return fds;
}

void decode_on(Channel channel, std::span<const uint8_t> message, const std::vector<FdInfo>& fds,
               const DecodeContext& ctx) {
  const DecodedMessage m = decode_message(channel, message, fds, ctx);
  VHS_FUZZ_CHECK(m.fd_count == fds.size());
  VHS_FUZZ_CHECK(m.header_complete == (message.size() >= kHeaderSize));
  for (const Finding& f : m.findings) fuzz::consume(finding_info(f.code).id);
  fuzz::consume(m.name());
  fuzz::consume(summarize_payload(m, ctx));
  VHS_FUZZ_CHECK(view::fd_roles(m, fds.size()).size() == fds.size());
  for (const Field& f : describe_fields(m, message, fds, ctx)) {
    VHS_FUZZ_CHECK(uint64_t{f.offset} + f.length <= message.size());
    VHS_FUZZ_CHECK(!f.path.empty());
    fuzz::consume(f.text);
    view::FilterError error;
    VHS_FUZZ_CHECK(view::Filter::parse(view::filter_term(f), error).has_value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t control = data[0];
  const std::span<const uint8_t> message(data + 1, size - 1);
  const DecodeContext ctx = context_of(control, message);
  const std::vector<FdInfo> fds = fds_of(control);
  decode_on(Channel::Frontend, message, fds, ctx);
  decode_on(Channel::Backend, message, fds, ctx);
  return 0;
}
