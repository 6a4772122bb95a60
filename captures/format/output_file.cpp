// Safe creation of output files (see output_file.hpp for the rules and why).
#include "captures/format/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace vhs {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  return "not a regular file";
}

}  // namespace

int open_output_fd(const std::string& path, std::string& error) {
  // No O_TRUNC yet: nothing is changed before the checks below pass. O_NONBLOCK keeps a FIFO
  // from blocking the open; O_NOFOLLOW makes a link at the path fail with ELOOP.
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int saved = errno;
    if (saved == ELOOP) {
      error = fmt::format(
          "cannot write '{}': it is a symbolic link (vhostscope does not write through links; "
          "name the target itself)",
          path);
    } else if (saved == ENXIO) {
      // A FIFO without a reader: opening it non-blocking for writing fails with ENXIO.
      error = fmt::format("cannot write '{}': it is a FIFO (name a regular file)", path);
    } else {
      error = fmt::format("cannot write '{}': {}", path, std::strerror(saved));
    }
    return -1;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = fmt::format("cannot write '{}': {}", path, std::strerror(errno));
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    error =
        fmt::format("cannot write '{}': it is {} (name a regular file)", path, kind_of(st.st_mode));
    ::close(fd);
    return -1;
  }
  if (st.st_nlink > 1) {
    error = fmt::format(
        "cannot write '{}': it has {} hard links, and replacing it would change the other names",
        path, st.st_nlink);
    ::close(fd);
    return -1;
  }
  if (::ftruncate(fd, 0) != 0) {
    error = fmt::format("cannot write '{}': {}", path, std::strerror(errno));
    ::close(fd);
    return -1;
  }
  // An existing file keeps its mode: tighten it (captures hold guest memory layouts).
  if ((st.st_mode & 0077) != 0) (void)::fchmod(fd, 0600);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

FILE* open_output_stream(const std::string& path, std::string& error) {
  const int fd = open_output_fd(path, error);
  if (fd < 0) return nullptr;
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    error = fmt::format("cannot write '{}': {}", path, std::strerror(errno));
    ::close(fd);
  }
  return f;
}

}  // namespace vhs
