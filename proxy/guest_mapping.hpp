// The proxy's read-only view of guest RAM: every memory-region fd the front-end sends
// (SET_MEM_TABLE, ADD_MEM_REG) is mapped PROT_READ/MAP_SHARED at the region's mmap offset, so the
// pure ring decoders can read virtqueues through RegionMemory. Nothing here ever writes guest
// memory. Only memory messages touch this (mmap/munmap stay off the per-message hot path).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/payloads.hpp"
#include "decoders/virtio/guest_memory.hpp"

namespace vhs {

// One read-only mapping of one region's fd. Unmapped in the destructor.
class RegionMapping {
 public:
  // Maps `size` bytes of `fd` from `offset`: the mmap starts at the page-aligned offset below it
  // (the hugetlbfs page size for hugetlbfs fds, fstatfs) and the region begins `offset % page`
  // bytes in. The fd may be closed afterwards (the mapping keeps the file alive). nullptr and
  // `error` set on failure.
  static std::unique_ptr<RegionMapping> map(int fd, uint64_t offset, uint64_t size,
                                            std::string& error);
  ~RegionMapping();
  RegionMapping(const RegionMapping&) = delete;
  RegionMapping& operator=(const RegionMapping&) = delete;

  std::span<const uint8_t> bytes() const { return {base_ + skip_, size_}; }  // the region itself
  const void* mapping_start() const { return base_; }
  uint64_t mapping_length() const { return length_; }

 private:
  RegionMapping() = default;
  const uint8_t* base_ = nullptr;  // mmap result
  uint64_t length_ = 0;            // mmap length
  uint64_t skip_ = 0;              // offset % page
  uint64_t size_ = 0;
};

// The session's memory table with its mappings. A region whose fd could not be mapped stays in
// the table (indices match the session's) with no bytes: reads there fail and become findings.
class GuestMapping {
 public:
  // SET_MEM_TABLE: replaces everything. `fds[i]` belongs to regions[i]; a missing or negative fd
  // leaves the region unbacked. Returns one text per region that could not be mapped.
  std::vector<std::string> set_table(std::span<const MemRegionValue> regions,
                                     std::span<const int> fds);
  // ADD_MEM_REG: appended. REM_MEM_REG: the entry the memory-table tracker matched, by its
  // position (this table stays index for index with the tracker's).
  std::vector<std::string> add_region(const MemRegionValue& region, int fd);
  void remove_region_at(size_t index);
  void clear();

  const MemoryMap& map() const { return view_->map(); }
  const GuestMemoryView& view() const { return *view_; }
  size_t region_count() const { return regions_.size(); }
  size_t mapped_count() const;

 private:
  void rebuild();

  std::vector<MemRegionValue> regions_;
  std::vector<std::unique_ptr<RegionMapping>> mappings_;  // parallel to regions_; may be null
  std::unique_ptr<RegionMemory> view_ =
      std::make_unique<RegionMemory>(MemoryMap{}, std::vector<std::span<const uint8_t>>{});
};

}  // namespace vhs
