// Renderers for field values (see field_format.hpp); names come from the registry and the
// feature tables, never from a list kept here.
#include "decoders/vhost_user/field_format.hpp"

#include <fmt/format.h>

#include "decoders/vhost_user/registry.hpp"

namespace vhs {
namespace {

// Keeps the first `max_names` '|'-separated names of a rendered word and counts the rest.
std::string abbreviate(const std::string& names, size_t max_names) {
  size_t pos = 0, kept = 0;
  while (kept < max_names) {
    pos = names.find('|', pos);
    if (pos == std::string::npos) return names;
    ++kept;
    ++pos;
  }
  size_t rest = 1;
  for (size_t i = pos; i < names.size(); ++i)
    if (names[i] == '|') ++rest;
  return fmt::format("{}+{}", names.substr(0, pos), rest);
}

std::string word_text(uint64_t bits, const std::string& names) {
  if (bits == 0) return "0x0";
  return fmt::format("0x{:x} ({})", bits, names);
}

}  // namespace

std::string hex_u64(uint64_t v) { return fmt::format("0x{:x}", v); }

std::string human_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string size_text(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{}", bytes);
  return fmt::format("{} ({})", bytes, human_size(bytes));
}

std::string unknown_value(uint64_t v) { return fmt::format("Unknown ({})", v); }

std::string named_value(std::string_view name, uint64_t v) {
  if (name.empty()) return unknown_value(v);
  return fmt::format("{} ({})", name, v);
}

std::string header_flags_text(uint32_t flags) {
  std::string s = fmt::format("0x{:x} (version {}", flags, flags & kFlagVersionMask);
  if (flags & kFlagReply) s += ", REPLY";
  if (flags & kFlagNeedReply) s += ", NEED_REPLY";
  if (flags & kFlagReservedMask) s += fmt::format(", reserved 0x{:x}", flags & kFlagReservedMask);
  s += ')';
  return s;
}

std::string request_text(Channel channel, uint32_t request) {
  const RequestInfo* info = find_request(channel, request);
  return named_value(info ? info->name : std::string_view{}, request);
}

std::string features_text(uint64_t bits, DeviceKind device) {
  return word_text(bits, describe_features(bits, device));
}

std::string protocol_features_text(uint64_t bits) {
  return word_text(bits, describe_protocol_features(bits));
}

std::string features_short(uint64_t bits, DeviceKind device, size_t max_names) {
  return word_text(bits, abbreviate(describe_features(bits, device), max_names));
}

std::string protocol_features_short(uint64_t bits, size_t max_names) {
  return word_text(bits, abbreviate(describe_protocol_features(bits), max_names));
}

std::string status_text(uint64_t status) {
  if (status > 0xff) return hex_u64(status);
  return fmt::format("0x{:x} ({})", status, describe_status(static_cast<uint8_t>(status)));
}

std::string mac_text(uint64_t u64) {
  // Host-native u64 (little endian here): byte i of the payload is bits 8i..8i+7.
  auto b = [u64](int i) { return static_cast<unsigned>((u64 >> (8 * i)) & 0xff); };
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b(0), b(1), b(2), b(3), b(4),
                     b(5));
}

std::string uuid_text(const std::array<uint8_t, 16>& u) {
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
      u[15]);
}

std::string_view iotlb_type_name(uint8_t type) {
  switch (type) {
    case 1: return "MISS";
    case 2: return "UPDATE";
    case 3: return "INVALIDATE";
    case 4: return "ACCESS_FAIL";
    case 5: return "BATCH_BEGIN";
    case 6: return "BATCH_END";
  }
  return {};
}

std::string_view iotlb_perm_name(uint8_t perm) {
  switch (perm) {
    case 0: return "NONE";
    case 1: return "RO";
    case 2: return "WO";
    case 3: return "RW";
  }
  return {};
}

std::string_view device_state_direction_name(uint32_t d) {
  switch (d) {
    case 0: return "SAVE";
    case 1: return "LOAD";
  }
  return {};
}

std::string_view device_state_phase_name(uint32_t p) { return p == 0 ? "STOPPED" : ""; }

std::string_view config_flags_name(uint32_t f) {
  switch (f) {
    case 0: return "FRONTEND";
    case 1: return "MIGRATION";
  }
  return {};
}

}  // namespace vhs
