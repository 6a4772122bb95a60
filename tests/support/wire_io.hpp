// Blocking-with-timeout socket I/O for test peers: one sendmsg per message with its fds, exact
// header-then-payload reads, connect/listen/accept on unix sockets. Deliberately independent of
// proxy/ so the proxy is checked against separately written code.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "decoders/vhost_user/wire.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs::test {

using Bytes = std::vector<uint8_t>;
using Millis = std::chrono::milliseconds;

enum class IoStatus { Ok, Timeout, Closed, Error };
const char* io_status_name(IoStatus s);

struct ReceivedMessage {
  Bytes bytes;  // whatever arrived (a partial message when status is Closed/Timeout)
  std::vector<UniqueFd> fds;
  bool fds_truncated = false;
  Header header() const;  // zeros if fewer than 12 bytes
};

// A reply as a back-end writes it: header (request, flags VERSION_1 | REPLY, size) and payload.
Bytes reply_bytes(uint32_t request, const void* payload, uint32_t size);

// A host-native value read from unaligned bytes (ring words, message fields).
template <class T>
T load_native(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Sends `bytes` with `fds` in ONE sendmsg (the rest, if the kernel takes less, without fds).
IoStatus send_message(int sock, std::span<const uint8_t> bytes, std::span<const int> fds = {},
                      Millis timeout = Millis(5000));

// Reads exactly one message: 12 header bytes, then exactly `size` payload bytes.
IoStatus recv_message(int sock, ReceivedMessage& out, Millis timeout);

// Waits until the peer closes (reading and discarding anything that still arrives). True on EOF.
bool wait_closed(int sock, Millis timeout);

// poll() for POLLIN on one socket; true when readable (or hung up).
bool wait_readable(int sock, Millis timeout);

// Connects, retrying while nothing listens yet (ENOENT/ECONNREFUSED) until `timeout`.
UniqueFd connect_to(const std::string& path, Millis timeout);
// Replaces a stale socket file at `path` (test directories only).
UniqueFd listen_on(const std::string& path);
UniqueFd accept_from(int listen_sock, Millis timeout);

// What an fd refers to, for cross-side comparison.
struct FdIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  mode_t mode = 0;
  bool operator==(const FdIdentity&) const = default;
};
FdIdentity identify(int fd);

UniqueFd make_memfd(const std::string& name, uint64_t size);
UniqueFd make_eventfd();

}  // namespace vhs::test
