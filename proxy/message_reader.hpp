// Reads vhost-user messages from a non-blocking stream socket, one whole message at a time, with
// the fds that came with it.
//
// Reads are greedy: one recvmsg takes whatever the socket holds (up to a buffer of two maximal
// messages), so a message that arrived in one piece costs one syscall, and bytes of the following
// messages wait in the buffer. What makes that safe for fds is how Linux reads a unix stream:
// SCM_RIGHTS fds belong to the skb of the sendmsg that carried them, and a read stops right after
// the first skb with fds it touches (tests/proxy_units_test.cpp pins this down). So the fds a read
// returns belong to the message that holds the read's LAST byte — the same message a reader taking
// the 12-byte header and then exactly `size` bytes would have attached them to, for every peer that
// starts each fd-carrying sendmsg with the message it belongs to (QEMU, libvhost-user, rust-vmm,
// DPDK: header with fds, payload in the same or the next write).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "decoders/vhost_user/wire.hpp"

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

  // Completes the current message from the buffer or, if it needs more, from the socket, without
  // blocking. After Complete, call next() before reading the following message.
  Status read(int fd);

  // Done with the current (complete) message: closes its fds not taken, and makes the next
  // buffered message current. Check ready() afterwards: a buffered message gets no epoll event.
  void next();
  // Forgets everything, buffered messages included, and closes every fd held (stream abandoned).
  void reset();
  // Fault injection: the complete message becomes `message` (header included, at most
  // kHeaderSize + kMaxPayloadSize bytes, no fds); the fds that came with the old one are closed.
  void replace(std::span<const uint8_t> message);

  // read() would return Complete or Oversized without touching the socket.
  bool ready() const;

  std::span<const uint8_t> bytes() const { return {buffer_.data(), current_size()}; }
  bool header_complete() const { return header_parsed_; }
  const Header& header() const { return header_; }  // valid when header_complete()
  size_t expected_size() const { return header_parsed_ ? kHeaderSize + header_.size : kHeaderSize; }
  bool partial() const { return have_ > 0; }  // some bytes of a message have arrived

  std::span<const int> fds() const { return {fds_.data(), fd_count_}; }
  // Transfers ownership of fd i to the caller (the slot then holds -1 and is not closed).
  int take_fd(size_t i);
  bool fds_truncated() const { return fds_truncated_; }
  int error() const { return error_; }

 private:
  // fds that arrived with bytes of a later message than the current one.
  struct LaterFds {
    size_t offset = 0;  // where that message starts in buffer_
    std::array<int, kMaxFdsPerMessage> fds{};
    size_t count = 0;
    bool truncated = false;
  };

  size_t current_size() const;
  bool take_header();  // false: oversized
  size_t owner_of_last_byte() const;
  void take_received(LaterFds& received, size_t owner);

  // Reads fill at most kReadLimit bytes; the slack past it lets replace() grow the current message.
  static constexpr size_t kReadLimit = 2 * (kHeaderSize + kMaxPayloadSize);
  std::array<uint8_t, kReadLimit + kHeaderSize + kMaxPayloadSize> buffer_{};
  size_t have_ = 0;
  bool header_parsed_ = false;
  Header header_;
  std::array<int, kMaxFdsPerMessage> fds_{};
  size_t fd_count_ = 0;
  bool fds_truncated_ = false;
  int error_ = 0;
  std::vector<LaterFds> later_;
};

}  // namespace vhs
