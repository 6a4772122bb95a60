// AF_UNIX listen/connect/accept helpers (see unix_socket.hpp).
#include "proxy/unix_socket.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

constexpr int kListenBacklog = 16;

bool make_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// True when something accepts connections at `path` (so it is not a stale socket file).
bool someone_listens(const std::string& path) {
  UniqueFd probe;
  int err = 0;
  ConnectStatus s = connect_unix(path, probe, err);
  return s == ConnectStatus::Connected || (s == ConnectStatus::Retry && err == EAGAIN);
}

// Moves `from` to `to` without ever replacing an existing `to`.
int move_no_replace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // Filesystems without RENAME_NOREPLACE: link() never replaces either.
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());
  return 0;
}

}  // namespace

ListenSocket::ListenSocket(ListenSocket&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)), dev_(other.dev_), ino_(other.ino_) {
  other.path_.clear();
}

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    ino_ = other.ino_;
    other.path_.clear();
  }
  return *this;
}

ListenSocket::~ListenSocket() { close(); }

void ListenSocket::close() {
  if (!path_.empty()) {
    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
        st.st_ino == ino_)
      ::unlink(path_.c_str());
    path_.clear();
  }
  fd_.reset();
}

ListenSocket ListenSocket::create(const std::string& path, std::string& error) {
  ListenSocket out;
  sockaddr_un addr;
  if (!make_address(path, addr)) {
    error = "cannot listen on '" + path + "': path is empty or longer than " +
            std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return out;
  }

  struct stat existing;
  bool replace_stale = false;
  if (::lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      error = "cannot listen on '" + path + "': it exists and is not a socket (left untouched)";
      return out;
    }
    if (someone_listens(path)) {
      error = "cannot listen on '" + path + "': another program is listening there";
      return out;
    }
    replace_stale = true;
  } else if (errno != ENOENT) {
    error = sys_error("listen on", path, errno);
    return out;
  }

  // Private staging directory (mkdtemp makes it 0700) in the same filesystem as the target.
  std::string staging = parent_dir(path) + "/.vhsXXXXXX";
  if (::mkdtemp(staging.data()) == nullptr) {
    error = sys_error("create a staging directory for", path, errno);
    return out;
  }
  std::string staged = staging + "/s";
  auto cleanup_staging = [&] {
    ::unlink(staged.c_str());
    ::rmdir(staging.c_str());
  };

  sockaddr_un staged_addr;
  if (!make_address(staged, staged_addr)) {
    cleanup_staging();
    error = "cannot listen on '" + path + "': its directory name is too long for a socket path";
    return out;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    cleanup_staging();
    error = sys_error("create a socket for", path, errno);
    return out;
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&staged_addr), sizeof staged_addr) != 0 ||
      ::chmod(staged.c_str(), 0600) != 0 || ::listen(fd.get(), kListenBacklog) != 0) {
    int err = errno;
    cleanup_staging();
    error = sys_error("listen on", path, err);
    return out;
  }

  if (replace_stale) {
    // Remove the stale socket only if it is still the same inode we probed.
    struct stat again;
    if (::lstat(path.c_str(), &again) == 0 && S_ISSOCK(again.st_mode) &&
        again.st_dev == existing.st_dev && again.st_ino == existing.st_ino)
      ::unlink(path.c_str());
  }
  if (int err = move_no_replace(staged, path); err != 0) {
    cleanup_staging();
    error = sys_error("listen on", path, err);
    return out;
  }
  ::rmdir(staging.c_str());

  struct stat mine;
  if (::lstat(path.c_str(), &mine) != 0) {
    error = sys_error("listen on", path, errno);
    return out;
  }
  out.fd_ = std::move(fd);
  out.path_ = path;
  out.dev_ = mine.st_dev;
  out.ino_ = mine.st_ino;
  return out;
}

ConnectStatus connect_unix(const std::string& path, UniqueFd& out, int& err) {
  sockaddr_un addr;
  if (!make_address(path, addr)) {
    err = ENAMETOOLONG;
    return ConnectStatus::Failed;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    err = errno;
    return ConnectStatus::Failed;
  }
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    out = std::move(fd);
    err = 0;
    return ConnectStatus::Connected;
  }
  err = errno;
  if (err == ENOENT || err == ECONNREFUSED || err == EAGAIN) return ConnectStatus::Retry;
  return ConnectStatus::Failed;
}

UniqueFd accept_unix(int listen_fd, int& err) {
  int fd;
  do {
    fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  err = fd < 0 ? errno : 0;
  return UniqueFd(fd);
}

pid_t peer_pid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return 0;
  return cred.pid;
}

}  // namespace vhs
