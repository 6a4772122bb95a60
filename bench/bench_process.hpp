// What every benchmark needs around the thing it measures: dying with a message, pinning to CPU 0
// (a cross-CPU wake-up costs more than a round trip here), SCHED_FIFO, forked peers that are
// killed and reaped by PID, unix sockets, and `vhostscope` started as a child with its output in a
// log file.
#pragma once

#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace vhs::bench {

using Clock = std::chrono::steady_clock;

// Prints "<program>: what" to stderr and exits 2.
[[noreturn]] void die(const std::string& what);
[[noreturn]] void die_errno(const std::string& what);  // adds strerror(errno)

void pin_to_cpu0();
// SCHED_FIFO priority 1, inherited by every child: peers and relays preempt ordinary load alike.
void go_realtime();

// A forked child, killed and reaped by PID when the guard goes away (normal end or error path).
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  ~Child() { stop(); }

  pid_t pid() const { return pid_; }
  bool exited();  // reaps it if it has exited
  // SIGTERM, up to `grace` for a clean exit, then SIGKILL.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

 private:
  pid_t pid_ = -1;
};

// Runs `body` in a forked child (which exits 0 after it, or after 600 s at the latest).
Child fork_child(const std::function<void()>& body);

// `vhostscope ARGS...` as a child, stdout and stderr into `log`.
Child spawn_program(const std::string& path, const std::vector<std::string>& args,
                    const std::string& log);

sockaddr_un unix_address(const std::string& path);
int listen_unix(const std::string& path);
// Connects to `path`, retrying while the listener is not up yet; -1 when `alive` says the
// listening process died or after `timeout`.
int connect_unix_retry(const std::string& path, std::chrono::milliseconds timeout,
                       const std::function<bool()>& alive);

// Blocking socket I/O for peers: SO_RCVTIMEO/SO_SNDTIMEO so a broken relay cannot hang a bench
// (accept() honours SO_RCVTIMEO too); whole buffers or false (EOF, timeout, error).
void set_io_timeouts(int fd, int seconds);
bool read_exact(int fd, uint8_t* p, size_t n);
bool write_all(int fd, const uint8_t* p, size_t n);

std::string read_text(const std::string& path);  // "" when unreadable
std::string load_average();                      // the first three fields of /proc/loadavg

}  // namespace vhs::bench
