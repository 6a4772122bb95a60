#include "bench/bench_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

namespace vhs::bench {

void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(2);
}

void die_errno(const std::string& what) { die(what + ": " + std::strerror(errno)); }

void pin_to_cpu0() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) die_errno("sched_setaffinity(CPU 0)");
}

void go_realtime() {
  sched_param p{};
  p.sched_priority = 1;
  if (::sched_setscheduler(0, SCHED_FIFO, &p) != 0) die_errno("sched_setscheduler(SCHED_FIFO)");
}

Child::Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}

Child& Child::operator=(Child&& o) noexcept {
  stop();
  pid_ = std::exchange(o.pid_, -1);
  return *this;
}

bool Child::exited() {
  if (pid_ < 0) return true;
  if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

void Child::stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return;
  const auto deadline = Clock::now() + grace;
  if (grace.count() > 0) ::kill(pid_, SIGTERM);
  while (Clock::now() < deadline) {
    if (exited()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Child fork_child(const std::function<void()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) die_errno("fork");
  if (pid == 0) {
    ::alarm(600);  // a stray child cannot outlive the benchmark by much
    body();
    ::_exit(0);
  }
  return Child(pid);
}

Child spawn_program(const std::string& path, const std::vector<std::string>& args,
                    const std::string& log) {
  return fork_child([&] {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    std::vector<std::string> copy = args;
    copy.insert(copy.begin(), path);
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    std::fprintf(stderr, "exec %s: %s\n", path.c_str(), std::strerror(errno));
    ::_exit(127);
  });
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) die("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

int listen_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket");
  const sockaddr_un addr = unix_address(path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    die_errno("bind " + path);
  if (::listen(fd, 4) != 0) die_errno("listen " + path);
  return fd;
}

int connect_unix_retry(const std::string& path, std::chrono::milliseconds timeout,
                       const std::function<bool()>& alive) {
  const sockaddr_un addr = unix_address(path);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die_errno("socket");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
    ::close(fd);
    if (!alive()) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string read_text(const std::string& path) {
  std::string out;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

std::string load_average() {
  std::string s = read_text("/proc/loadavg");
  const auto cut = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);  // first three fields
  return cut == std::string::npos ? s : s.substr(0, cut);
}

void set_io_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool read_exact(int fd, uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r > 0) {
      p += r;
      n -= static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return false;  // EOF, timeout or error
    }
  }
  return true;
}

bool write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace vhs::bench
