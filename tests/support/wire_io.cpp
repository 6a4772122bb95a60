// Test-peer socket I/O (see wire_io.hpp).
#include "support/wire_io.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace vhs::test {

Bytes reply_bytes(uint32_t request, const void* payload, uint32_t size) {
  Bytes b(12 + size);
  const uint32_t flags = 0x1 | 0x4;
  std::memcpy(b.data(), &request, 4);
  std::memcpy(b.data() + 4, &flags, 4);
  std::memcpy(b.data() + 8, &size, 4);
  if (size != 0) std::memcpy(b.data() + 12, payload, size);
  return b;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxTestFds = 253;  // SCM_MAX_FD: the most the kernel passes on one message
constexpr uint32_t kMaxTestPayload = 1 << 16;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

bool wait_for(int sock, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{sock, events, 0};
    int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

sockaddr_un address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  return a;
}

// Reads up to `want` bytes into out.bytes, collecting fds. Ok when all arrived.
IoStatus read_exact(int sock, ReceivedMessage& out, size_t want, Clock::time_point deadline) {
  size_t target = out.bytes.size() + want;
  while (out.bytes.size() < target) {
    if (!wait_for(sock, POLLIN, deadline)) return IoStatus::Timeout;
    size_t have = out.bytes.size();
    out.bytes.resize(target);
    iovec iov{out.bytes.data() + have, target - have};
    union {
      char buf[CMSG_SPACE(sizeof(int) * kMaxTestFds)];
      cmsghdr align;
    } control;
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = ::recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    out.bytes.resize(have + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return errno == ECONNRESET ? IoStatus::Closed : IoStatus::Error;
    }
    if (msg.msg_flags & MSG_CTRUNC) out.fds_truncated = true;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        out.fds.emplace_back(fd);
      }
    }
    if (n == 0) return IoStatus::Closed;
  }
  return IoStatus::Ok;
}

}  // namespace

const char* io_status_name(IoStatus s) {
  switch (s) {
    case IoStatus::Ok: return "ok";
    case IoStatus::Timeout: return "timeout";
    case IoStatus::Closed: return "closed";
    case IoStatus::Error: return "error";
  }
  return "?";
}

Header ReceivedMessage::header() const {
  auto h = parse_header(bytes);
  return h ? *h : Header{};
}

IoStatus send_message(int sock, std::span<const uint8_t> bytes, std::span<const int> fds,
                      Millis timeout) {
  auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < bytes.size() || (bytes.empty() && sent == 0 && !fds.empty())) {
    if (!wait_for(sock, POLLOUT, deadline)) return IoStatus::Timeout;
    iovec iov{const_cast<uint8_t*>(bytes.data()) + sent, bytes.size() - sent};
    union {
      char buf[CMSG_SPACE(sizeof(int) * kMaxTestFds)];
      cmsghdr align;
    } control;
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (sent == 0 && !fds.empty()) {
      if (fds.size() > kMaxTestFds) return IoStatus::Error;
      msg.msg_control = control.buf;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return (errno == EPIPE || errno == ECONNRESET) ? IoStatus::Closed : IoStatus::Error;
    }
    sent += static_cast<size_t>(n);
    if (bytes.empty()) break;
  }
  return IoStatus::Ok;
}

IoStatus recv_message(int sock, ReceivedMessage& out, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  out.bytes.clear();
  out.fds.clear();
  out.fds_truncated = false;
  IoStatus s = read_exact(sock, out, kHeaderSize, deadline);
  if (s != IoStatus::Ok) return s;
  Header h = out.header();
  if (h.size > kMaxTestPayload) return IoStatus::Error;
  if (h.size == 0) return IoStatus::Ok;
  return read_exact(sock, out, h.size, deadline);
}

bool wait_closed(int sock, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (!wait_for(sock, POLLIN, deadline)) return false;
    char buf[4096];
    ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno == ECONNRESET) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
  }
}

bool wait_readable(int sock, Millis timeout) {
  return wait_for(sock, POLLIN, Clock::now() + timeout);
}

UniqueFd connect_to(const std::string& path, Millis timeout) {
  auto deadline = Clock::now() + timeout;
  sockaddr_un a = address(path);
  while (true) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    if ((errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) || Clock::now() >= deadline)
      return {};
    std::this_thread::sleep_for(Millis(5));
  }
}

UniqueFd listen_on(const std::string& path) {
  // A socket file left by an earlier peer in the same test directory is stale by construction.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  sockaddr_un a = address(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd.get(), 8) != 0)
    return {};
  return fd;
}

UniqueFd accept_from(int listen_sock, Millis timeout) {
  if (!wait_for(listen_sock, POLLIN, Clock::now() + timeout)) return {};
  return UniqueFd(::accept4(listen_sock, nullptr, nullptr, SOCK_CLOEXEC));
}

FdIdentity identify(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_mode};
}

UniqueFd make_memfd(const std::string& name, uint64_t size) {
  UniqueFd fd(::memfd_create(name.c_str(), MFD_CLOEXEC));
  if (fd && ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return {};
  return fd;
}

UniqueFd make_eventfd() { return UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

}  // namespace vhs::test
