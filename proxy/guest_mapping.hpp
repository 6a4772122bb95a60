// The proxy's read-only view of guest RAM: every memory-region fd the front-end sends
// (SET_MEM_TABLE, ADD_MEM_REG) is mapped PROT_READ/MAP_SHARED at the region's mmap offset, so the
// pure ring decoders can read virtqueues through RegionMemory. Nothing here ever writes guest
// memory. Only memory messages touch this (mmap/munmap stay off the per-message hot path), and a
// read that faulted because the front-end shrank a region's file (fstat again, recheck_backing).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/payloads.hpp"
#include "decoders/virtio/guest_memory.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {

// One read-only mapping of one region's fd. Unmapped in the destructor.
//
// The front-end owns the file and may shrink it at any time: touching a mapped page past the end
// of the file raises SIGBUS. So only the bytes the file has are handed out (bytes() is cut at the
// end of the file), every copy goes through the fault guard (proxy/fault_guard.hpp), and the
// mapping keeps its own duplicate of the fd to look at the file's size again when a copy faulted.
class RegionMapping {
 public:
  // Maps `size` bytes of `fd` from `offset`: the mmap starts at the page-aligned offset below it
  // (the hugetlbfs page size for hugetlbfs fds, fstatfs) and the region begins `offset % page`
  // bytes in. The caller may close `fd` afterwards (the mapping keeps a duplicate). nullptr and
  // `error` set on failure.
  static std::unique_ptr<RegionMapping> map(int fd, uint64_t offset, uint64_t size,
                                            std::string& error);
  ~RegionMapping();
  RegionMapping(const RegionMapping&) = delete;
  RegionMapping& operator=(const RegionMapping&) = delete;

  // The region's bytes that its file backs (all of them unless the file is shorter).
  std::span<const uint8_t> bytes() const { return {base_ + skip_, backed_}; }
  const void* mapping_start() const { return base_; }
  uint64_t mapping_length() const { return length_; }
  uint64_t region_size() const { return size_; }
  uint64_t backed_size() const { return backed_; }
  uint64_t file_size() const { return file_size_; }  // at the last look; 0 if not a regular file

  // Looks at the file's size again (fstat on the duplicate fd) and cuts or extends bytes() to it.
  // True when the backed size changed. Without a duplicate fd (dup failed) nothing changes.
  bool recheck_file_size();

 private:
  RegionMapping() = default;
  void backed_from_file_size(uint64_t file_size);

  const uint8_t* base_ = nullptr;  // mmap result
  uint64_t length_ = 0;            // mmap length
  uint64_t skip_ = 0;              // offset % page
  uint64_t offset_ = 0;            // the region's file offset
  uint64_t size_ = 0;              // the region's size
  uint64_t backed_ = 0;            // bytes of the region inside the file (<= size_)
  uint64_t file_size_ = 0;
  UniqueFd fd_;  // duplicate of the region fd, for fstat; may be invalid
};

// A region whose backed size changed when the files were looked at again.
struct BackingChange {
  size_t region = 0;  // index in the table
  MemRegionValue value;
  uint64_t backed_before = 0, backed_after = 0;
  uint64_t file_size = 0;
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

  // After a guarded copy faulted (or while reads of a short region fail): fstat every mapped
  // region's fd again, cut or extend what the view hands out to what the files now hold, and
  // report the regions whose backed size changed. The view is rebuilt when anything changed.
  std::vector<BackingChange> recheck_backing();
  // Some mapped region is backed by fewer bytes than its size.
  bool any_short() const;

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
