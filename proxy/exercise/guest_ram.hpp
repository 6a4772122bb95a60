// The exercise engine's guest memory: memfd regions it maps read-write and hands to the back-end
// (spec "Memory regions description": the UVA of a region is where the front-end mapped it, so
// ring addresses in SET_VRING_ADDR are our own pointers), plus a first-fit allocator per arena
// for rings and data buffers.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decoders/virtio/guest_memory.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs::exercise {

struct RamRegion {
  UniqueFd fd;
  uint8_t* host = nullptr;
  uint64_t gpa = 0;
  uint64_t size = 0;
  MemRegionValue value() const;  // as the memory table describes it
};

class GuestRam {
 public:
  GuestRam() = default;
  ~GuestRam();
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  // Adds a memfd region of `size` bytes (a multiple of 4096) at `gpa`. Index of the region, or
  // nullopt with `error`.
  std::optional<size_t> add_region(uint64_t gpa, uint64_t size, const std::string& name,
                                   std::string& error);
  // Unmaps and closes region `index` (memory hot remove); later indices keep theirs.
  void remove_region(size_t index);

  const RamRegion* region(size_t index) const;
  std::vector<MemRegionValue> table() const;  // live regions, in index order
  std::vector<int> fds() const;               // their fds, same order

  uint8_t* host(uint64_t gpa, uint64_t len) const;  // nullptr when not inside one region
  uint64_t uva(uint64_t gpa) const;                 // 0 when unmapped
  bool write(uint64_t gpa, std::span<const uint8_t> bytes);
  bool read(uint64_t gpa, std::span<uint8_t> out) const;

  // A read view over every live region, for the ring decoders (snapshots).
  std::unique_ptr<GuestMemoryView> view() const;

 private:
  std::vector<std::unique_ptr<RamRegion>> regions_;  // removed ones stay as nullptr
};

// First-fit allocator over [base, base + size) (guest-physical). Blocks are aligned to `align`.
class Arena {
 public:
  Arena() = default;
  Arena(uint64_t base, uint64_t size) : base_(base), size_(size) { free_[base] = size; }
  std::optional<uint64_t> alloc(uint64_t size, uint64_t align = 16);
  void release(uint64_t gpa);
  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }

 private:
  uint64_t base_ = 0, size_ = 0;
  std::map<uint64_t, uint64_t> free_;  // start -> length
  std::map<uint64_t, uint64_t> used_;  // start -> length
};

}  // namespace vhs::exercise
