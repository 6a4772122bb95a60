// Payload layouts per kind (spec "Message Specification"), and the size rules derived from them.
#include "decoders/vhost_user/payload_layout.hpp"

#include <fmt/format.h>

namespace vhs {
namespace {

// Single-u64 payloads: the slot only names the value; every one of them is 8 bytes.
PayloadLayout fixed(std::span<const PayloadSlot> slots) { return {slots, {}, 0, false, {}, false}; }

std::span<const PayloadSlot> region_slots(bool xen_mmap) {
  return std::span(layout::kRegion)
      .first(xen_mmap ? std::size(layout::kRegion) : layout::kRegionSlotsWithoutXen);
}

}  // namespace

PayloadLayout payload_layout(PayloadKind kind, bool xen_mmap) {
  using namespace layout;
  static constexpr PayloadSlot kU64Slots[] = {kU64};
  static constexpr PayloadSlot kFeaturesSlots[] = {kFeatures};
  static constexpr PayloadSlot kProtocolSlots[] = {kProtocolFeatures};
  static constexpr PayloadSlot kAckSlots[] = {kAck};
  static constexpr PayloadSlot kMacSlots[] = {kMac};
  static constexpr PayloadSlot kStatusSlots[] = {kStatus};
  static constexpr PayloadSlot kIndexFdSlots[] = {kVringIndexFd};
  static constexpr PayloadSlot kResultSlots[] = {kStateResult};
  switch (kind) {
    case PayloadKind::None: return {};
    case PayloadKind::U64: return fixed(kU64Slots);
    case PayloadKind::Features: return fixed(kFeaturesSlots);
    case PayloadKind::ProtocolFeatures: return fixed(kProtocolSlots);
    case PayloadKind::Ack: return fixed(kAckSlots);
    case PayloadKind::VringIndexFd: return fixed(kIndexFdSlots);
    case PayloadKind::Mac: return fixed(kMacSlots);
    case PayloadKind::Status: return fixed(kStatusSlots);
    case PayloadKind::DeviceStateResult: return fixed(kResultSlots);
    case PayloadKind::VringState: return fixed(kVringState);
    case PayloadKind::VringAddr: return fixed(kVringAddr);
    case PayloadKind::MemTable:
      return {kMemTable, region_slots(xen_mmap), mem_region_size(xen_mmap), true, kRegionName,
              false};
    case PayloadKind::SingleRegion:
      return {kSingleRegion, region_slots(xen_mmap), mem_region_size(xen_mmap), false, kRegionName,
              false};
    case PayloadKind::Log: return fixed(kLog);
    case PayloadKind::Iotlb: return fixed(kIotlb);
    case PayloadKind::Config: return {kConfig, {}, 1, true, kConfigDataName, false};
    case PayloadKind::VringArea: return fixed(kVringArea);
    case PayloadKind::Inflight: return fixed(kInflight);
    case PayloadKind::SharedObject: return fixed(kSharedObject);
    case PayloadKind::DeviceStateParams: return fixed(kStateParams);
    case PayloadKind::ShmemMap: return fixed(kShmemMap);
    case PayloadKind::ShmemConfig:
      return {kShmemConfig, kShmemSizeElement, slots_size(kShmemSizeElement),
              true,         kShmemSizeName,    false};
    case PayloadKind::Opaque: return {{}, {}, 0, false, {}, true};
  }
  return {{}, {}, 0, false, {}, true};
}

PayloadSizeRule payload_size_rule(PayloadKind kind, bool xen_mmap) {
  const PayloadLayout l = payload_layout(kind, xen_mmap);
  if (l.any_size) return {0, 0, true};
  if (l.tail_repeats) return {l.fixed_size(), l.tail_size, false};
  return {l.fixed_size() + l.tail_size, 0, false};
}

std::string PayloadSizeRule::text() const {
  if (any_size) return "any";
  if (element == 0) return fmt::format("{}", base);
  if (element == 1) return fmt::format("{} + n", base);
  return fmt::format("{} + {}*n", base, element);
}

}  // namespace vhs
