// Value renderers shared by the field tree, the one-line summary and any presenter: hex, sizes,
// header flags, feature words, MACs, UUIDs and the names of small wire enumerations.
// Unknown enumeration values render as "Unknown (63)".
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

std::string hex_u64(uint64_t v);         // "0x1f"
std::string human_size(uint64_t bytes);  // "512 B", "4.0 KiB", "1.0 GiB"
std::string size_text(uint64_t bytes);   // "1073741824 (1.0 GiB)"; "4096 (4.0 KiB)"; "12"
std::string unknown_value(uint64_t v);   // "Unknown (63)"
// "NAME (v)" when name is not empty, else "Unknown (v)".
std::string named_value(std::string_view name, uint64_t v);

std::string header_flags_text(uint32_t flags);                // "0x9 (version 1, NEED_REPLY)"
std::string request_text(Channel channel, uint32_t request);  // "GET_FEATURES (1)", "Unknown (99)"

std::string features_text(uint64_t bits, DeviceKind device);  // "0x100000000 (VERSION_1)"
std::string protocol_features_text(uint64_t bits);            // "0x8 (REPLY_ACK)"
// Like features_text but with at most `max_names` names, then "+N": for one-line summaries.
std::string features_short(uint64_t bits, DeviceKind device, size_t max_names = 4);
std::string protocol_features_short(uint64_t bits, size_t max_names = 4);
std::string status_text(uint64_t status);  // "0xf (ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK)"

std::string mac_text(uint64_t u64);  // first 6 bytes of the u64 as stored: "52:54:00:12:34:56"
std::string uuid_text(const std::array<uint8_t, 16>& uuid);  // RFC 4122 byte order, 8-4-4-4-12

// Small wire enumerations; "" when the value has no name.
std::string_view iotlb_type_name(uint8_t type);  // MISS, UPDATE, INVALIDATE, ACCESS_FAIL, ...
std::string_view iotlb_perm_name(uint8_t perm);  // NONE, RO, WO, RW
std::string_view device_state_direction_name(uint32_t d);  // SAVE, LOAD
std::string_view device_state_phase_name(uint32_t p);      // STOPPED
std::string_view config_flags_name(uint32_t f);            // FRONTEND (0), MIGRATION (1)

}  // namespace vhs
