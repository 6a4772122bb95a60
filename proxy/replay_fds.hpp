// Re-creates the fds a recorded message carried, so a replayed message passes the same kinds of
// objects: memfds of the recorded size for memory (SET_MEM_TABLE / ADD_MEM_REG regions, log,
// inflight), eventfds for kick/call/err/log notifiers, a socketpair for a socket (the back-end
// channel), a pipe for a device-state transfer. One recorded object (inode) maps to one replay fd
// for the whole session, as a real peer re-sends the same RAM or eventfd; an fd the replay
// received for a recorded one (the inflight buffer of the replayed GET_INFLIGHT_FD reply) takes
// its place. Only fd *kinds and sizes* are reproduced, never contents.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/message.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {

// Default total of memory objects a replay re-creates: well above the guest RAM of the shipped
// captures, and small enough that a capture claiming absurd region sizes cannot make the replay
// reserve more than a test machine has.
inline constexpr uint64_t kDefaultReplayMemoryCap = uint64_t{1} << 30;

class ReplayFds {
 public:
  // `memory_cap`: the most bytes of memory objects (memfds) this replay creates in total.
  explicit ReplayFds(uint64_t memory_cap = kDefaultReplayMemoryCap) : memory_cap_(memory_cap) {}

  struct Prepared {
    std::vector<int> fds;             // pass these with the message, in order
    std::vector<UniqueFd> transient;  // far ends (socketpair, pipe): close after sending
    UniqueFd socket_end;              // our end of a socketpair, if one was made
    std::vector<std::string> notes;   // stand-ins used, for the log
    std::string error;                // non-empty: could not create an fd
  };

  // Fds for a recorded message (decoded for the sizes it implies) with recorded descriptions.
  Prepared prepare(const DecodedMessage& msg, std::span<const FdInfo> recorded);

  // `received` now stands for the recorded object `recorded` (matched by inode) in later messages.
  void adopt(const FdInfo& recorded, UniqueFd received);

  // Fds currently standing for recorded objects (for tests).
  size_t known() const { return by_inode_.size(); }

 private:
  int cached_or_new(const FdInfo& recorded, uint64_t need, Prepared& out);
  // Counts `more` bytes of memory against the cap; false (and out.error) when it would pass it.
  bool reserve_memory(uint64_t more, Prepared& out);

  uint64_t memory_cap_;
  uint64_t memory_bytes_ = 0;  // sizes of the memory objects created so far, growth included

  std::map<uint64_t, UniqueFd> by_inode_;  // recorded inode -> our fd
  std::vector<UniqueFd> kept_;             // our ends of pipes, uncached objects
};

// Bytes of the fd that message `msg` needs for its fd number `index` (region offset + size,
// log / inflight / area extent); 0 when the payload says nothing about it.
uint64_t fd_extent_needed(const DecodedMessage& msg, size_t index);

}  // namespace vhs
