// Replay session sockets (see replay_io.hpp).
#include "proxy/replay_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "proxy/fd_describe.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {
namespace {

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int remaining_ms(ReplayLink::Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ReplayLink::Clock::now());
  // Round up so a sub-millisecond remainder still polls once more instead of spinning.
  return left.count() <= 0 ? 0 : static_cast<int>(left.count()) + 1;
}

std::string_view channel_label(Channel c) {
  return c == Channel::Frontend ? "vhost-user socket" : "back-end channel";
}

}  // namespace

uint64_t replay_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

Header ReplayMessage::header() const {
  auto h = parse_header(bytes);
  return h ? *h : Header{};
}

ReplayLink::ReplayLink(Direction outgoing, RecordSink* sink, uint32_t session)
    : outgoing_(outgoing), sink_(sink), session_(session) {}

void ReplayLink::set_main(UniqueFd fd) {
  if (fd) set_nonblocking(fd.get());
  main_reader_.reset();
  main_ = std::move(fd);
}

void ReplayLink::set_channel(UniqueFd fd) {
  if (fd) set_nonblocking(fd.get());
  chan_reader_.reset();
  chan_ = std::move(fd);
}

void ReplayLink::close_main(std::string_view reason) {
  if (!main_) return;
  main_.reset();
  main_reader_.reset();
  record_text(RecordKind::Disconnect, Channel::Frontend, outgoing_, reason);
}

void ReplayLink::close_channel(std::string_view reason) {
  if (!chan_) return;
  chan_.reset();
  chan_reader_.reset();
  record_text(RecordKind::Disconnect, Channel::Backend, outgoing_, reason);
}

void ReplayLink::emit(Record& record) {
  if (sink_ == nullptr) return;
  record.session = session_;
  record.timestamp_ns = replay_now_ns();
  sink_->on_record(record);
}

void ReplayLink::record_text(RecordKind kind, Channel channel, Direction direction,
                             std::string_view text) {
  Record r;
  r.kind = kind;
  r.channel = channel;
  r.direction = direction;
  r.bytes.assign(text.begin(), text.end());
  emit(r);
}

ReplayLink::Event ReplayLink::read_from(Channel channel, ReplayMessage& out, std::string& error,
                                        bool& complete) {
  const bool is_main = channel == Channel::Frontend;
  UniqueFd& sock = is_main ? main_ : chan_;
  MessageReader& reader = is_main ? main_reader_ : chan_reader_;
  const Direction incoming =
      outgoing_ == Direction::ToBackend ? Direction::ToFrontend : Direction::ToBackend;
  complete = false;
  switch (reader.read(sock.get())) {
    case MessageReader::Status::Partial:
      return Event::Message;  // not complete yet; caller keeps waiting
    case MessageReader::Status::Complete: {
      out.channel = channel;
      out.bytes.assign(reader.bytes().begin(), reader.bytes().end());
      out.fds.clear();
      out.fd_infos.clear();
      out.fds_truncated = reader.fds_truncated();
      for (size_t i = 0; i < reader.fds().size(); ++i) {
        out.fds.emplace_back(reader.take_fd(i));
        FdInfo info;
        describe_fd(out.fds.back().get(), info);
        out.fd_infos.push_back(std::move(info));
      }
      reader.next();
      Record r;
      r.kind = RecordKind::Message;
      r.channel = channel;
      r.direction = incoming;
      r.flags = out.fds_truncated ? kRecordFdsTruncated : 0;
      r.fds = out.fd_infos;
      r.bytes = out.bytes;
      emit(r);
      ++received_;
      complete = true;
      return Event::Message;
    }
    case MessageReader::Status::Closed: {
      if (reader.partial()) {
        Record r;
        r.kind = RecordKind::Message;
        r.channel = channel;
        r.direction = incoming;
        r.flags = kRecordIncomplete;
        r.bytes.assign(reader.bytes().begin(), reader.bytes().end());
        emit(r);
      }
      reader.reset();
      sock.reset();
      record_text(RecordKind::Disconnect, channel, incoming, "peer closed the connection");
      return is_main ? Event::MainClosed : Event::ChannelClosed;
    }
    case MessageReader::Status::Oversized:
      error = "the peer sent a header with size " + std::to_string(reader.header().size) +
              " on the " + std::string(channel_label(channel)) + " (more than " +
              std::to_string(kMaxPayloadSize) + " bytes: the stream cannot be followed)";
      break;
    case MessageReader::Status::Failed:
      error = sys_error("read from", channel_label(channel), reader.error());
      break;
  }
  record_text(RecordKind::Error, channel, incoming, error);
  reader.reset();
  sock.reset();
  return Event::Failed;
}

ReplayLink::Event ReplayLink::next(Clock::time_point deadline, ReplayMessage& out,
                                   std::string& error) {
  while (true) {
    // Messages already read into a buffer get no poll event.
    for (Channel c : {Channel::Backend, Channel::Frontend}) {
      const bool is_main = c == Channel::Frontend;
      if (!(is_main ? main_ : chan_) || !(is_main ? main_reader_ : chan_reader_).ready()) continue;
      bool complete = false;
      const Event e = read_from(c, out, error, complete);
      if (e != Event::Message || complete) return e;
    }
    pollfd p[2] = {{main_ ? main_.get() : -1, POLLIN, 0}, {chan_ ? chan_.get() : -1, POLLIN, 0}};
    if (!main_ && !chan_) return Event::MainClosed;
    const int rc = ::poll(p, 2, remaining_ms(deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      error = sys_error("poll", "replay sockets", errno);
      return Event::Failed;
    }
    if (rc == 0) {
      if (Clock::now() >= deadline) return Event::Timeout;
      continue;
    }
    // The back-end channel first: its peer may be blocked on it before it answers the other.
    for (int k : {1, 0}) {
      if (!p[k].revents) continue;
      bool complete = false;
      const Event e =
          read_from(k == 0 ? Channel::Frontend : Channel::Backend, out, error, complete);
      if (e != Event::Message || complete) return e;
    }
  }
}

bool ReplayLink::send(Channel channel, std::span<const uint8_t> bytes, std::span<const int> fds,
                      std::chrono::milliseconds timeout, std::string& error) {
  UniqueFd& sock = channel == Channel::Frontend ? main_ : chan_;
  if (!sock) {
    error = "the " + std::string(channel_label(channel)) + " is closed";
    return false;
  }
  const auto deadline = Clock::now() + timeout;
  size_t done = 0;
  bool fds_sent = fds.empty();
  while (done < bytes.size()) {
    iovec iov{const_cast<uint8_t*>(bytes.data() + done), bytes.size() - done};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
    if (!fds_sent) {
      const size_t n = std::min(fds.size(), kMaxFdsPerMessage);
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * n);
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * n);
    }
    const ssize_t n = ::sendmsg(sock.get(), &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{sock.get(), POLLOUT, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) == 0 && Clock::now() >= deadline) {
          error = "the peer did not read from the " + std::string(channel_label(channel)) +
                  " within " + std::to_string(timeout.count()) + " ms";
          return false;
        }
        continue;
      }
      error = sys_error("send on", channel_label(channel), errno);
      return false;
    }
    fds_sent = true;
    done += static_cast<size_t>(n);
  }
  Record r;
  r.kind = RecordKind::Message;
  r.channel = channel;
  r.direction = outgoing_;
  r.bytes.assign(bytes.begin(), bytes.end());
  for (int fd : fds) {
    FdInfo info;
    describe_fd(fd, info);
    r.fds.push_back(std::move(info));
  }
  emit(r);
  ++sent_;
  return true;
}

}  // namespace vhs
