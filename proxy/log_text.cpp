#include "proxy/log_text.hpp"

#include <cstdio>

#include "proxy/unix_socket.hpp"

namespace vhs {

std::string seconds_text(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

std::string peer_pid_note(int fd) {
  const pid_t pid = peer_pid(fd);
  return pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string();
}

}  // namespace vhs
