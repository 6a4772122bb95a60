// Exact-length message reads with SCM_RIGHTS collection (see message_reader.hpp).
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

}  // namespace

ssize_t MessageReader::receive(int fd, size_t want) {
  iovec iov{buffer_.data() + have_, want};
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
  if (n >= 0) collect_fds(&msg);
  return n;
}

void MessageReader::collect_fds(void* msghdr_ptr) {
  auto* msg = static_cast<msghdr*>(msghdr_ptr);
  if (msg->msg_flags & MSG_CTRUNC) fds_truncated_ = true;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t i = 0; i < n; ++i) {
      int received;
      std::memcpy(&received, data + i * sizeof(int), sizeof(int));
      if (fd_count_ < fds_.size()) {
        fds_[fd_count_++] = received;
      } else {
        // Only possible if fds came in several pieces of one message; same outcome as CTRUNC.
        ::close(received);
        fds_truncated_ = true;
      }
    }
  }
}

MessageReader::Status MessageReader::read(int fd) {
  // An oversized header stays oversized: the caller must reset() (and close the stream).
  if (header_complete() && header_.size > kMaxPayloadSize) return Status::Oversized;
  // expected_size() grows from the header size to header + payload once the header is parsed.
  while (have_ < expected_size()) {
    ssize_t n = receive(fd, expected_size() - have_);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Partial;
      error_ = errno;
      return Status::Failed;
    }
    if (n == 0) return Status::Closed;
    bool had_header = header_complete();
    have_ += static_cast<size_t>(n);
    if (!had_header && header_complete()) {
      header_ = *parse_header({buffer_.data(), kHeaderSize});
      if (header_.size > kMaxPayloadSize) return Status::Oversized;
    }
  }
  return Status::Complete;
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
  fd_count_ = 0;
  have_ = 0;
  header_ = Header{};
  fds_truncated_ = false;
  error_ = 0;
}

void MessageReader::replace(std::span<const uint8_t> message) {
  reset();
  have_ = std::min(message.size(), buffer_.size());
  std::memcpy(buffer_.data(), message.data(), have_);
  if (auto h = parse_header(bytes())) header_ = *h;
}

}  // namespace vhs
