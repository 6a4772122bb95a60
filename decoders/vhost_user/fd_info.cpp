// Names of the fd kinds the proxy records for each passed descriptor.
#include "decoders/vhost_user/fd_info.hpp"

namespace vhs {

std::string_view fd_kind_name(FdKind kind) {
  switch (kind) {
    case FdKind::Unknown: return "unknown";
    case FdKind::Memfd: return "memfd";
    case FdKind::Eventfd: return "eventfd";
    case FdKind::Socket: return "socket";
    case FdKind::File: return "file";
    case FdKind::Pipe: return "pipe";
    case FdKind::Other: return "other";
  }
  return "unknown";
}

}  // namespace vhs
