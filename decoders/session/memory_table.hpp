// The guest memory table as the back-end maps it, followed from the front-end's memory messages
// (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG). The one place the table rules live: the session
// analyser, the proxy's ring sampler and `memmap` all read the table this tracker keeps. Pure: fed
// decoded messages, reports what each one changed; no I/O, no findings text.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "decoders/session/message_ref.hpp"
#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/payloads.hpp"

namespace vhs {

// One entry of the memory table as the back-end would map it (spec "Memory region description").
struct MemRegionState {
  MemRegionValue region;
  bool has_fd = false;
  FdInfo fd;
  MessageRef added_by = kNoMessage;  // SET_MEM_TABLE or ADD_MEM_REG that installed it
};

// A region installed by a message, and which of the message's fds backs it.
struct InstalledRegion {
  MemRegionValue region;
  std::optional<size_t> fd_index;  // index into the message's fds; nullopt: it came without one
};

// A newly installed region whose guest-physical or user address range overlaps one already in
// the table (the back-end would map the same memory twice, or two memories at one address).
struct RegionOverlap {
  MemRegionValue added;
  MemRegionValue existing;
  bool guest_physical = false;  // false: only the user address ranges overlap
};

// What one message did to the table.
struct MemoryTableChange {
  enum class Kind : uint8_t {
    None,      // not a memory message, or one that does not change the table
    Replaced,  // SET_MEM_TABLE: the table is now exactly `installed`
    Added,     // ADD_MEM_REG: `installed` (one region) was appended
    Removed,   // REM_MEM_REG: the entry at `removed_index` is gone
    NotFound,  // REM_MEM_REG named a region the table does not hold; nothing changed
  };
  Kind kind = Kind::None;
  std::vector<InstalledRegion> installed;
  size_t removed_index = 0;   // Removed: position in the table before removal
  MemRegionValue removed;     // Removed / NotFound: the region the message named
  size_t regions_before = 0;  // NotFound: how many regions the table held
  std::vector<RegionOverlap> overlaps;

  bool changed() const { return kind != Kind::None && kind != Kind::NotFound; }
};

class MemoryTableTracker {
 public:
  // Feeds one front-end channel request (replies and back-end requests change nothing).
  MemoryTableChange on_request(MessageRef ref, const DecodedMessage& msg,
                               std::span<const FdInfo> fds);

  // The current table, in installation order (SET_MEM_TABLE's order, then each ADD_MEM_REG).
  const std::vector<MemRegionState>& regions() const { return regions_; }
  // Between POSTCOPY_LISTEN and POSTCOPY_END the memory codes also carry the front-end's
  // acknowledgement of the back-end's mapping bases (spec "Front-end message types",
  // SET_MEM_TABLE).
  bool postcopy_listening() const { return postcopy_listening_; }
  void clear();

 private:
  void install(MessageRef ref, const MemRegionValue& region, const FdInfo* fd,
               std::optional<size_t> fd_index, MemoryTableChange& change);

  std::vector<MemRegionState> regions_;
  bool postcopy_listening_ = false;
};

}  // namespace vhs
