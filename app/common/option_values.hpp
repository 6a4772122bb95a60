// Parsing the option values that several presenters share (--device, --session), with messages
// that say what was expected.
#pragma once

#include <chrono>
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

// Seconds as a decimal number ("2", "0.5") up to a day; 0 only when `zero_allowed`. NaN,
// negative and trailing text are refused (false).
bool parse_seconds_option(std::string_view text, std::chrono::milliseconds& out, bool zero_allowed);

}  // namespace vhs
