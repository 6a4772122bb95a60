// Describes a passed file descriptor (memfd, eventfd, socket, file, pipe, ...) for the capture,
// from fstat and the /proc/self/fd link. The fd itself is left untouched.
#pragma once

#include "decoders/vhost_user/fd_info.hpp"

namespace vhs {

// Fills `out` in place (reusing its string capacity: called on the relay's hot path whenever a
// message carries fds). Never fails: an fd that cannot be inspected is FdKind::Unknown.
void describe_fd(int fd, FdInfo& out);

// Classifies a /proc/self/fd link target plus its fstat mode; exposed for unit tests.
FdKind classify_fd_link(unsigned mode, const char* link);

}  // namespace vhs
