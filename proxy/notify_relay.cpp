// eventfd helpers and name parsing for --interpose-notify (see notify_relay.hpp).
#include "proxy/notify_relay.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace vhs {

std::optional<NotifySource> notify_source_from_name(std::string_view name) {
  if (name == "kick") return NotifySource::Kick;
  if (name == "call") return NotifySource::Call;
  if (name == "err") return NotifySource::Err;
  return std::nullopt;
}

uint64_t drain_eventfd(int fd, bool may_block) {
  if (fd < 0) return 0;
  if (may_block) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) return 0;
  }
  uint64_t value = 0;
  ssize_t n;
  do {
    n = ::read(fd, &value, sizeof value);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof value) ? value : 0;
}

bool signal_eventfd(int fd, uint64_t count) {
  if (count == 0) return true;
  ssize_t n;
  do {
    n = ::write(fd, &count, sizeof count);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof count);
}

}  // namespace vhs
