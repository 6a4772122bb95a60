// One decoder per payload kind. Every offset comes from the layout slots in payload_layout.hpp.
#include "decoders/vhost_user/payload_decoders.hpp"

#include <fmt/format.h>

#include "decoders/vhost_user/byte_reader.hpp"
#include "decoders/vhost_user/payload_layout.hpp"

namespace vhs {
namespace {

// The bits the index/NOFD and device-state-result words define.
constexpr uint64_t defined_bits(std::span<const BitSlot> bits) {
  uint64_t m = 0;
  for (const BitSlot& b : bits) m |= b.mask;
  return m;
}
constexpr uint64_t kIndexAndNofdMask = defined_bits(layout::kVringIndexBits);
constexpr uint64_t kStateResultMask = defined_bits(layout::kStateResultBits);

void invalid(std::vector<Finding>& findings, std::string detail) {
  findings.push_back({FindingCode::InvalidField, std::move(detail)});
}

MemRegionValue read_region(const ByteReader& r, size_t at, bool xen) {
  MemRegionValue reg;
  reg.guest_phys_addr = read_slot(r, layout::kRegionGpa, at);
  reg.memory_size = read_slot(r, layout::kRegionSize, at);
  reg.userspace_addr = read_slot(r, layout::kRegionUva, at);
  reg.mmap_offset = read_slot(r, layout::kRegionMmapOffset, at);
  if (xen) {
    reg.xen_mmap_flags = read_slot_as<uint32_t>(r, layout::kRegionXenFlags, at);
    reg.xen_domid = read_slot_as<uint32_t>(r, layout::kRegionXenDomid, at);
  }
  return reg;
}

// Address ranges that wrap around 2^64 cannot be mapped by anyone.
void check_region(const MemRegionValue& reg, std::string_view where,
                  std::vector<Finding>& findings) {
  using namespace layout;
  if (reg.memory_size == 0) invalid(findings, fmt::format("{}.{} is 0", where, kRegionSize.name));
  if (reg.guest_phys_addr + reg.memory_size < reg.guest_phys_addr)
    invalid(findings, fmt::format("{}: {} 0x{:x} + {} 0x{:x} wraps", where, kRegionGpa.name,
                                  reg.guest_phys_addr, kRegionSize.name, reg.memory_size));
  if (reg.userspace_addr + reg.memory_size < reg.userspace_addr)
    invalid(findings, fmt::format("{}: {} 0x{:x} + {} 0x{:x} wraps", where, kRegionUva.name,
                                  reg.userspace_addr, kRegionSize.name, reg.memory_size));
}

Payload decode_mem_table(const ByteReader& r, uint32_t declared, bool xen,
                         std::vector<Finding>& findings) {
  MemTableValue t;
  t.nregions = read_slot_as<uint32_t>(r, layout::kMemNregions);
  t.padding = read_slot_as<uint32_t>(r, layout::kMemPadding);
  const uint32_t region_size = mem_region_size(xen);
  const uint32_t fit_declared =
      declared >= kMemTableHeaderSize ? (declared - kMemTableHeaderSize) / region_size : 0;
  if (t.nregions > kMaxMemRegions)
    invalid(findings, fmt::format("{} is {}, at most {} allowed", layout::kMemNregions.name,
                                  t.nregions, kMaxMemRegions));
  if (declared >= kMemTableHeaderSize && t.nregions != fit_declared)
    invalid(findings,
            fmt::format("{} is {} but the payload holds {} region{}", layout::kMemNregions.name,
                        t.nregions, fit_declared, fit_declared == 1 ? "" : "s"));
  // Decode the regions both sides agree on and that actually arrived: never trust nregions alone.
  const size_t present =
      r.size() >= kMemTableHeaderSize ? (r.size() - kMemTableHeaderSize) / region_size : 0;
  const size_t n = std::min<size_t>(std::min<size_t>(t.nregions, fit_declared), present);
  t.regions.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    t.regions.push_back(read_region(r, kMemTableHeaderSize + i * region_size, xen));
    if (findings.size() < 64)
      check_region(t.regions.back(), fmt::format("{}[{}]", layout::kRegionName, i), findings);
  }
  return t;
}

Payload decode_config(const ByteReader& r, uint32_t declared, bool keep_data,
                      std::vector<Finding>& findings) {
  ConfigValue c;
  c.offset = read_slot_as<uint32_t>(r, layout::kConfigOffset);
  c.size = read_slot_as<uint32_t>(r, layout::kConfigSize);
  c.flags = read_slot_as<uint32_t>(r, layout::kConfigFlags);
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
    case PayloadKind::Mac: return U64Value{read_slot(r, layout::kU64)};
    case PayloadKind::Status: {
      U64Value v{read_slot(r, layout::kStatus)};
      if (v.value > 0xff)
        invalid(findings, fmt::format("status is 0x{:x}, the virtio status is one byte", v.value));
      return v;
    }
    case PayloadKind::VringIndexFd: {
      VringIndexFdValue v{read_slot(r, layout::kVringIndexFd)};
      if (v.raw & ~kIndexAndNofdMask)
        invalid(findings, fmt::format("{} is 0x{:x}: only bits 0-7 (index) and 8 (NOFD) may be set",
                                      layout::kVringIndexFd.name, v.raw));
      return v;
    }
    case PayloadKind::VringState:
      return VringStateValue{read_slot_as<uint32_t>(r, layout::kVringStateIndex),
                             read_slot_as<uint32_t>(r, layout::kVringStateNum)};
    case PayloadKind::VringAddr: {
      VringAddrValue v;
      v.index = read_slot_as<uint32_t>(r, layout::kVringAddrIndex);
      v.flags = read_slot_as<uint32_t>(r, layout::kVringAddrFlags);
      v.desc_user_addr = read_slot(r, layout::kVringAddrDesc);
      v.used_user_addr = read_slot(r, layout::kVringAddrUsed);
      v.avail_user_addr = read_slot(r, layout::kVringAddrAvail);
      v.log_guest_addr = read_slot(r, layout::kVringAddrLog);
      if (v.flags & ~uint32_t{1})
        invalid(findings, fmt::format("{} is 0x{:x}: only bit 0 (LOG) is defined",
                                      layout::kVringAddrFlags.name, v.flags));
      return v;
    }
    case PayloadKind::MemTable: return decode_mem_table(r, declared, options.xen_mmap, findings);
    case PayloadKind::SingleRegion: {
      SingleRegionValue v;
      const uint32_t at = slots_size(layout::kSingleRegion);
      v.padding = read_slot(r, layout::kSingleRegionPadding);
      v.region = read_region(r, at, options.xen_mmap);
      if (r.has(at, mem_region_size(options.xen_mmap)))
        check_region(v.region, layout::kRegionName, findings);
      return v;
    }
    case PayloadKind::Log:
      return LogValue{read_slot(r, layout::kLogMmapSize), read_slot(r, layout::kLogMmapOffset)};
    case PayloadKind::Iotlb: {
      IotlbValue v;
      v.iova = read_slot(r, layout::kIotlbIova);
      v.size = read_slot(r, layout::kIotlbSize);
      v.uaddr = read_slot(r, layout::kIotlbUaddr);
      v.perm = read_slot_as<uint8_t>(r, layout::kIotlbPerm);
      v.type = read_slot_as<uint8_t>(r, layout::kIotlbType);
      if (v.perm > 3) invalid(findings, fmt::format("iotlb.perm is {}, expected 0-3", v.perm));
      if (v.type < 1 || v.type > 6)
        invalid(findings,
                fmt::format("iotlb.type is {}, expected 1-4 (or kernel batch 5/6)", v.type));
      return v;
    }
    case PayloadKind::Config: return decode_config(r, declared, options.keep_config_data, findings);
    case PayloadKind::VringArea: {
      VringAreaValue v{read_slot(r, layout::kVringIndexFd), read_slot(r, layout::kVringAreaSize),
                       read_slot(r, layout::kVringAreaOffset)};
      if (v.u64 & ~kIndexAndNofdMask)
        invalid(findings, fmt::format("{} is 0x{:x}: only bits 0-7 (index) and 8 (NOFD) may be set",
                                      layout::kVringIndexFd.name, v.u64));
      // The area is mapped as the queue's notify page: its size must be the host page size.
      if (!v.nofd() && r.has(layout::kVringAreaSize.offset, layout::kVringAreaSize.size) &&
          (v.size == 0 || (v.size & (v.size - 1)) != 0))
        invalid(findings, fmt::format("{} is {}, expected the host page size",
                                      layout::kVringAreaSize.name, v.size));
      return v;
    }
    case PayloadKind::Inflight: {
      InflightValue v;
      v.mmap_size = read_slot(r, layout::kInflightMmapSize);
      v.mmap_offset = read_slot(r, layout::kInflightMmapOffset);
      v.num_queues = read_slot_as<uint16_t>(r, layout::kInflightNumQueues);
      v.queue_size = read_slot_as<uint16_t>(r, layout::kInflightQueueSize);
      return v;
    }
    case PayloadKind::SharedObject: {
      SharedObjectValue v;
      r.copy(layout::kSharedObjectUuid.offset, v.uuid);
      return v;
    }
    case PayloadKind::DeviceStateParams: {
      DeviceStateParamsValue v{read_slot_as<uint32_t>(r, layout::kStateDirection),
                               read_slot_as<uint32_t>(r, layout::kStatePhase)};
      if (v.direction > 1)
        invalid(findings, fmt::format("device_state.direction is {}, expected 0 (SAVE) or 1 (LOAD)",
                                      v.direction));
      if (v.phase != 0)
        invalid(findings,
                fmt::format("device_state.phase is {}, only 0 (STOPPED) is defined", v.phase));
      return v;
    }
    case PayloadKind::DeviceStateResult: {
      DeviceStateResultValue v{read_slot(r, layout::kStateResult)};
      if (v.raw & ~kStateResultMask)
        invalid(findings, fmt::format("{} is 0x{:x}: only bits 0-8 are defined",
                                      layout::kStateResult.name, v.raw));
      return v;
    }
    case PayloadKind::ShmemMap: {
      ShmemMapValue v;
      v.shmid = read_slot_as<uint8_t>(r, layout::kShmemShmid);
      v.fd_offset = read_slot(r, layout::kShmemFdOffset);
      v.shm_offset = read_slot(r, layout::kShmemShmOffset);
      v.len = read_slot(r, layout::kShmemLen);
      v.flags = read_slot(r, layout::kShmemFlags);
      if (v.len == 0) invalid(findings, fmt::format("{} is 0", layout::kShmemLen.name));
      return v;
    }
    case PayloadKind::ShmemConfig: {
      ShmemConfigValue v;
      v.nregions = read_slot_as<uint32_t>(r, layout::kShmemNregions);
      const uint32_t head = slots_size(layout::kShmemConfig);
      const uint32_t slot = slots_size(layout::kShmemSizeElement);
      const size_t slots_declared = declared >= head ? (declared - head) / slot : 0;
      if (declared >= head && v.nregions > slots_declared)
        invalid(findings, fmt::format("{} is {} but the payload has {} size slots",
                                      layout::kShmemNregions.name, v.nregions, slots_declared));
      const size_t slots = r.size() >= head ? (r.size() - head) / slot : 0;
      v.sizes.reserve(slots);
      for (size_t i = 0; i < slots; ++i)
        v.sizes.push_back(read_slot(r, layout::kShmemSizeSlot, head + i * slot));
      return v;
    }
    case PayloadKind::Opaque: return OpaqueValue{static_cast<uint32_t>(r.size())};
  }
  return OpaqueValue{static_cast<uint32_t>(r.size())};
}

}  // namespace vhs
