// What each fd passed with a message is for (kick / call / err eventfd of queue N, guest memory
// region i, dirty log, back-end channel socket, inflight buffer, ...), derived from the request
// it travelled with and, where the payload says more (queue index, region), from the payload.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "decoders/vhost_user/message.hpp"

namespace vhs::view {

// One role per fd, in order. An fd the request does not explain is "unexpected fd".
std::vector<std::string> fd_roles(const DecodedMessage& msg, size_t fd_count);

}  // namespace vhs::view
