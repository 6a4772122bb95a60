// One decoder per payload kind (layouts: facts file section 4), all reads through ByteReader.
#include "decoders/vhost_user/payload_decoders.hpp"

#include <fmt/format.h>

#include "decoders/vhost_user/byte_reader.hpp"
#include "decoders/vhost_user/payload_layout.hpp"

namespace vhs {
namespace {

constexpr uint64_t kIndexAndNofdMask = kVringIndexMask | kVringNoFdFlag;

void invalid(std::vector<Finding>& findings, std::string detail) {
  findings.push_back({FindingCode::InvalidField, std::move(detail)});
}

MemRegionValue read_region(const ByteReader& r, size_t at, bool xen) {
  MemRegionValue reg;
  reg.guest_phys_addr = r.get<uint64_t>(at + 0);
  reg.memory_size = r.get<uint64_t>(at + 8);
  reg.userspace_addr = r.get<uint64_t>(at + 16);
  reg.mmap_offset = r.get<uint64_t>(at + 24);
  if (xen) {
    reg.xen_mmap_flags = r.get<uint32_t>(at + 32);
    reg.xen_domid = r.get<uint32_t>(at + 36);
  }
  return reg;
}

// Address ranges that wrap around 2^64 cannot be mapped by anyone.
void check_region(const MemRegionValue& reg, std::string_view where,
                  std::vector<Finding>& findings) {
  if (reg.memory_size == 0) invalid(findings, fmt::format("{}.memory_size is 0", where));
  if (reg.guest_phys_addr + reg.memory_size < reg.guest_phys_addr)
    invalid(findings, fmt::format("{}: guest_phys_addr 0x{:x} + memory_size 0x{:x} wraps", where,
                                  reg.guest_phys_addr, reg.memory_size));
  if (reg.userspace_addr + reg.memory_size < reg.userspace_addr)
    invalid(findings, fmt::format("{}: userspace_addr 0x{:x} + memory_size 0x{:x} wraps", where,
                                  reg.userspace_addr, reg.memory_size));
}

Payload decode_mem_table(const ByteReader& r, uint32_t declared, bool xen,
                         std::vector<Finding>& findings) {
  MemTableValue t;
  t.nregions = r.get<uint32_t>(0);
  t.padding = r.get<uint32_t>(4);
  const uint32_t region_size = mem_region_size(xen);
  const uint32_t fit_declared =
      declared >= kMemTableHeaderSize ? (declared - kMemTableHeaderSize) / region_size : 0;
  if (t.nregions > kMaxMemRegions)
    invalid(findings, fmt::format("mem_table.nregions is {}, at most {} allowed", t.nregions,
                                  kMaxMemRegions));
  if (declared >= kMemTableHeaderSize && t.nregions != fit_declared)
    invalid(findings, fmt::format("mem_table.nregions is {} but the payload holds {} region{}",
                                  t.nregions, fit_declared, fit_declared == 1 ? "" : "s"));
  // Decode the regions both sides agree on and that actually arrived: never trust nregions alone.
  const size_t present =
      r.size() >= kMemTableHeaderSize ? (r.size() - kMemTableHeaderSize) / region_size : 0;
  const size_t n = std::min<size_t>(std::min<size_t>(t.nregions, fit_declared), present);
  t.regions.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    t.regions.push_back(read_region(r, kMemTableHeaderSize + i * region_size, xen));
    if (findings.size() < 64)
      check_region(t.regions.back(), fmt::format("mem_table.region[{}]", i), findings);
  }
  return t;
}

Payload decode_config(const ByteReader& r, uint32_t declared, bool keep_data,
                      std::vector<Finding>& findings) {
  ConfigValue c;
  c.offset = r.get<uint32_t>(0);
  c.size = r.get<uint32_t>(4);
  c.flags = r.get<uint32_t>(8);
  if (declared >= kConfigHeaderSize && c.size != declared - kConfigHeaderSize)
    invalid(findings, fmt::format("config.size is {} but the payload carries {} data bytes", c.size,
                                  declared - kConfigHeaderSize));
  if (uint64_t{c.offset} + c.size > kMaxConfigSpace)
    invalid(findings, fmt::format("config.offset {} + size {} exceeds the {}-byte config space",
                                  c.offset, c.size, kMaxConfigSpace));
  if (c.flags > 1)
    invalid(findings,
            fmt::format("config.flags is {}, expected 0 (driver write) or 1 (migration)", c.flags));
  if (keep_data && r.size() > kConfigHeaderSize) {
    auto data = r.sub(kConfigHeaderSize, r.size() - kConfigHeaderSize);
    c.data.assign(data.begin(), data.end());
  }
  return c;
}

}  // namespace

Payload decode_payload(PayloadKind kind, std::span<const uint8_t> present, uint32_t declared,
                       const PayloadDecodeOptions& options, std::vector<Finding>& findings) {
  const ByteReader r(present);
  switch (kind) {
    case PayloadKind::None: return std::monostate{};
    case PayloadKind::U64:
    case PayloadKind::Features:
    case PayloadKind::ProtocolFeatures:
    case PayloadKind::Ack:
    case PayloadKind::Mac: return U64Value{r.get<uint64_t>(0)};
    case PayloadKind::Status: {
      U64Value v{r.get<uint64_t>(0)};
      if (v.value > 0xff)
        invalid(findings, fmt::format("status is 0x{:x}, the virtio status is one byte", v.value));
      return v;
    }
    case PayloadKind::VringIndexFd: {
      VringIndexFdValue v{r.get<uint64_t>(0)};
      if (v.raw & ~kIndexAndNofdMask)
        invalid(findings,
                fmt::format("u64 is 0x{:x}: only bits 0-7 (index) and 8 (NOFD) may be set", v.raw));
      return v;
    }
    case PayloadKind::VringState: return VringStateValue{r.get<uint32_t>(0), r.get<uint32_t>(4)};
    case PayloadKind::VringAddr: {
      VringAddrValue v;
      v.index = r.get<uint32_t>(0);
      v.flags = r.get<uint32_t>(4);
      v.desc_user_addr = r.get<uint64_t>(8);
      v.used_user_addr = r.get<uint64_t>(16);
      v.avail_user_addr = r.get<uint64_t>(24);
      v.log_guest_addr = r.get<uint64_t>(32);
      if (v.flags & ~uint32_t{1})
        invalid(findings,
                fmt::format("vring_addr.flags is 0x{:x}: only bit 0 (LOG) is defined", v.flags));
      return v;
    }
    case PayloadKind::MemTable: return decode_mem_table(r, declared, options.xen_mmap, findings);
    case PayloadKind::SingleRegion: {
      SingleRegionValue v;
      v.padding = r.get<uint64_t>(0);
      v.region = read_region(r, 8, options.xen_mmap);
      if (r.has(8, mem_region_size(options.xen_mmap)))
        check_region(v.region, "single_region.region", findings);
      return v;
    }
    case PayloadKind::Log: return LogValue{r.get<uint64_t>(0), r.get<uint64_t>(8)};
    case PayloadKind::Iotlb: {
      IotlbValue v;
      v.iova = r.get<uint64_t>(0);
      v.size = r.get<uint64_t>(8);
      v.uaddr = r.get<uint64_t>(16);
      v.perm = r.get<uint8_t>(24);
      v.type = r.get<uint8_t>(25);
      if (v.perm > 3) invalid(findings, fmt::format("iotlb.perm is {}, expected 0-3", v.perm));
      if (v.type < 1 || v.type > 6)
        invalid(findings,
                fmt::format("iotlb.type is {}, expected 1-4 (or kernel batch 5/6)", v.type));
      return v;
    }
    case PayloadKind::Config: return decode_config(r, declared, options.keep_config_data, findings);
    case PayloadKind::VringArea: {
      VringAreaValue v{r.get<uint64_t>(0), r.get<uint64_t>(8), r.get<uint64_t>(16)};
      if (v.u64 & ~kIndexAndNofdMask)
        invalid(
            findings,
            fmt::format("vring_area.u64 is 0x{:x}: only bits 0-7 (index) and 8 (NOFD) may be set",
                        v.u64));
      // The area is mapped as the queue's notify page: its size must be the host page size.
      if (!v.nofd() && r.has(8, 8) && (v.size == 0 || (v.size & (v.size - 1)) != 0))
        invalid(findings,
                fmt::format("vring_area.size is {}, expected the host page size", v.size));
      return v;
    }
    case PayloadKind::Inflight: {
      InflightValue v;
      v.mmap_size = r.get<uint64_t>(0);
      v.mmap_offset = r.get<uint64_t>(8);
      v.num_queues = r.get<uint16_t>(16);
      v.queue_size = r.get<uint16_t>(18);
      return v;
    }
    case PayloadKind::SharedObject: {
      SharedObjectValue v;
      r.copy(0, v.uuid);
      return v;
    }
    case PayloadKind::DeviceStateParams: {
      DeviceStateParamsValue v{r.get<uint32_t>(0), r.get<uint32_t>(4)};
      if (v.direction > 1)
        invalid(findings, fmt::format("device_state.direction is {}, expected 0 (SAVE) or 1 (LOAD)",
                                      v.direction));
      if (v.phase != 0)
        invalid(findings,
                fmt::format("device_state.phase is {}, only 0 (STOPPED) is defined", v.phase));
      return v;
    }
    case PayloadKind::DeviceStateResult: {
      DeviceStateResultValue v{r.get<uint64_t>(0)};
      if (v.raw & ~kIndexAndNofdMask)
        invalid(findings,
                fmt::format("device state result is 0x{:x}: only bits 0-8 are defined", v.raw));
      return v;
    }
    case PayloadKind::ShmemMap: {
      ShmemMapValue v;
      v.shmid = r.get<uint8_t>(0);
      v.fd_offset = r.get<uint64_t>(8);
      v.shm_offset = r.get<uint64_t>(16);
      v.len = r.get<uint64_t>(24);
      v.flags = r.get<uint64_t>(32);
      if (v.len == 0) invalid(findings, "shmem_map.len is 0");
      return v;
    }
    case PayloadKind::ShmemConfig: {
      ShmemConfigValue v;
      v.nregions = r.get<uint32_t>(0);
      const size_t slots_declared = declared >= 8 ? (declared - 8) / 8 : 0;
      if (declared >= 8 && v.nregions > slots_declared)
        invalid(findings,
                fmt::format("shmem_config.nregions is {} but the payload has {} size slots",
                            v.nregions, slots_declared));
      const size_t slots = r.size() >= 8 ? (r.size() - 8) / 8 : 0;
      v.sizes.reserve(slots);
      for (size_t i = 0; i < slots; ++i) v.sizes.push_back(r.get<uint64_t>(8 + i * 8));
      return v;
    }
    case PayloadKind::Opaque: return OpaqueValue{static_cast<uint32_t>(r.size())};
  }
  return OpaqueValue{static_cast<uint32_t>(r.size())};
}

}  // namespace vhs
