// One session of the relay: a front-end connection, the back-end connection made for it, its
// parts (ring sampling, notification interposer, debugger) and its epoll registrations. Message
// handling is in relay_messages.cpp.
#include <sys/epoll.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "proxy/log_text.hpp"
#include "proxy/relay_impl.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

RelaySession::RelaySession(RelayCore& c, uint32_t s, uint32_t n, SessionState st)
    : core(c), slot(s), number(n), state(st) {
  front.id = kTokFront;
  back.id = kTokBack;
  chan_front.id = kTokChanFront;
  chan_back.id = kTokChanBack;
}

// Parts go first: their fds leave the loop (explicit unwatch) while the connections still exist.
RelaySession::~RelaySession() {
  debugger.reset();
  notify.reset();
  rings.reset();
}

bool RelaySession::set_up(bool sample, std::string& error) {
  const RelayOptions& opt = core.opt;
  // The ring sampler follows a queue's used entries right before its kicks and calls are
  // relayed (created below; it outlives nothing the hook could reach after the session).
  if (opt.interpose_notify)
    notify = NotifyInterposer::create(*this, [this](uint32_t queue) {
      if (rings) rings->before_notification(queue);
    });
  debugger = Debugger::create(*this, notify ? &notify->holds() : nullptr, opt, error);
  if (!debugger) return false;
  // What ctl changed for every session applies to this one too.
  for (const std::string& line : core.policy_lines) debugger->run_command(line);
  if (sample && opt.sample_interval.count() > 0) {
    rings = RingSampling::create(*this, opt.device, opt.sample_interval, error);
    if (!rings) return false;
  }
  return true;
}

bool RelaySession::watch(int fd, FdHandler& handler, uint64_t cookie) {
  const int index = handlers.slot_of(handler);
  if (index < 0) {
    errno = ENOSPC;
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = make_token(slot, static_cast<uint8_t>(kTokPart + index), cookie);
  return ::epoll_ctl(core.epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void RelaySession::unwatch(int fd) { ::epoll_ctl(core.epoll.get(), EPOLL_CTL_DEL, fd, nullptr); }

void RelaySession::on_part_event(uint8_t id, uint64_t cookie) {
  if (FdHandler* h = handlers.at(static_cast<size_t>(id - kTokPart))) h->on_ready(cookie);
}

// ---------------------------------------------------------------- epoll registration

void RelaySession::update_interest(RelayConn& conn) {
  if (!conn.fd) return;
  // Read only when the previous message from this socket is gone (one message in flight per
  // direction); wait for writability only while a message to this socket is stuck.
  uint32_t want = 0;
  if (!inflow(conn).sending()) want |= EPOLLIN;
  if (outflow(conn).pushing()) want |= EPOLLOUT;
  if (want == conn.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = make_token(slot, conn.id);
  // With no interest at all the socket leaves the set: EPOLLHUP would be reported regardless.
  int op = want == 0 ? EPOLL_CTL_DEL : conn.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  ::epoll_ctl(core.epoll.get(), op, conn.fd.get(), &ev);
  conn.events = want;
}

void RelaySession::unregister(RelayConn& conn) {
  // Explicit: a passed-in socket may share its file description with the peer, and epoll only
  // forgets a registration when the last reference to the description goes away.
  if (conn.fd && conn.events != 0)
    ::epoll_ctl(core.epoll.get(), EPOLL_CTL_DEL, conn.fd.get(), nullptr);
  conn.events = 0;
}

void RelaySession::refresh_interest(RelayFlow& flow) {
  update_interest(flow.src());
  update_interest(flow.dst());
}

// ---------------------------------------------------------------- lifecycle

void RelaySession::begin(UniqueFd fd, std::string description) {
  debugger->on_session_begin();
  front.fd = std::move(fd);
  front.events = 0;
  front_description = std::move(description);
  deadline = Clock::now() + core.opt.connect_timeout;
  if (core.opt.backend.mode == EndpointMode::Connect) {
    state = SessionState::BackendConnecting;
    std::string held_description;
    if (UniqueFd held = core.take_standby(held_description)) {
      activate(std::move(held), std::move(held_description));
      return;
    }
    try_connect_backend();
  } else {
    state = SessionState::BackendWaiting;
    core.update_waiting();
    core.on_back_accept();  // the back-end may already be waiting in the backlog
  }
}

void RelaySession::try_connect_backend() {
  UniqueFd fd;
  int err = 0;
  const std::string& path = core.opt.backend.path;
  ConnectStatus s = connect_unix(path, fd, err);
  if (s == ConnectStatus::Connected) {
    std::string description =
        "connected to back-end" + peer_pid_note(fd.get()) + " at '" + path + "'";
    activate(std::move(fd), std::move(description));
    return;
  }
  // At start-up the back-end may still be coming up: the front-end waits for it (bounded by
  // --connect-timeout). Once it was reached, a back-end that refuses is gone (crashed,
  // restarting): the front-end gets its connection closed at once rather than a first request
  // that goes unanswered, and the front-end socket refuses the next ones until the back-end is
  // back (RelayCore::gate_applies says why). A full backlog (EAGAIN) is a busy back-end: wait.
  const bool gone =
      s == ConnectStatus::Retry && err != EAGAIN && core.backend_reached && core.gate_applies();
  if (s == ConnectStatus::Retry && !gone && Clock::now() < deadline) return;
  std::string why = sys_error("connect to back-end", path, err);
  if (gone)
    why += " (the back-end is gone; the front-end socket refuses connections until it is back)";
  else if (s == ConnectStatus::Retry)
    why += " (gave up after " + seconds_text(core.opt.connect_timeout) + ")";
  fail_backend(why);
  if (gone)
    core.close_gate("back-end at '" + path + "' unreachable (" + errno_text(err) +
                    "): the front-end socket refuses connections until it is back");
}

void RelaySession::on_retry_tick() {
  if (state == SessionState::BackendConnecting) {
    try_connect_backend();
  } else if (state == SessionState::BackendWaiting && Clock::now() >= deadline) {
    fail_backend("no back-end connected on '" + core.opt.backend.path + "' within " +
                 seconds_text(core.opt.connect_timeout));
  }
}

void RelaySession::activate(UniqueFd fd, std::string description) {
  back.fd = std::move(fd);
  back.events = 0;
  state = SessionState::Active;
  if (core.opt.backend.mode == EndpointMode::Connect) core.backend_reached = true;
  std::string note = front_description + "; " + description;
  emit_text(RecordKind::Connect, Channel::Frontend, Direction::ToBackend, note);
  log(LogLevel::Info, "session " + std::to_string(number) + ": " + note);
  update_interest(front);
  update_interest(back);
}

void RelaySession::fail_backend(const std::string& why) {
  emit_text(RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
            front_description + "; no back-end");
  record_unrelayed_requests();
  session_error(Channel::Frontend, Direction::ToFrontend,
                why + "; closing the front-end connection");
  end(Direction::ToFrontend, "proxy closed the front-end connection: " + why, kRecordClosedByProxy);
}

// What the front-end sent while no back-end was there (QEMU sends GET_FEATURES at once and
// waits for the reply): recorded as not relayed, so the capture shows what the front-end was
// waiting for when its connection was closed.
void RelaySession::record_unrelayed_requests() {
  if (!front.fd) return;
  MessageReader& in = to_back.reader();
  // Bounded: a front-end never sends more than a few requests before the first reply.
  for (int i = 0; i < 64 && in.read(front.fd.get()) == MessageReader::Status::Complete; ++i) {
    fill_record(to_back, number, kRecordNotRelayed);
    emit(to_back.record());
    in.next();
  }
}

void RelaySession::end(Direction closer, std::string_view reason, uint16_t flags) {
  if (state == SessionState::Ended) return;
  // A peer hung up (or its socket failed): the rings' last state is what the session left in
  // flight (the back-end's unfinished work when it vanished; for the front-end, what happened
  // since the last timer sample, which a short session may not have had at all). The guest
  // memory is still mapped here.
  const bool peer_left = (flags & kRecordClosedByProxy) == 0 && state == SessionState::Active;
  const bool backend_lost = peer_left && closer == Direction::ToFrontend;
  if (peer_left && rings) rings->sample_final();
  if (chan_front.fd || chan_back.fd) close_backend_channel(closer, "session ended");
  if (rings) rings->on_session_end();
  if (notify) notify->on_session_end();
  emit_text(RecordKind::Disconnect, Channel::Frontend, closer, reason, flags);
  log(LogLevel::Info, "session " + std::to_string(number) + " ended: " + std::string(reason));
  to_back.reset();
  to_front.reset();
  debugger->on_session_end();
  unregister(front);
  unregister(back);
  front.fd.reset();
  back.fd.reset();
  state = SessionState::Ended;
  // Parts looping over the flows stop here (a failed send ends the session mid-loop).
  ++generation_number;
  if (backend_lost) core.on_backend_lost(number);
  core.session_ended(*this);
}

void RelaySession::note_dropped() { core.stat_messages.fetch_add(1, std::memory_order_relaxed); }

void RelaySession::session_error(Channel channel, Direction direction, const std::string& text) {
  core.stat_errors.fetch_add(1, std::memory_order_relaxed);
  emit_text(RecordKind::Error, channel, direction, text);
  log(LogLevel::Error, "session " + std::to_string(number) + ": " + text);
}

}  // namespace vhs
