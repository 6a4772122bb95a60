// Decoding one vhost-user message: bytes (+ descriptions of the fds that came with it) in, a typed
// message with per-message findings out. Never throws on wire data; malformed input decodes as far
// as it can and carries findings that say what was expected and what was found.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/field_value.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

// Session facts a decoder needs to interpret one message; the analyser supplies them, a
// context-free decode uses the defaults.
struct DecodeContext {
  uint64_t protocol_features =
      0;  // negotiated so far (LOG_SHMFD, XEN_MMAP change layouts/fd rules)
  bool protocol_features_known = false;  // false: fd rules that depend on features are not checked
  DeviceKind device = DeviceKind::Unknown;
};

struct DecodedMessage {
  Header header;
  bool header_complete = false;  // false: fewer than 12 bytes
  Channel channel = Channel::Frontend;
  const RequestInfo* info = nullptr;  // nullptr: request number unknown on this channel
  bool is_reply = false;
  PayloadKind payload_kind = PayloadKind::None;  // kind the payload was decoded as
  Payload payload;
  uint32_t fd_count = 0;
  std::vector<Finding> findings;

  std::string_view name() const;  // spec name, or "UNKNOWN"
};

DecodedMessage decode_message(Channel channel, std::span<const uint8_t> bytes,
                              std::span<const FdInfo> fds, const DecodeContext& ctx = {});

// True when the receiver of `request` on `channel` must answer it (spec "Communication",
// "REPLY_ACK"): an intrinsic reply (registry; SET_LOG_BASE has one only when LOG_SHMFD was
// negotiated, per `ctx`), or the ack NEED_REPLY asks for. Never for a reply or a short header.
bool answer_due(Channel channel, std::span<const uint8_t> request, const DecodeContext& ctx);

// One line of the field tree. Offsets are into the whole message (header included) so a hex view
// can highlight a field's bytes. Paths follow the scheme in field_paths.hpp.
struct Field {
  std::string path;  // "header.flags", "vring.desc_addr", "region[0].size", "fd[1]"
  FieldValue value;  // typed: flags 0x9 with names "NEED_REPLY"
  std::string text;  // rendered: "0x9 (version 1, NEED_REPLY)"
  uint32_t offset = 0;
  uint32_t length = 0;
  uint8_t depth = 0;  // nesting level for indentation
};

// The full field tree of a message (header, payload fields, fds). Used by `dump -V` and the GUI.
std::vector<Field> describe_fields(const DecodedMessage& msg, std::span<const uint8_t> bytes,
                                   std::span<const FdInfo> fds, const DecodeContext& ctx = {});

// Key fields on one line: "index=0 num=256", "regions=2 (2.0 GiB)", "VERSION_1|...".
std::string summarize_payload(const DecodedMessage& msg, const DecodeContext& ctx = {});

}  // namespace vhs
