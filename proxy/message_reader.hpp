// Reads one vhost-user message at a time from a non-blocking stream socket, never past its end:
// the 12-byte header first (its fds arrive with its first byte), then exactly `size` payload bytes.
// Reading further could pull in the next message's fds (Linux hands them out with the first byte
// of the sendmsg that carried them), which would then be attached to the wrong message.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "decoders/wire.hpp"

namespace vhs {

class MessageReader {
 public:
  enum class Status {
    Partial,    // need more bytes (EAGAIN); call read() again when readable
    Complete,   // header + payload are in bytes(), fds in fds()
    Closed,     // orderly EOF (check partial() for a message cut short)
    Oversized,  // header says size > kMaxPayloadSize: the stream cannot be relayed safely
    Failed,     // recvmsg error; error() has the errno
  };

  MessageReader() = default;
  MessageReader(const MessageReader&) = delete;
  MessageReader& operator=(const MessageReader&) = delete;
  ~MessageReader() { reset(); }

  // Reads as much of the current message as is available, without blocking and without reading
  // past its end. After Complete, call reset() before the next message.
  Status read(int fd);

  // Closes any fds still held and forgets the message.
  void reset();
  // Fault injection: the complete message becomes `message` (header included, at most
  // kHeaderSize + kMaxPayloadSize bytes, no fds); the fds that came with the old one are closed.
  void replace(std::span<const uint8_t> message);

  std::span<const uint8_t> bytes() const { return {buffer_.data(), have_}; }
  bool header_complete() const { return have_ >= kHeaderSize; }
  const Header& header() const { return header_; }  // valid when header_complete()
  size_t expected_size() const { return header_complete() ? kHeaderSize + header_.size : kHeaderSize; }
  bool partial() const { return have_ > 0; }  // some bytes of a message have arrived

  std::span<const int> fds() const { return {fds_.data(), fd_count_}; }
  // Transfers ownership of fd i to the caller (the slot then holds -1 and is not closed).
  int take_fd(size_t i);
  bool fds_truncated() const { return fds_truncated_; }
  int error() const { return error_; }

 private:
  ssize_t receive(int fd, size_t want);
  void collect_fds(void* msghdr);

  std::array<uint8_t, kHeaderSize + kMaxPayloadSize> buffer_{};
  size_t have_ = 0;
  Header header_;
  std::array<int, kMaxFdsPerMessage> fds_{};
  size_t fd_count_ = 0;
  bool fds_truncated_ = false;
  int error_ = 0;
};

}  // namespace vhs
