// Wire sizes of each payload kind (spec "Message Specification" payload layouts): what the
// decoder checks header.size against, and what tests check the registry against.
#pragma once

#include <cstdint>
#include <string>

#include "decoders/vhost_user/registry.hpp"

namespace vhs {

inline constexpr uint32_t kMaxMemRegions = 8;       // VHOST_MEMORY_BASELINE_NREGIONS
inline constexpr uint32_t kMemRegionSize = 32;      // 4.5
inline constexpr uint32_t kXenMemRegionSize = 40;   // 4.5 with XEN_MMAP
inline constexpr uint32_t kMemTableHeaderSize = 8;  // nregions + padding
inline constexpr uint32_t kConfigHeaderSize = 12;   // offset, size, flags
inline constexpr uint32_t kMaxQueueSize = 32768;    // split and packed queues
inline constexpr uint32_t kMaxConfigSpace = 4096;   // offset + size bound (PCI config window)

// size == base + k * element for some k >= 0 (element 0: exactly base); any_size: no rule.
struct PayloadSizeRule {
  uint32_t base = 0;
  uint32_t element = 0;
  bool any_size = false;

  bool accepts(uint64_t size) const {
    if (any_size) return true;
    if (size < base) return false;
    return element == 0 ? size == base : (size - base) % element == 0;
  }
  std::string text() const;  // "40", "8 + 32*n", "any"
};

PayloadSizeRule payload_size_rule(PayloadKind kind, bool xen_mmap = false);

inline uint32_t mem_region_size(bool xen_mmap) {
  return xen_mmap ? kXenMemRegionSize : kMemRegionSize;
}

}  // namespace vhs
