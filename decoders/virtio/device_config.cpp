// Config space layouts of virtio-blk, virtio-net and virtio-fs, and their value rendering.
#include "decoders/virtio/device_config.hpp"

#include <cstring>

#include <fmt/format.h>

#include "decoders/vhost_user/field_format.hpp"

namespace vhs {
namespace {

using S = ConfigFieldStyle;

constexpr ConfigField kBlk[] = {
    {"capacity", 0, 8, S::Sectors},
    {"size_max", 8, 4, S::Dec},
    {"seg_max", 12, 4, S::Dec},
    {"geometry.cylinders", 16, 2, S::Dec},
    {"geometry.heads", 18, 1, S::Dec},
    {"geometry.sectors", 19, 1, S::Dec},
    {"blk_size", 20, 4, S::Dec},
    {"physical_block_exp", 24, 1, S::Dec},
    {"alignment_offset", 25, 1, S::Dec},
    {"min_io_size", 26, 2, S::Dec},
    {"opt_io_size", 28, 4, S::Dec},
    {"wce", 32, 1, S::Dec},
    {"num_queues", 34, 2, S::Dec},
    {"max_discard_sectors", 36, 4, S::Dec},
    {"max_discard_seg", 40, 4, S::Dec},
    {"discard_sector_alignment", 44, 4, S::Dec},
    {"max_write_zeroes_sectors", 48, 4, S::Dec},
    {"max_write_zeroes_seg", 52, 4, S::Dec},
    {"write_zeroes_may_unmap", 56, 1, S::Dec},
    {"max_secure_erase_sectors", 60, 4, S::Dec},
    {"max_secure_erase_seg", 64, 4, S::Dec},
    {"secure_erase_sector_alignment", 68, 4, S::Dec},
    {"zoned.zone_sectors", 72, 4, S::Dec},
    {"zoned.max_open_zones", 76, 4, S::Dec},
    {"zoned.max_active_zones", 80, 4, S::Dec},
    {"zoned.max_append_sectors", 84, 4, S::Dec},
    {"zoned.write_granularity", 88, 4, S::Dec},
    {"zoned.model", 92, 1, S::Dec},
};

constexpr ConfigField kNet[] = {
    {"mac", 0, 6, S::Mac},
    {"status", 6, 2, S::NetStatus},
    {"max_virtqueue_pairs", 8, 2, S::Dec},
    {"mtu", 10, 2, S::Dec},
    {"speed", 12, 4, S::Dec},
    {"duplex", 16, 1, S::Dec},
    {"rss_max_key_size", 17, 1, S::Dec},
    {"rss_max_indirection_table_length", 18, 2, S::Dec},
    {"supported_hash_types", 20, 4, S::Hex},
};

constexpr ConfigField kFs[] = {
    {"tag", 0, 36, S::Text},
    {"num_request_queues", 36, 4, S::Dec},
    {"notify_buf_size", 40, 4, S::Dec},
};

uint64_t little(std::span<const uint8_t> b) {
  uint64_t v = 0;
  std::memcpy(&v, b.data(), std::min<size_t>(b.size(), sizeof v));  // host little endian
  return v;
}

}  // namespace

std::span<const ConfigField> device_config_fields(DeviceKind device) {
  switch (device) {
    case DeviceKind::Blk: return kBlk;
    case DeviceKind::Net: return kNet;
    case DeviceKind::Fs: return kFs;
    default: return {};
  }
}

uint64_t config_field_number(std::span<const uint8_t> bytes) { return little(bytes); }

std::string net_status_names(uint64_t status) {
  std::string names;
  if (status & 1) names = "LINK_UP";
  if (status & 2) names += names.empty() ? "ANNOUNCE" : "|ANNOUNCE";
  return names;
}

std::string render_config_field(const ConfigField& field, std::span<const uint8_t> bytes) {
  if (bytes.size() != field.size) return "?";
  switch (field.style) {
    case S::Dec: return fmt::format("{}", little(bytes));
    case S::Hex: return hex_u64(little(bytes));
    case S::Sectors: {
      const uint64_t sectors = little(bytes);
      // Sector counts near 2^64 would overflow the byte count; show sectors alone then.
      if (sectors > (~0ull >> 9)) return fmt::format("{} sectors", sectors);
      return fmt::format("{} sectors ({})", sectors, human_size(sectors * 512));
    }
    case S::Mac: return mac_text(little(bytes));
    case S::Text: {
      std::string s;
      for (uint8_t c : bytes) {
        if (c == 0) break;
        s += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
      }
      return fmt::format("\"{}\"", s);
    }
    case S::NetStatus: {
      const uint64_t v = little(bytes);
      const std::string names = net_status_names(v);
      return names.empty() ? hex_u64(v) : fmt::format("0x{:x} ({})", v, names);
    }
  }
  return "?";
}

}  // namespace vhs
