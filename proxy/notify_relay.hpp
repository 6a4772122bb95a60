// Bookkeeping for `--interpose-notify`: per queue and source (kick / call / err) the pair of
// eventfds the proxy relays between, the previous source still drained after a swap, and the
// step-debugging hold state. Pure data plus the eventfd I/O helpers; the relay thread owns it and
// does the epoll registration (notify_interposer.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "decoders/virtio/notify_record.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {

// vhost-user queue indices are the low 8 bits of the SET_VRING_KICK/CALL/ERR payload.
inline constexpr uint32_t kNotifyMaxQueues = 256;
inline constexpr uint32_t kNotifySources = 3;

struct NotifySlot {
  // Read side: for a kick the front-end's eventfd, for a call/err the proxy's own (the back-end
  // got a copy). Write side: for a kick the proxy's own (the back-end got a copy), for a call/err
  // the front-end's eventfd. Both empty: not interposed.
  UniqueFd source;
  UniqueFd sink;
  // The source replaced by the last SET_VRING_* of this slot: the writer may still use it until it
  // has processed the new message (QEMU re-sets the call fd while a queue runs), so it stays
  // watched and forwarded to the current sink until the next swap or teardown.
  UniqueFd retired;
  bool source_blocking = false;  // the front-end's fd is blocking: poll before reading
  bool retired_blocking = false;
  uint64_t serial = 0;      // bumped on every change: events for older fds are stale
  bool hold = false;        // step debugging: notifications are counted, not written on
  uint64_t held = 0;        // counter value held back
  uint64_t hold_order = 0;  // when the oldest held notification arrived (the relay's hold order)
  uint64_t relayed = 0;     // counter values written on in this session

  bool interposed() const { return static_cast<bool>(source); }
};

class NotifyTable {
 public:
  static uint32_t index(uint32_t queue, NotifySource source) {
    return queue * kNotifySources + static_cast<uint32_t>(source);
  }
  static uint32_t queue_of(uint32_t index) { return index / kNotifySources; }
  static NotifySource source_of(uint32_t index) {
    return static_cast<NotifySource>(index % kNotifySources);
  }

  NotifySlot* find(uint32_t index) { return index < slots_.size() ? &slots_[index] : nullptr; }
  NotifySlot& at(uint32_t index) {  // grows on demand
    if (index >= slots_.size()) slots_.resize(index + 1);
    return slots_[index];
  }
  uint32_t size() const { return static_cast<uint32_t>(slots_.size()); }

 private:
  std::vector<NotifySlot> slots_;
};

// "kick" / "call" / "err" -> source; nullopt otherwise.
std::optional<NotifySource> notify_source_from_name(std::string_view name);

// Reads and clears an eventfd's counter. 0 when nothing was pending (or the fd is gone);
// `may_block`: check readiness first so a blocking fd with a zero counter cannot stall the relay.
uint64_t drain_eventfd(int fd, bool may_block);
// Adds `count` to an eventfd's counter; false on failure (errno set).
bool signal_eventfd(int fd, uint64_t count);

}  // namespace vhs
