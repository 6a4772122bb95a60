// What a scripted peer sent and received, message by message, with the identity of every fd, so
// tests can compare both ends of the proxy and the capture. Also the fds a script asks to send.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decoders/vhost_user/wire.hpp"
#include "proxy/unique_fd.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {

struct Exchange {
  uint32_t session = 1;  // 1-based connection count of the peer
  Channel channel = Channel::Frontend;
  bool sent = false;  // false: received
  bool raw = false;   // sent as raw bytes (not necessarily a well-formed message)
  Bytes bytes;
  std::vector<FdIdentity> fds;
  // Non-socket fds stay open for the peer's lifetime (a real front-end keeps its memory and
  // eventfds too), so tests can check both sides refer to the same file, and inode numbers
  // cannot be reused meanwhile.
  std::vector<UniqueFd> kept;

  Header header() const {
    auto h = parse_header(bytes);
    return h ? *h : Header{};
  }
};

// An fd a script wants sent with a message; created fresh when the step runs.
struct FdSpec {
  enum class Kind { Memfd, Eventfd, BackendChannel /* socketpair: the peer keeps the other end */ };
  Kind kind = Kind::Memfd;
  std::string name;
  uint64_t size = 0;

  static FdSpec memfd(std::string name, uint64_t size) {
    return {Kind::Memfd, std::move(name), size};
  }
  static FdSpec eventfd() { return {Kind::Eventfd, {}, 0}; }
  static FdSpec backend_channel() { return {Kind::BackendChannel, {}, 0}; }
};

}  // namespace vhs::test
