// MemoryTableTracker: the memory table rules (see memory_table.hpp).
#include "decoders/session/memory_table.hpp"

#include <algorithm>

#include "decoders/vhost_user/registry.hpp"

namespace vhs {
namespace {

bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) {
  if (a_len == 0 || b_len == 0) return false;
  // End addresses may overflow for hostile values; compare lengths instead of ends.
  return a < b ? b - a < a_len : a - b < b_len;
}

// REM_MEM_REG names the region by guest address, user address and size; the mmap offset is
// ignored (spec "Front-end message types", REM_MEM_REG).
bool same_region(const MemRegionValue& a, const MemRegionValue& b) {
  return a.guest_phys_addr == b.guest_phys_addr && a.userspace_addr == b.userspace_addr &&
         a.memory_size == b.memory_size;
}

}  // namespace

void MemoryTableTracker::clear() {
  regions_.clear();
  postcopy_listening_ = false;
}

void MemoryTableTracker::install(MessageRef ref, const MemRegionValue& region, const FdInfo* fd,
                                 std::optional<size_t> fd_index, MemoryTableChange& change) {
  for (const MemRegionState& existing : regions_) {
    const MemRegionValue& e = existing.region;
    const bool gpa = ranges_overlap(e.guest_phys_addr, e.memory_size, region.guest_phys_addr,
                                    region.memory_size);
    const bool uva =
        ranges_overlap(e.userspace_addr, e.memory_size, region.userspace_addr, region.memory_size);
    if (gpa || uva) change.overlaps.push_back({region, e, gpa});
  }
  MemRegionState s;
  s.region = region;
  if (fd) {
    s.has_fd = true;
    s.fd = *fd;
  }
  s.added_by = ref;
  regions_.push_back(std::move(s));
  change.installed.push_back({region, fd_index});
}

MemoryTableChange MemoryTableTracker::on_request(MessageRef ref, const DecodedMessage& msg,
                                                 std::span<const FdInfo> fds) {
  MemoryTableChange change;
  if (!msg.info || msg.is_reply || msg.channel != Channel::Frontend) return change;
  switch (msg.info->frontend()) {
    case FrontendRequest::POSTCOPY_LISTEN: postcopy_listening_ = true; break;
    case FrontendRequest::POSTCOPY_END: postcopy_listening_ = false; break;
    case FrontendRequest::SET_MEM_TABLE: {
      // In postcopy listen mode an 8-byte SET_MEM_TABLE is the front-end's acknowledgement of the
      // back-end's mapping bases, not a table.
      const auto* table = std::get_if<MemTableValue>(&msg.payload);
      if (!table || (postcopy_listening_ && msg.header.size == sizeof(uint64_t))) break;
      change.kind = MemoryTableChange::Kind::Replaced;
      regions_.clear();
      // The fds travel in region order, one per region (spec "Front-end message types").
      for (size_t i = 0; i < table->regions.size(); ++i) {
        const bool backed = i < fds.size();
        install(ref, table->regions[i], backed ? &fds[i] : nullptr,
                backed ? std::optional<size_t>(i) : std::nullopt, change);
      }
      break;
    }
    case FrontendRequest::ADD_MEM_REG: {
      // An 8-byte ADD_MEM_REG is the postcopy acknowledgement (decoded as a u64, not a region).
      const auto* single = std::get_if<SingleRegionValue>(&msg.payload);
      if (!single || msg.header.size == sizeof(uint64_t)) break;
      change.kind = MemoryTableChange::Kind::Added;
      const bool backed = !fds.empty();
      install(ref, single->region, backed ? &fds.front() : nullptr,
              backed ? std::optional<size_t>(0) : std::nullopt, change);
      break;
    }
    case FrontendRequest::REM_MEM_REG: {
      const auto* single = std::get_if<SingleRegionValue>(&msg.payload);
      if (!single) break;
      change.removed = single->region;
      auto it = std::find_if(regions_.begin(), regions_.end(), [&](const MemRegionState& m) {
        return same_region(m.region, single->region);
      });
      if (it == regions_.end()) {
        change.kind = MemoryTableChange::Kind::NotFound;
        change.regions_before = regions_.size();
        break;
      }
      change.kind = MemoryTableChange::Kind::Removed;
      change.removed_index = static_cast<size_t>(it - regions_.begin());
      regions_.erase(it);
      break;
    }
    default: break;
  }
  return change;
}

}  // namespace vhs
