// Fd descriptions from fstat + readlink("/proc/self/fd/N") (see fd_describe.hpp).
#include "proxy/fd_describe.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>

namespace vhs {

namespace {

constexpr std::string_view kMemfdPrefix = "/memfd:";
constexpr std::string_view kDeletedSuffix = " (deleted)";

}  // namespace

FdKind classify_fd_link(unsigned mode, const char* link) {
  std::string_view target = link;
  // A memfd is a regular file on an internal tmpfs; only its link name tells it apart.
  if (target.starts_with(kMemfdPrefix)) return FdKind::Memfd;
  if (S_ISSOCK(mode)) return FdKind::Socket;
  if (S_ISFIFO(mode)) return FdKind::Pipe;
  if (target == "anon_inode:[eventfd]") return FdKind::Eventfd;
  if (S_ISREG(mode)) return FdKind::File;
  return FdKind::Other;
}

void describe_fd(int fd, FdInfo& out) {
  out.kind = FdKind::Unknown;
  out.inode = 0;
  out.size = 0;
  out.name.clear();

  struct stat st;
  if (::fstat(fd, &st) != 0) return;

  char proc_path[32];
  std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  char link[512];
  ssize_t n = ::readlink(proc_path, link, sizeof link - 1);
  if (n < 0) n = 0;
  link[n] = '\0';

  out.kind = classify_fd_link(st.st_mode, link);
  out.inode = st.st_ino;
  std::string_view name(link, static_cast<size_t>(n));
  if (out.kind == FdKind::Memfd) {
    // "/memfd:pc.ram (deleted)" -> "memfd:pc.ram"
    name.remove_prefix(1);
    if (name.ends_with(kDeletedSuffix)) name.remove_suffix(kDeletedSuffix.size());
  }
  if (out.kind == FdKind::Memfd || out.kind == FdKind::File)
    out.size = static_cast<uint64_t>(st.st_size);
  out.name.assign(name.data(), name.size());
}

}  // namespace vhs
