#include "proxy/exercise/guest_ram.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/sys_error.hpp"

namespace vhs::exercise {

MemRegionValue RamRegion::value() const {
  MemRegionValue v;
  v.guest_phys_addr = gpa;
  v.memory_size = size;
  v.userspace_addr = reinterpret_cast<uint64_t>(host);
  v.mmap_offset = 0;
  return v;
}

GuestRam::~GuestRam() {
  for (size_t i = 0; i < regions_.size(); ++i) remove_region(i);
}

std::optional<size_t> GuestRam::add_region(uint64_t gpa, uint64_t size, const std::string& name,
                                           std::string& error) {
  auto r = std::make_unique<RamRegion>();
  r->fd.reset(::memfd_create(name.c_str(), MFD_CLOEXEC));
  if (!r->fd) {
    error = sys_error("create memfd", name, errno);
    return std::nullopt;
  }
  if (::ftruncate(r->fd.get(), static_cast<off_t>(size)) != 0) {
    error = sys_error("size memfd", name, errno);
    return std::nullopt;
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd.get(), 0);
  if (p == MAP_FAILED) {
    error = sys_error("map memfd", name, errno);
    return std::nullopt;
  }
  r->host = static_cast<uint8_t*>(p);
  r->gpa = gpa;
  r->size = size;
  regions_.push_back(std::move(r));
  return regions_.size() - 1;
}

void GuestRam::remove_region(size_t index) {
  if (index >= regions_.size() || !regions_[index]) return;
  ::munmap(regions_[index]->host, regions_[index]->size);
  regions_[index].reset();
}

const RamRegion* GuestRam::region(size_t index) const {
  return index < regions_.size() ? regions_[index].get() : nullptr;
}

std::vector<MemRegionValue> GuestRam::table() const {
  std::vector<MemRegionValue> out;
  for (const auto& r : regions_)
    if (r) out.push_back(r->value());
  return out;
}

std::vector<int> GuestRam::fds() const {
  std::vector<int> out;
  for (const auto& r : regions_)
    if (r) out.push_back(r->fd.get());
  return out;
}

uint8_t* GuestRam::host(uint64_t gpa, uint64_t len) const {
  for (const auto& r : regions_) {
    if (!r || gpa < r->gpa || gpa - r->gpa > r->size || len > r->size - (gpa - r->gpa)) continue;
    return r->host + (gpa - r->gpa);
  }
  return nullptr;
}

uint64_t GuestRam::uva(uint64_t gpa) const {
  const uint8_t* p = host(gpa, 1);
  return p ? reinterpret_cast<uint64_t>(p) : 0;
}

bool GuestRam::write(uint64_t gpa, std::span<const uint8_t> bytes) {
  uint8_t* p = host(gpa, bytes.size());
  if (!p) return false;
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return true;
}

bool GuestRam::read(uint64_t gpa, std::span<uint8_t> out) const {
  const uint8_t* p = host(gpa, out.size());
  if (!p) return false;
  if (!out.empty()) std::memcpy(out.data(), p, out.size());
  return true;
}

std::unique_ptr<GuestMemoryView> GuestRam::view() const {
  std::vector<MemRegionValue> table;
  std::vector<std::span<const uint8_t>> backing;
  for (const auto& r : regions_) {
    if (!r) continue;
    table.push_back(r->value());
    backing.emplace_back(r->host, r->size);
  }
  return std::make_unique<RegionMemory>(MemoryMap(table), std::move(backing));
}

std::optional<uint64_t> Arena::alloc(uint64_t size, uint64_t align) {
  if (size == 0) size = 1;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const uint64_t start = (it->first + align - 1) / align * align;
    const uint64_t end = it->first + it->second;
    if (start + size > end) continue;
    const uint64_t block_start = it->first;
    free_.erase(it);
    if (start > block_start) free_[block_start] = start - block_start;
    if (start + size < end) free_[start + size] = end - (start + size);
    used_[start] = size;
    return start;
  }
  return std::nullopt;
}

void Arena::release(uint64_t gpa) {
  auto it = used_.find(gpa);
  if (it == used_.end()) return;
  uint64_t start = it->first, len = it->second;
  used_.erase(it);
  // Merge with the free neighbours so large blocks come back.
  auto next = free_.lower_bound(start);
  if (next != free_.end() && next->first == start + len) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      len += prev->second;
      free_.erase(prev);
    }
  }
  free_[start] = len;
}

}  // namespace vhs::exercise
