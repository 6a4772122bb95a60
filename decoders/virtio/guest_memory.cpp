// Address translation through the memory table, and the span-backed guest memory view.
#include "decoders/virtio/guest_memory.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

namespace vhs {

std::optional<uint16_t> read_le16(const GuestMemoryView& mem, uint64_t gpa) {
  std::array<uint8_t, 2> b{};
  if (!mem.read(gpa, b)) return std::nullopt;
  return load_le16(b.data());
}

std::optional<uint32_t> read_le32(const GuestMemoryView& mem, uint64_t gpa) {
  std::array<uint8_t, 4> b{};
  if (!mem.read(gpa, b)) return std::nullopt;
  return load_le32(b.data());
}

std::optional<uint64_t> read_le64(const GuestMemoryView& mem, uint64_t gpa) {
  std::array<uint8_t, 8> b{};
  if (!mem.read(gpa, b)) return std::nullopt;
  return load_le64(b.data());
}

MemoryMap::MemoryMap(std::span<const MemRegionValue> regions)
    : regions_(regions.begin(), regions.end()), usable_(regions.size(), false) {
  for (uint32_t i = 0; i < regions_.size(); ++i) {
    const MemRegionValue& r = regions_[i];
    usable_[i] = r.memory_size > 0 && range_fits(r.guest_phys_addr, r.memory_size) &&
                 range_fits(r.userspace_addr, r.memory_size);
    if (!usable_[i]) continue;
    by_gpa_.push_back(i);
    by_uva_.push_back(i);
  }
  // Sorted starts make a lookup a binary search: with 509 memory slots a linear scan per
  // descriptor would dominate a ring snapshot.
  auto sort_and_check = [this](std::vector<uint32_t>& order, auto start) {
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return start(regions_[a]) < start(regions_[b]); });
    for (size_t k = 1; k < order.size(); ++k) {
      const MemRegionValue& prev = regions_[order[k - 1]];
      if (start(regions_[order[k]]) - start(prev) < prev.memory_size) return true;
    }
    return false;
  };
  overlap_gpa_ = sort_and_check(by_gpa_, [](const MemRegionValue& r) { return r.guest_phys_addr; });
  overlap_uva_ = sort_and_check(by_uva_, [](const MemRegionValue& r) { return r.userspace_addr; });
}

std::optional<RegionOffset> MemoryMap::find(Space space, uint64_t addr) const {
  auto start = [space](const MemRegionValue& r) {
    return space == Space::Gpa ? r.guest_phys_addr : r.userspace_addr;
  };
  auto hit = [&](uint32_t i) -> std::optional<RegionOffset> {
    const MemRegionValue& r = regions_[i];
    const uint64_t s = start(r);
    if (addr < s || addr - s >= r.memory_size) return std::nullopt;
    return RegionOffset{i, addr - s, r.memory_size - (addr - s)};
  };
  const std::vector<uint32_t>& order = space == Space::Gpa ? by_gpa_ : by_uva_;
  const bool overlap = space == Space::Gpa ? overlap_gpa_ : overlap_uva_;
  if (overlap) {
    // A malformed table (the session analyser reports it): first region in table order wins.
    for (uint32_t i = 0; i < regions_.size(); ++i)
      if (usable_[i])
        if (auto r = hit(i)) return r;
    return std::nullopt;
  }
  auto it = std::upper_bound(order.begin(), order.end(), addr,
                             [&](uint64_t a, uint32_t i) { return a < start(regions_[i]); });
  if (it == order.begin()) return std::nullopt;
  return hit(*(it - 1));
}

std::optional<RegionOffset> MemoryMap::find_gpa(uint64_t gpa) const {
  return find(Space::Gpa, gpa);
}
std::optional<RegionOffset> MemoryMap::find_uva(uint64_t uva) const {
  return find(Space::Uva, uva);
}

std::optional<uint64_t> MemoryMap::uva_to_gpa(uint64_t uva) const {
  auto r = find_uva(uva);
  if (!r) return std::nullopt;
  return regions_[r->region].guest_phys_addr + r->offset;
}

std::optional<uint64_t> MemoryMap::gpa_to_uva(uint64_t gpa) const {
  auto r = find_gpa(gpa);
  if (!r) return std::nullopt;
  return regions_[r->region].userspace_addr + r->offset;
}

std::optional<uint64_t> MemoryMap::uva_range_to_gpa(uint64_t uva, uint64_t len) const {
  if (!range_fits(uva, len)) return std::nullopt;
  auto first = uva_to_gpa(uva);
  if (!first || len == 0) return first;
  uint64_t pos = uva, expect = *first, rem = len;
  while (rem > 0) {
    auto r = find_uva(pos);
    if (!r || regions_[r->region].guest_phys_addr + r->offset != expect) return std::nullopt;
    const uint64_t take = std::min(rem, r->remaining);
    rem -= take;
    if (rem == 0) break;
    pos += take;
    expect += take;
  }
  return first;
}

bool MemoryMap::gpa_range_mapped(uint64_t gpa, uint64_t len) const {
  if (!range_fits(gpa, len)) return false;
  uint64_t pos = gpa, rem = len;
  while (rem > 0) {
    auto r = find_gpa(pos);
    if (!r) return false;
    const uint64_t take = std::min(rem, r->remaining);
    rem -= take;
    if (rem == 0) break;
    pos += take;
  }
  return true;
}

RegionMemory::RegionMemory(MemoryMap map, std::vector<std::span<const uint8_t>> backing,
                           CopyBytes copy)
    : map_(std::move(map)), backing_(std::move(backing)), copy_(copy) {
  backing_.resize(map_.regions().size());
}

bool RegionMemory::read(uint64_t gpa, std::span<uint8_t> out) const {
  if (!range_fits(gpa, out.size())) return false;
  uint64_t pos = gpa;
  size_t done = 0;
  while (done < out.size()) {
    auto r = map_.find_gpa(pos);
    if (!r) return false;
    std::span<const uint8_t> host = backing_[r->region];
    const uint64_t want = std::min<uint64_t>(out.size() - done, r->remaining);
    if (r->offset > host.size() || want > host.size() - r->offset) return false;
    if (copy_ == nullptr)
      std::memcpy(out.data() + done, host.data() + r->offset, want);
    else if (!copy_(out.data() + done, host.data() + r->offset, want))
      return false;
    done += want;
    pos += want;
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
}

bool RegionMemory::mapped(uint64_t gpa, uint64_t len) const {
  if (!range_fits(gpa, len)) return false;
  uint64_t pos = gpa, rem = len;
  while (rem > 0) {
    auto r = map_.find_gpa(pos);
    if (!r) return false;
    const uint64_t want = std::min(rem, r->remaining);
    const uint64_t host = backing_[r->region].size();
    if (r->offset > host || want > host - r->offset) return false;
    rem -= want;
    if (rem == 0) break;
    pos += want;
  }
  return true;
}

}  // namespace vhs
