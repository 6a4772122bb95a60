// Greedy message reads with SCM_RIGHTS attribution (see message_reader.hpp).
#include "proxy/message_reader.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vhs {

namespace {

// Control buffer with room for kMaxFdsPerMessage fds, aligned for cmsghdr.
union ControlBuffer {
  char buf[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  cmsghdr align;
};

uint32_t size_field_at(const uint8_t* header) {
  uint32_t size;
  std::memcpy(&size, header + 8, sizeof size);
  return size;  // host-native, like every header field (decoders/vhost_user/wire.hpp)
}

// Appends `n` fds to a fixed array; what does not fit is closed and reported as truncation.
void append_fds(std::array<int, kMaxFdsPerMessage>& to, size_t& count, bool& truncated,
                const int* from, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (count < to.size()) {
      to[count++] = from[i];
    } else {
      ::close(from[i]);
      truncated = true;
    }
  }
}

}  // namespace

bool MessageReader::take_header() {
  header_ = *parse_header({buffer_.data(), kHeaderSize});
  header_parsed_ = true;
  return header_.size <= kMaxPayloadSize;
}

size_t MessageReader::current_size() const {
  if (header_parsed_ && header_.size > kMaxPayloadSize) return kHeaderSize;
  return std::min(have_, expected_size());
}

bool MessageReader::ready() const {
  if (have_ < kHeaderSize) return false;
  const uint32_t size = header_parsed_ ? header_.size : size_field_at(buffer_.data());
  return size > kMaxPayloadSize || have_ >= kHeaderSize + size;
}

// Walks the buffered messages from the current one: the one holding the last byte read owns the
// fds of that read (the kernel stopped the read right after their skb).
size_t MessageReader::owner_of_last_byte() const {
  size_t start = 0;
  for (;;) {
    if (start + kHeaderSize > have_) return start;
    const uint32_t size = size_field_at(buffer_.data() + start);
    if (size > kMaxPayloadSize) return start;
    const size_t end = start + kHeaderSize + size;
    if (have_ <= end) return start;
    start = end;
  }
}

void MessageReader::take_received(LaterFds& received, size_t owner) {
  if (owner == 0) {
    append_fds(fds_, fd_count_, fds_truncated_, received.fds.data(), received.count);
    fds_truncated_ |= received.truncated;
    return;
  }
  for (LaterFds& l : later_) {
    if (l.offset != owner) continue;
    append_fds(l.fds, l.count, l.truncated, received.fds.data(), received.count);
    l.truncated |= received.truncated;
    return;
  }
  received.offset = owner;
  later_.push_back(received);
}

MessageReader::Status MessageReader::read(int fd) {
  for (;;) {
    if (!header_parsed_ && have_ >= kHeaderSize && !take_header()) return Status::Oversized;
    // An oversized header stays oversized: the caller must reset() (and close the stream).
    if (header_parsed_ && header_.size > kMaxPayloadSize) return Status::Oversized;
    if (header_parsed_ && have_ >= expected_size()) return Status::Complete;

    // The current message is incomplete, so it starts in the first half and has room to finish.
    iovec iov{buffer_.data() + have_, kReadLimit - have_};
    ControlBuffer control;
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n;
    do {
      n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Partial;
      error_ = errno;
      return Status::Failed;
    }
    if (n == 0) return Status::Closed;
    have_ += static_cast<size_t>(n);

    LaterFds received;
    received.truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int fds[kMaxFdsPerMessage];
      const size_t kept = std::min(count, kMaxFdsPerMessage);
      std::memcpy(fds, CMSG_DATA(c), kept * sizeof(int));
      append_fds(received.fds, received.count, received.truncated, fds, kept);
    }
    if (received.count > 0 || received.truncated) take_received(received, owner_of_last_byte());
  }
}

void MessageReader::next() {
  const size_t used = std::min(have_, expected_size());
  for (size_t i = 0; i < fd_count_; ++i)
    if (fds_[i] >= 0) ::close(fds_[i]);
  fd_count_ = 0;
  fds_truncated_ = false;
  error_ = 0;
  header_parsed_ = false;
  header_ = Header{};
  std::memmove(buffer_.data(), buffer_.data() + used, have_ - used);
  have_ -= used;
  for (LaterFds& l : later_) {
    l.offset -= used;
    if (l.offset != 0) continue;
    append_fds(fds_, fd_count_, fds_truncated_, l.fds.data(), l.count);
    fds_truncated_ |= l.truncated;
  }
  std::erase_if(later_, [](const LaterFds& l) { return l.offset == 0; });
}

int MessageReader::take_fd(size_t i) {
  if (i >= fd_count_) return -1;
  int fd = fds_[i];
  fds_[i] = -1;
  return fd;
}

void MessageReader::reset() {
  for (size_t i = 0; i < fd_count_; ++i)
    if (fds_[i] >= 0) ::close(fds_[i]);
  for (LaterFds& l : later_)
    for (size_t i = 0; i < l.count; ++i) ::close(l.fds[i]);
  later_.clear();
  fd_count_ = 0;
  have_ = 0;
  header_parsed_ = false;
  header_ = Header{};
  fds_truncated_ = false;
  error_ = 0;
}

void MessageReader::replace(std::span<const uint8_t> message) {
  const size_t used = std::min(have_, expected_size());
  const size_t size = std::min(message.size(), kHeaderSize + kMaxPayloadSize);
  for (size_t i = 0; i < fd_count_; ++i)
    if (fds_[i] >= 0) ::close(fds_[i]);
  fd_count_ = 0;
  fds_truncated_ = false;
  // Messages buffered behind this one move with it (have_ <= kReadLimit: room for any size).
  std::memmove(buffer_.data() + size, buffer_.data() + used, have_ - used);
  std::memcpy(buffer_.data(), message.data(), size);
  have_ = have_ - used + size;
  for (LaterFds& l : later_) l.offset = l.offset - used + size;
  header_parsed_ = false;
  if (size >= kHeaderSize) take_header();
}

}  // namespace vhs
