// Guest memory as the ring decoders see it: a read-only byte interface keyed by guest-physical
// address (GPA), the memory table that translates front-end virtual addresses (UVA) and GPAs to
// (region, offset), and a stock view over per-region host byte spans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "decoders/vhost_user/payloads.hpp"

namespace vhs {

// Read access to guest RAM by guest-physical address. The proxy implements it over its read-only
// mappings (usually through RegionMemory below), tests over a std::vector. A read that touches any
// unbacked byte fails as a whole: ring decoders turn that into a finding, never a crash.
class GuestMemoryView {
 public:
  virtual ~GuestMemoryView() = default;
  // Copies out.size() bytes starting at `gpa`. False (out unspecified) when any byte is not backed
  // or the range wraps past 2^64.
  virtual bool read(uint64_t gpa, std::span<uint8_t> out) const = 0;
  // True when every byte of [gpa, gpa + len) is backed; len 0 is always mapped.
  virtual bool mapped(uint64_t gpa, uint64_t len) const = 0;
};

// Little-endian loads through a view (virtqueue memory is little endian with VERSION_1; legacy
// big-endian rings are not supported). nullopt when unreadable.
std::optional<uint16_t> read_le16(const GuestMemoryView& mem, uint64_t gpa);
std::optional<uint32_t> read_le32(const GuestMemoryView& mem, uint64_t gpa);
std::optional<uint64_t> read_le64(const GuestMemoryView& mem, uint64_t gpa);

inline uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t load_le64(const uint8_t* p) {
  return static_cast<uint64_t>(load_le32(p)) | (static_cast<uint64_t>(load_le32(p + 4)) << 32);
}

// True when [addr, addr + len) does not wrap past 2^64 (len 0 never wraps).
inline bool range_fits(uint64_t addr, uint64_t len) {
  return len == 0 || addr <= UINT64_MAX - (len - 1);
}

// Where an address landed in the memory table.
struct RegionOffset {
  uint32_t region = 0;     // index into MemoryMap::regions() (the session's table order)
  uint64_t offset = 0;     // bytes from the region start
  uint64_t remaining = 0;  // bytes from the address to the region end (>= 1)
};

// The session's memory table (SET_MEM_TABLE / ADD_MEM_REG) as a two-way translator (spec
// "Memory region description"). A region whose GPA or UVA range would wrap past 2^64,
// or whose size is 0, is kept (indices stay aligned with the session's) but never matches.
class MemoryMap {
 public:
  MemoryMap() = default;
  explicit MemoryMap(std::span<const MemRegionValue> regions);

  std::span<const MemRegionValue> regions() const { return regions_; }
  bool empty() const { return regions_.empty(); }

  std::optional<RegionOffset> find_gpa(uint64_t gpa) const;
  std::optional<RegionOffset> find_uva(uint64_t uva) const;
  std::optional<uint64_t> uva_to_gpa(uint64_t uva) const;
  std::optional<uint64_t> gpa_to_uva(uint64_t gpa) const;

  // GPA of a UVA range that is contiguous in guest-physical space too (it may cross adjacent
  // regions only when they are adjacent in both spaces). nullopt: unmapped, split, or wrapping.
  std::optional<uint64_t> uva_range_to_gpa(uint64_t uva, uint64_t len) const;
  // True when every byte of the GPA range lies in some region (crossing adjacent regions is fine).
  bool gpa_range_mapped(uint64_t gpa, uint64_t len) const;

 private:
  enum class Space : uint8_t { Gpa, Uva };
  std::optional<RegionOffset> find(Space space, uint64_t addr) const;

  std::vector<MemRegionValue> regions_;
  std::vector<bool> usable_;                        // size > 0 and neither range wraps
  std::vector<uint32_t> by_gpa_, by_uva_;           // usable region indices sorted by start
  bool overlap_gpa_ = false, overlap_uva_ = false;  // malformed tables: fall back to a linear scan
};

// The stock view: a MemoryMap plus, per region, the host bytes that back it (the proxy's read-only
// mmap of fd_i at mmap_offset_i; a vector in tests). A span shorter than the region leaves the tail
// unbacked; an empty span leaves the region unreadable. Reads may cross adjacent regions.
// Live memory changes under us: callers read index fields before the entries they cover (VIRTIO
// spec "Split Virtqueues": the driver writes ring entries before the index that publishes them) and
// this view issues an acquire fence after each copy so that order holds.
class RegionMemory final : public GuestMemoryView {
 public:
  // How bytes are copied out of a backing span: true when all `n` bytes were copied. nullptr means
  // memcpy. The backing may be a shared mapping of a file another process can shrink under us;
  // the proxy then passes a copy that reports such a fault instead of dying of it, and a read that
  // hits one fails like a read of unbacked bytes.
  using CopyBytes = bool (*)(void* dst, const void* src, size_t n);

  RegionMemory(MemoryMap map, std::vector<std::span<const uint8_t>> backing,
               CopyBytes copy = nullptr);

  bool read(uint64_t gpa, std::span<uint8_t> out) const override;
  bool mapped(uint64_t gpa, uint64_t len) const override;
  const MemoryMap& map() const { return map_; }

 private:
  MemoryMap map_;
  std::vector<std::span<const uint8_t>> backing_;
  CopyBytes copy_ = nullptr;
};

}  // namespace vhs
