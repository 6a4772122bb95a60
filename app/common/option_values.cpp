// Parsing the option values that several presenters share (--device, --session).
#include "app/common/option_values.hpp"

#include <charconv>

#include <fmt/format.h>

namespace vhs {

bool parse_device_option(std::string_view text, DeviceKind& out, std::string& error) {
  out = DeviceKind::Unknown;
  if (text.empty()) return true;
  out = device_kind_from_name(text);
  if (out != DeviceKind::Unknown) return true;
  error = fmt::format("unknown device '{}': expected blk, net or fs", text);
  return false;
}

bool parse_session_option(std::string_view text, std::optional<uint32_t>& out, std::string& error) {
  out.reset();
  if (text.empty()) return true;
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0) {
    error = fmt::format("invalid session '{}': expected a session number (1, 2, ...)", text);
    return false;
  }
  out = v;
  return true;
}

bool parse_seconds_option(std::string_view text, std::chrono::milliseconds& out,
                          bool zero_allowed) {
  double seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  // Written so that NaN fails every comparison and is refused.
  const bool in_range = zero_allowed ? seconds >= 0 : seconds > 0;
  if (!in_range || !(seconds <= 86400)) return false;
  out = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  return true;
}

}  // namespace vhs
