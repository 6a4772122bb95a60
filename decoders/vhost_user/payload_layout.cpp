// Size rules per payload kind, from the spec's payload layouts (facts file section 4).
#include "decoders/vhost_user/payload_layout.hpp"

#include <fmt/format.h>

namespace vhs {

PayloadSizeRule payload_size_rule(PayloadKind kind, bool xen_mmap) {
  switch (kind) {
    case PayloadKind::None: return {0, 0, false};
    case PayloadKind::U64:
    case PayloadKind::Features:
    case PayloadKind::ProtocolFeatures:
    case PayloadKind::Ack:
    case PayloadKind::VringIndexFd:
    case PayloadKind::Mac:
    case PayloadKind::Status:
    case PayloadKind::DeviceStateResult: return {8, 0, false};
    case PayloadKind::VringState: return {8, 0, false};
    case PayloadKind::VringAddr: return {40, 0, false};
    case PayloadKind::MemTable: return {kMemTableHeaderSize, mem_region_size(xen_mmap), false};
    case PayloadKind::SingleRegion: return {8 + mem_region_size(xen_mmap), 0, false};
    case PayloadKind::Log: return {16, 0, false};
    case PayloadKind::Iotlb: return {32, 0, false};
    case PayloadKind::Config: return {kConfigHeaderSize, 1, false};
    case PayloadKind::VringArea: return {24, 0, false};
    case PayloadKind::Inflight: return {24, 0, false};
    case PayloadKind::SharedObject: return {16, 0, false};
    case PayloadKind::DeviceStateParams: return {8, 0, false};
    case PayloadKind::ShmemMap: return {40, 0, false};
    case PayloadKind::ShmemConfig: return {8, 8, false};
    case PayloadKind::Opaque: return {0, 0, true};
  }
  return {0, 0, true};
}

std::string PayloadSizeRule::text() const {
  if (any_size) return "any";
  if (element == 0) return fmt::format("{}", base);
  if (element == 1) return fmt::format("{} + n", base);
  return fmt::format("{} + {}*n", base, element);
}

}  // namespace vhs
