// Sending side of one relay direction (see relay_flow.hpp).
#include "proxy/relay_flow.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "decoders/vhost_user/registry.hpp"
#include "proxy/fd_describe.hpp"

namespace vhs {

namespace {

union ControlBuffer {
  char buf[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  cmsghdr align;
};

}  // namespace

uint64_t realtime_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void fill_record(RelayFlow& flow, uint32_t session, uint16_t flags) {
  Record& r = flow.record();
  const MessageReader& in = flow.reader();
  r.kind = RecordKind::Message;
  r.flags = flags | (in.fds_truncated() ? kRecordFdsTruncated : 0);
  r.session = session;
  r.timestamp_ns = realtime_ns();
  auto bytes = in.bytes();
  r.bytes.assign(bytes.begin(), bytes.end());
  auto fds = in.fds();
  r.fds.resize(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) describe_fd(fds[i], r.fds[i]);
}

std::string_view writer_side(Direction d) {
  return d == Direction::ToBackend ? "front-end" : "back-end";
}

std::string describe_message(const RelayFlow& flow) {
  std::string s(writer_side(flow.direction()));
  s += " sent ";
  s += message_label(flow.channel(), flow.reader().header());
  if (flow.channel() == Channel::Backend) s += " on the back-end channel";
  return s;
}

void RelayFlow::begin_send(int substitute_index, UniqueFd substitute) {
  auto fds = reader_.fds();
  send_fd_count_ = fds.size();
  for (size_t i = 0; i < fds.size(); ++i) send_fds_[i] = fds[i];
  substitute_ = std::move(substitute);
  if (substitute_index >= 0 && static_cast<size_t>(substitute_index) < send_fd_count_)
    send_fds_[static_cast<size_t>(substitute_index)] = substitute_.get();
  sent_ = 0;
  sending_ = true;
}

ssize_t RelayFlow::send_some(std::span<const uint8_t> rest, bool with_fds) {
  // Most messages carry no fds: send() skips the kernel's msghdr and iovec copies, which is
  // measurable on a relay whose whole cost is a few system calls per message.
  if (!with_fds)
    return ::send(dst_->fd.get(), rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  iovec iov{const_cast<uint8_t*>(rest.data()), rest.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ControlBuffer control;
  const size_t len = sizeof(int) * send_fd_count_;
  msg.msg_control = control.buf;
  msg.msg_controllen = CMSG_SPACE(len);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(len);
  std::memcpy(CMSG_DATA(c), send_fds_.data(), len);
  return ::sendmsg(dst_->fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

RelayFlow::SendStatus RelayFlow::continue_send(int& err) {
  auto bytes = reader_.bytes();
  while (sent_ < bytes.size()) {
    // The fds ride on the first byte only; after a partial send they are already on their way.
    const ssize_t n = send_some(bytes.subspan(sent_), sent_ == 0 && send_fd_count_ > 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return SendStatus::Blocked;
      err = errno;
      return SendStatus::Failed;
    }
    sent_ += static_cast<size_t>(n);
  }
  // The kernel holds its own references to the passed fds: ours can go now.
  sending_ = false;
  substitute_.reset();
  reader_.next();
  return SendStatus::Done;
}

void RelayFlow::reset() {
  sending_ = false;
  held_ = false;
  stopped = false;
  hold_note.clear();
  pending_delay = std::chrono::milliseconds(0);
  delayed_until = {};
  sent_ = 0;
  send_fd_count_ = 0;
  substitute_.reset();
  reader_.reset();
}

}  // namespace vhs
