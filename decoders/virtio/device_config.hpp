// Device config space layouts (VIRTIO spec "Device Types", each device's "Device configuration
// layout") for blk, net and fs, so GET_CONFIG replies and SET_CONFIG writes can be shown field by
// field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "decoders/vhost_user/features.hpp"

namespace vhs {

enum class ConfigFieldStyle : uint8_t {
  Dec,
  Hex,
  Sectors,    // u64 count of 512-byte sectors
  Mac,        // 6 bytes
  Text,       // NUL-padded UTF-8 (virtio-fs tag)
  NetStatus,  // bit 0 LINK_UP, bit 1 ANNOUNCE
};

struct ConfigField {
  std::string_view name;  // dotted below "config.data", e.g. "capacity", "geometry.heads"
  uint16_t offset;        // in device config space
  uint8_t size;
  ConfigFieldStyle style;
};

// Empty for devices without a known layout.
std::span<const ConfigField> device_config_fields(DeviceKind device);

// The little-endian number in a field's bytes (at most 8 are read).
uint64_t config_field_number(std::span<const uint8_t> bytes);
// virtio-net status bits: "LINK_UP|ANNOUNCE", "" when none is set.
std::string net_status_names(uint64_t status);

// Renders one field from its bytes (size == field.size).
std::string render_config_field(const ConfigField& field, std::span<const uint8_t> bytes);

}  // namespace vhs
