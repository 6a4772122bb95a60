// Control socket server and client (see control_server.hpp).
#include "proxy/control_server.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

constexpr size_t kMaxLine = 1024;
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

bool write_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd, POLLOUT, deadline)) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::unique_ptr<ControlServer> ControlServer::start(const std::string& path, Handler handler,
                                                    std::string& error) {
  std::unique_ptr<ControlServer> s(new ControlServer);
  s->listen_ = ListenSocket::create(path, error);
  if (!s->listen_.valid()) return nullptr;
  s->stop_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!s->stop_) {
    error = "cannot create the control socket's stop event: " + errno_text(errno);
    return nullptr;
  }
  s->handler_ = std::move(handler);
  s->thread_ = std::thread([srv = s.get()] { srv->serve(); });
  return s;
}

ControlServer::~ControlServer() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t rc = ::write(stop_.get(), &one, sizeof one);
    (void)rc;
    thread_.join();
  }
  listen_.close();
}

void ControlServer::serve() {
  for (;;) {
    pollfd p[2] = {{stop_.get(), POLLIN, 0}, {listen_.fd(), POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents != 0) return;
    if (p[1].revents == 0) continue;
    int err = 0;
    UniqueFd client = accept_unix(listen_.fd(), err);
    if (client) answer(std::move(client));
  }
}

void ControlServer::answer(UniqueFd client) {
  // A client gets 2 s to send its line: the server handles one client at a time.
  auto deadline = Clock::now() + std::chrono::seconds(2);
  std::string line;
  char buf[256];
  while (line.find('\n') == std::string::npos && line.size() <= kMaxLine) {
    ssize_t n = ::recv(client.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      line.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;  // a line without newline, then EOF: still a request
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(client.get(), POLLIN, deadline))
      continue;
    return;
  }
  std::string reply;
  if (line.size() > kMaxLine)
    reply = "error: request longer than " + std::to_string(kMaxLine) + " bytes\n";
  else
    reply = handler_(std::string_view(line).substr(0, line.find('\n')));
  write_all(client.get(), reply, Clock::now() + std::chrono::seconds(2));
}

bool control_request(const std::string& path, std::string_view line, std::string& answer,
                     std::string& error, int timeout_ms) {
  UniqueFd fd;
  int err = 0;
  if (connect_unix(path, fd, err) != ConnectStatus::Connected) {
    error = sys_error("connect to control socket", path, err);
    return false;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string request(line);
  request += '\n';
  if (!write_all(fd.get(), request, deadline)) {
    error = "cannot send to control socket '" + path + "': " + errno_text(errno);
    return false;
  }
  ::shutdown(fd.get(), SHUT_WR);
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      answer.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return true;
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd.get(), POLLIN, deadline)) continue;
    error = "no answer from control socket '" + path + "'";
    return false;
  }
}

}  // namespace vhs
