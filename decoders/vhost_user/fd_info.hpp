// What a passed file descriptor was, as observed by the proxy when it relayed it. The fd itself
// is never recorded, only this description (capture pseudo-header, decoders' fd checks).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vhs {

enum class FdKind : uint8_t {
  Unknown = 0,  // could not be inspected
  Memfd = 1,
  Eventfd = 2,
  Socket = 3,
  File = 4,  // regular file (hugetlbfs, tmpfs file, disk file)
  Pipe = 5,
  Other = 6,  // other anon inodes (userfaultfd, dmabuf, ...), devices
};

std::string_view fd_kind_name(FdKind kind);

struct FdInfo {
  FdKind kind = FdKind::Unknown;
  uint64_t inode = 0;
  uint64_t size = 0;  // st_size for memfd/file, 0 otherwise
  std::string name;   // memfd name ("memfd:pc.ram"), anon inode kind or path; may be empty

  bool operator==(const FdInfo&) const = default;
};

}  // namespace vhs
