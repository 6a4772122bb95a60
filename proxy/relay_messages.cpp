// Relay core message handling: read one framed message, record it, hand it to the parts'
// hooks, forward it with its fds; the SET_BACKEND_REQ_FD interposition; oversized, truncated and
// cut-short messages; records to the sinks.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>

#include "decoders/vhost_user/registry.hpp"
#include "proxy/fd_describe.hpp"
#include "proxy/relay_impl.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

Direction opposite(Direction d) {
  return d == Direction::ToBackend ? Direction::ToFrontend : Direction::ToBackend;
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

constexpr uint32_t kSetBackendReqFd = static_cast<uint32_t>(FrontendRequest::SET_BACKEND_REQ_FD);

}  // namespace

RelayFlow& RelaySession::inflow(RelayConn& conn) {
  switch (conn.id) {
    case kTokFront: return to_back;
    case kTokBack: return to_front;
    case kTokChanFront: return chan_to_back;
    default: return chan_to_front;
  }
}

RelayFlow& RelaySession::outflow(RelayConn& conn) {
  switch (conn.id) {
    case kTokFront: return to_front;
    case kTokBack: return to_back;
    case kTokChanFront: return chan_to_front;
    default: return chan_to_back;
  }
}

void RelaySession::on_conn_event(TokenId id, uint32_t events) {
  RelayConn* conn = id == kTokFront       ? &front
                    : id == kTokBack      ? &back
                    : id == kTokChanFront ? &chan_front
                                          : &chan_back;
  if (!conn->fd) return;
  const uint64_t gen = generation_number;
  if (events & EPOLLOUT) {
    RelayFlow& out = outflow(*conn);
    if (out.pushing()) push(out);
    if (gen != generation_number || !conn->fd) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    RelayFlow& in = inflow(*conn);
    if (!in.sending()) on_readable(in);
  }
}

void RelaySession::on_readable(RelayFlow& flow) {
  switch (flow.reader().read(flow.src().fd.get())) {
    case MessageReader::Status::Partial: return;
    case MessageReader::Status::Complete: on_message(flow); return;
    case MessageReader::Status::Oversized: on_oversized(flow); return;
    case MessageReader::Status::Closed: on_closed(flow, 0); return;
    case MessageReader::Status::Failed: on_closed(flow, flow.reader().error()); return;
  }
}

// Greedy reads (message_reader.hpp) can leave whole messages in a flow's buffer, and those get no
// epoll event: relay them now, as long as their flow is free to send.
void RelaySession::relay_buffered() {
  const uint64_t gen = generation_number;
  for (RelayFlow* flow : all_flows)
    while (gen == generation_number && flow->src().fd && !flow->sending() && flow->reader().ready())
      on_readable(*flow);
}

void RelaySession::on_message(RelayFlow& flow) {
  uint16_t flags = 0;
  // Fault injection, only when asked for (docs/step.md): may drop the message or swap a reply.
  if (debugging) [[unlikely]]
    if (debugger->before_record(flow, flags)) return;
  fill_record(flow, number, flags);
  const Header& h = flow.reader().header();
  // Hook point for control messages: the whole message is in hand here, before it moves on.
  bool interposed = false, substituted = false;
  if (&flow == &to_back && h.request == kSetBackendReqFd && !h.is_reply() &&
      flow.reader().fds().size() == 1 && flow.record().fds[0].kind == FdKind::Socket)
    interposed = interpose_backend_channel(flow);
  else if (notify) [[unlikely]]
    substituted = notify->on_message(flow);
  if (!interposed && !substituted) flow.begin_send();

  // Only the relay thread writes the counters: a load and a store, no locked instruction.
  core.stat_messages.store(core.stat_messages.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
  core.stat_bytes.store(
      core.stat_bytes.load(std::memory_order_relaxed) + flow.record().bytes.size(),
      std::memory_order_relaxed);
  emit(flow.record());
  if (notify) [[unlikely]]
    notify->emit_deferred();
  // Ring sampling sees memory/vring messages while their fds are still open (before push()).
  if (rings && flow.channel() == Channel::Frontend) rings->on_message(flow);
  if (flow.reader().fds_truncated())
    session_error(flow.channel(), flow.direction(),
                  describe_message(flow) + " with more fds than the proxy has room for (" +
                      std::to_string(kMaxFdsPerMessage) +
                      "); the kernel dropped the rest (MSG_CTRUNC)");
  if (interposed) {
    emit_text(RecordKind::Connect, Channel::Backend, Direction::ToBackend,
              "back-end channel interposed: the back-end gets the proxy's socket " +
                  flow.record().fds[0].name);
    update_interest(chan_front);
    update_interest(chan_back);
  }
  // Breakpoints and injected delays: one predictable branch when nothing is set or held.
  if (debugging) [[unlikely]]
    if (debugger->after_record(flow)) return;
  push(flow);
}

bool RelaySession::interpose_backend_channel(RelayFlow& flow) {
  int frontend_end = flow.reader().fds()[0];
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(frontend_end, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
    return false;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    session_error(Channel::Frontend, flow.direction(),
                  "cannot create a socketpair for the back-end channel (" + errno_text(errno) +
                      "); relaying SET_BACKEND_REQ_FD unchanged, back-end channel not recorded");
    return false;
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  // The back-end gets a socket that behaves like the one the front-end sent (blocking or not);
  // our own end is only ever used with MSG_DONTWAIT.
  int fl = ::fcntl(frontend_end, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK))
    ::fcntl(theirs.get(), F_SETFL, ::fcntl(theirs.get(), F_GETFL) | O_NONBLOCK);

  if (chan_front.fd || chan_back.fd)
    close_backend_channel(Direction::ToBackend, "replaced by a new SET_BACKEND_REQ_FD");
  chan_front.fd.reset(flow.reader().take_fd(0));
  chan_front.events = 0;
  chan_back.fd = std::move(ours);
  chan_back.events = 0;
  // Recorded as what the back-end really receives.
  describe_fd(theirs.get(), flow.record().fds[0]);
  flow.begin_send(0, std::move(theirs));
  return true;
}

void RelaySession::push(RelayFlow& flow) {
  int err = 0;
  switch (flow.continue_send(err)) {
    case RelayFlow::SendStatus::Done:
    case RelayFlow::SendStatus::Blocked:
      // No-ops (no syscall) unless a message just got stuck or unstuck.
      update_interest(flow.src());
      update_interest(flow.dst());
      return;
    case RelayFlow::SendStatus::Failed: {
      Direction closer = opposite(flow.direction());
      std::string dest(writer_side(closer));
      std::string how = dest + " connection failed (" + errno_text(err) + ")";
      session_error(flow.channel(), flow.direction(),
                    "cannot relay " + message_label(flow.channel(), flow.reader().header()) +
                        " to the " + dest + ": " + errno_text(err));
      if (flow.channel() == Channel::Frontend)
        end(closer, how);
      else
        close_backend_channel(closer, how);
      return;
    }
  }
}

void RelaySession::on_oversized(RelayFlow& flow) {
  fill_record(flow, number, kRecordNotRelayed);
  emit(flow.record());
  const Header& h = flow.reader().header();
  std::string what;
  if (h.version() != kProtocolVersion)
    what = std::string(writer_side(flow.direction())) + " sent garbage (request " + hex(h.request) +
           ", flags " + hex(h.flags) + ": version " + std::to_string(h.version()) + ", not 1)" +
           (flow.channel() == Channel::Backend ? " on the back-end channel" : "") + " with size " +
           std::to_string(h.size);
  else
    what = describe_message(flow) + " with size " + std::to_string(h.size);
  if (flow.channel() == Channel::Backend) {
    // A broken back-end channel ends only that channel: the front-end itself, reading such a
    // header there, drops the channel and keeps the main one (spec "Back-end communication":
    // the channel is optional, the session works without it). So the proxy closes both halves
    // it holds and goes on relaying the front-end channel.
    what += " > " + std::to_string(kMaxPayloadSize) +
            " (cap); cannot relay safely, closing the back-end channel";
    session_error(flow.channel(), flow.direction(), what);
    close_backend_channel(flow.direction(), "proxy closed the back-end channel: " + what,
                          kRecordClosedByProxy);
    return;
  }
  what += " > " + std::to_string(kMaxPayloadSize) + " (cap); cannot relay safely, closing session";
  session_error(flow.channel(), flow.direction(), what);
  end(flow.direction(), "proxy closed the session: " + what, kRecordClosedByProxy);
}

void RelaySession::on_closed(RelayFlow& flow, int err) {
  std::string side(writer_side(flow.direction()));
  std::string how = err == 0 ? side + " closed the connection"
                             : side + " connection failed (" + errno_text(err) + ")";
  if (flow.channel() == Channel::Backend) how += " on the back-end channel";
  const MessageReader& in = flow.reader();
  if (in.partial()) {
    fill_record(flow, number, kRecordIncomplete);
    emit(flow.record());
    std::string got;
    if (!in.header_complete())
      got = std::to_string(in.bytes().size()) + " of " + std::to_string(kHeaderSize) +
            " header bytes";
    else
      got = message_label(flow.channel(), in.header()) + ": " +
            std::to_string(in.bytes().size() - kHeaderSize) + " of " +
            std::to_string(in.header().size) + " payload bytes";
    session_error(flow.channel(), flow.direction(), how + " mid-message (got " + got + ")");
  }
  if (flow.channel() == Channel::Frontend)
    end(flow.direction(), how);
  else
    close_backend_channel(flow.direction(), how);
}

void RelaySession::close_backend_channel(Direction closer, std::string_view reason,
                                         uint16_t flags) {
  chan_to_front.reset();
  chan_to_back.reset();
  unregister(chan_front);
  unregister(chan_back);
  chan_front.fd.reset();
  chan_back.fd.reset();
  emit_text(RecordKind::Disconnect, Channel::Backend, closer, reason, flags);
}

// ---------------------------------------------------------------- records and logging

void RelaySession::emit_text(RecordKind kind, Channel channel, Direction direction,
                             std::string_view text, uint16_t flags) {
  meta.kind = kind;
  meta.channel = channel;
  meta.direction = direction;
  meta.flags = flags;
  meta.session = number;
  meta.timestamp_ns = realtime_ns();
  meta.fds.clear();
  meta.bytes.assign(text.begin(), text.end());
  emit(meta);
}

void RelayCore::emit(const Record& record) {
  for (RecordSink* s : sinks) s->on_record(record);
  dirty = true;
  if (!flush_armed && !flushes.empty()) {
    flush_timer.arm_after(opt.flush_interval);
    flush_armed = true;
  }
}

void RelayCore::log(LogLevel level, std::string_view text) {
  if (opt.log) opt.log(level, text);
}

void RelayCore::on_flush_timer() {
  flush_armed = false;
  if (dirty) flush_now();
}

void RelayCore::flush_now() {
  dirty = false;
  for (auto& f : flushes) f();
}

}  // namespace vhs
