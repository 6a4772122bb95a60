// Parsing the option values that several presenters share (--device, --session), with messages
// that say what was expected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "decoders/vhost_user/features.hpp"

namespace vhs {

// "" -> Unknown (infer). Otherwise blk, net, fs (and the other names features.hpp knows);
// false + `error` ("unknown device 'x': expected blk, net or fs") when not recognised.
bool parse_device_option(std::string_view text, DeviceKind& out, std::string& error);

// "" -> nullopt (all sessions). Otherwise a positive decimal session number.
bool parse_session_option(std::string_view text, std::optional<uint32_t>& out, std::string& error);

}  // namespace vhs
