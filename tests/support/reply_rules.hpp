// What a well-behaved peer answers to a request, derived from the registry's reply rules: an
// intrinsic reply (payload shaped by the reply payload kind, fds by the reply fd rule), an ack
// when NEED_REPLY is set, or nothing.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/wire.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs::test {

using Bytes = std::vector<uint8_t>;

// True when the receiver of this request must answer (intrinsic reply or NEED_REPLY).
bool expects_reply(Channel channel, const Header& request);

struct PlannedReply {
  bool send = false;
  Bytes bytes;
  std::vector<UniqueFd> fds;
};

// `values` maps a request name to the u64 (or vring num) its reply carries, e.g.
// {"GET_FEATURES", 1ull << 32}; unlisted values are 0.
PlannedReply default_reply(Channel channel, std::span<const uint8_t> request,
                           const std::map<std::string, uint64_t>& values);

}  // namespace vhs::test
