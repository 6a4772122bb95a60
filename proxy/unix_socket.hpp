// AF_UNIX stream sockets for the relay: a listening socket created safely (0600 from birth, never
// replacing anything but a stale socket), connect attempts that tell "retry later" from "give up".
#pragma once

#include <sys/types.h>

#include <string>

#include "proxy/unique_fd.hpp"

namespace vhs {

// A listening socket bound at a filesystem path. The socket file is unlinked on destruction if it
// is still the one we created (someone may have replaced it meanwhile).
class ListenSocket {
 public:
  ListenSocket() = default;
  ListenSocket(ListenSocket&& other) noexcept;
  ListenSocket& operator=(ListenSocket&& other) noexcept;
  ~ListenSocket();

  // Binds and listens at `path` with mode 0600. The socket is bound inside a fresh 0700 directory
  // next to `path` and then renamed into place, so the path is never accessible to others, not
  // even between bind() and chmod(). An existing socket nobody listens on is replaced; a live one,
  // or anything that is not a socket, is left alone and reported in `error`.
  static ListenSocket create(const std::string& path, std::string& error);

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  void close();  // closes the fd and unlinks the socket file (if still ours)
  // Closes the fd but leaves the socket file: connecting to it is then refused (ECONNREFUSED), as
  // it is at the path of a peer that died. close() still unlinks the file if it is still ours.
  void stop_listening() { fd_.reset(); }

 private:
  UniqueFd fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

enum class ConnectStatus {
  Connected,
  Retry,   // nobody is listening yet (ENOENT, ECONNREFUSED) or the backlog is full (EAGAIN)
  Failed,  // anything else: wrong path type, permissions, path too long
};

// Non-blocking connect; `out` receives a SOCK_NONBLOCK|SOCK_CLOEXEC socket on success, `err` the
// errno otherwise.
ConnectStatus connect_unix(const std::string& path, UniqueFd& out, int& err);

// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC; invalid fd and `err` set when nothing was accepted.
UniqueFd accept_unix(int listen_fd, int& err);

// Process id of the peer (SO_PEERCRED), 0 if unknown.
pid_t peer_pid(int fd);

}  // namespace vhs
