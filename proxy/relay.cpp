// Relay core lifecycle: sockets, the epoll loop, accepting and connecting front-ends (each one a
// session of its own), handing accepted back-ends to the sessions waiting for one. A session's
// own lifecycle is in relay_session.cpp, message handling in relay_messages.cpp.
#include "proxy/relay.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "proxy/log_text.hpp"
#include "proxy/relay_impl.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

constexpr int kMaxEvents = 16;
constexpr uint32_t kTemplateSlot = 1;

void drain(int fd) {
  uint64_t value;
  while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

}  // namespace

int HandlerTable::slot_of(FdHandler& handler) {
  auto it = std::find(handlers_.begin(), handlers_.end(), &handler);
  if (it == handlers_.end()) {
    if (handlers_.size() == kMaxFdHandlers) return -1;
    it = handlers_.insert(handlers_.end(), &handler);
  }
  return static_cast<int>(it - handlers_.begin());
}

RelayCore::RelayCore(RelayOptions o) : opt(std::move(o)) {}
RelayCore::~RelayCore() = default;

// ---------------------------------------------------------------- public API

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::~Relay() = default;

std::unique_ptr<Relay> Relay::create(RelayOptions options, std::string& error) {
  if (options.frontend.path.empty() || options.backend.path.empty()) {
    error = "both a front-end and a back-end socket path are needed";
    return nullptr;
  }
  if (options.frontend.path == options.backend.path) {
    error = "the front-end and back-end socket paths must differ";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl& r = *impl;
  if (!r.set_up(error)) return nullptr;

  if (r.opt.frontend.mode == EndpointMode::Listen) {
    r.front_listen = ListenSocket::create(r.opt.frontend.path, error);
    if (!r.front_listen.valid()) return nullptr;
  }
  if (r.opt.backend.mode == EndpointMode::Listen) {
    r.back_listen = ListenSocket::create(r.opt.backend.path, error);
    if (!r.back_listen.valid()) return nullptr;
  }
  return std::unique_ptr<Relay>(new Relay(std::move(impl)));
}

void Relay::add_sink(RecordSink* sink, std::function<void()> flush) {
  if (sink != nullptr) impl_->sinks.push_back(sink);
  if (flush) impl_->flushes.push_back(std::move(flush));
}

int Relay::run() { return impl_->run(); }

std::string Relay::debug_command(std::string_view line) {
  return impl_->commands->submit(line, std::chrono::seconds(2));
}

void Relay::stop() {
  uint64_t one = 1;
  // Only write(): safe from a signal handler. A full counter still means "stop".
  ssize_t rc = ::write(impl_->stop_event.get(), &one, sizeof one);
  (void)rc;
}

RelayStats Relay::stats() const {
  RelayStats s;
  s.sessions = impl_->stat_sessions.load(std::memory_order_relaxed);
  s.messages = impl_->stat_messages.load(std::memory_order_relaxed);
  s.bytes = impl_->stat_bytes.load(std::memory_order_relaxed);
  s.errors = impl_->stat_errors.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------- set-up

bool RelayCore::set_up(std::string& error) {
  epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  stop_event.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  flush_timer = TimerFd::create();
  retry_timer = TimerFd::create();
  if (!epoll || !stop_event || !flush_timer.valid() || !retry_timer.valid()) {
    error = "cannot set up the event loop: " + errno_text(errno);
    return false;
  }
  auto add = [&](int fd, TokenId id) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = make_token(0, id);
    return ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  if (!add(stop_event.get(), kTokStop) || !add(flush_timer.fd(), kTokFlushTimer) ||
      !add(retry_timer.fd(), kTokRetryTimer)) {
    error = "cannot set up the event loop: " + errno_text(errno);
    return false;
  }
  commands = CommandQueue::create(
      *this, [this](std::string_view line) { return run_command(line); }, error);
  if (!commands) return false;
  // The template checks the command line's breakpoints and injections once, up front, and
  // answers ctl commands while no session is live.
  slots.resize(kTemplateSlot + 1);
  slots[kTemplateSlot] =
      std::make_unique<RelaySession>(*this, kTemplateSlot, 0, SessionState::Template);
  return slots[kTemplateSlot]->set_up(false, error);
}

bool RelayCore::watch(int fd, FdHandler& handler, uint64_t cookie) {
  const int slot = handlers.slot_of(handler);
  if (slot < 0) {
    errno = ENOSPC;
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = make_token(0, static_cast<uint8_t>(kTokPart + slot), cookie);
  return ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void RelayCore::unwatch(int fd) { ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr); }

RelaySession* RelayCore::session_in_slot(uint32_t slot) const {
  return slot < slots.size() ? slots[slot].get() : nullptr;
}

// ---------------------------------------------------------------- event loop

int RelayCore::run() {
  start_frontend();
  epoll_event events[kMaxEvents];
  while (!stopping && !finished) {
    int n = ::epoll_wait(epoll.get(), events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log(LogLevel::Error, "event loop failed: " + errno_text(errno));
      exit_code = 1;
      break;
    }
    for (int i = 0; i < n && !stopping; ++i) dispatch(events[i].data.u64, events[i].events);
    // Sessions that ended in this batch go only now: later events of the batch may name them.
    if (any_ended) reap_ended();
  }
  for (auto& s : slots) {
    if (!s || !s->live()) continue;
    if (s->waiting_for_backend())
      s->emit_text(RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
                   s->front_description + "; no back-end yet");
    s->end(Direction::ToBackend, "recorder stopped; proxy closed both sides", kRecordClosedByProxy);
  }
  reap_ended();
  if (standby) {
    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, standby.get(), nullptr);
    standby.reset();
  }
  retry_timer.disarm();
  retry_armed = false;
  set_listen(front_listen, kTokFrontListen, false, front_listen_registered);
  set_listen(back_listen, kTokBackListen, false, back_listen_registered);
  front_listen.close();
  back_listen.close();
  flush_now();
  finished = true;
  return exit_code;
}

void RelayCore::dispatch(uint64_t tok, uint32_t events) {
  const auto id = static_cast<uint8_t>(tok & 0xff);
  const auto slot = static_cast<uint32_t>((tok >> kTokSlotShift) & (kMaxSlots - 1));
  const uint64_t cookie = tok >> kTokCookieShift;
  if (slot != 0) {
    RelaySession* s = session_in_slot(slot);
    // Stale: the session ended earlier in this batch.
    if (s == nullptr || s->state == SessionState::Ended) return;
    if (id >= kTokPart)
      s->on_part_event(id, cookie);
    else
      s->on_conn_event(static_cast<TokenId>(id), events);
    // Whatever unblocked a flow (a send, a delay timer) may have left whole messages in its read
    // buffer, which no epoll event will announce.
    if (!stopping && s->state != SessionState::Ended) relay_buffered(s);
    return;
  }
  switch (id) {
    case kTokStop:
      drain(stop_event.get());
      stopping = true;
      return;
    case kTokFlushTimer:
      flush_timer.read_expirations();
      on_flush_timer();
      return;
    case kTokRetryTimer:
      retry_timer.read_expirations();
      on_retry_tick();
      return;
    case kTokFrontListen: on_front_accept(); return;
    case kTokBackListen: on_back_accept(); return;
    case kTokStandby:
      drop_standby("the back-end closed the connection held for the next front-end");
      return;
    default:
      if (id >= kTokPart) {
        if (FdHandler* h = handlers.at(id - kTokPart)) h->on_ready(cookie);
        // A ctl command (`step`, `continue`) may have released a flow of any session.
        if (!stopping) relay_buffered(nullptr);
      }
      return;
  }
}

void RelayCore::relay_buffered(RelaySession* only) {
  if (only != nullptr) {
    only->relay_buffered();
    return;
  }
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i] && slots[i]->state == SessionState::Active) slots[i]->relay_buffered();
}

// ---------------------------------------------------------------- epoll registration

void RelayCore::set_listen(ListenSocket& sock, TokenId id, bool on, bool& registered) {
  if (!sock.valid() || on == registered) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = make_token(0, id);
  ::epoll_ctl(epoll.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, sock.fd(), &ev);
  registered = on;
}

void RelayCore::update_waiting() {
  bool connecting = frontend_connecting || (gated && !standby), waiting = false;
  for (auto& s : slots) {
    if (!s) continue;
    connecting = connecting || s->waiting_for_backend();
    waiting = waiting || s->state == SessionState::BackendWaiting;
  }
  set_listen(back_listen, kTokBackListen, waiting, back_listen_registered);
  if (connecting == retry_armed) return;
  if (connecting)
    retry_timer.arm_periodic(opt.retry_interval);
  else
    retry_timer.disarm();
  retry_armed = connecting;
}

// ---------------------------------------------------------------- front-ends

void RelayCore::start_frontend() {
  if (opt.frontend.mode == EndpointMode::Listen) {
    // Always listening: every front-end that connects is a session of its own at once, whatever
    // the others are doing.
    set_listen(front_listen, kTokFrontListen, true, front_listen_registered);
    return;
  }
  frontend_connecting = true;
  frontend_deadline = Clock::now() + opt.connect_timeout;
  try_connect_frontend();
  update_waiting();
}

void RelayCore::on_front_accept() {
  if (!front_listen.valid()) return;  // the gate closed it earlier in this batch of events
  int err = 0;
  UniqueFd fd = accept_unix(front_listen.fd(), err);
  if (!fd) {
    if (err != EAGAIN && err != ECONNABORTED)
      log(LogLevel::Error,
          "cannot accept a front-end on '" + opt.frontend.path + "': " + errno_text(err));
    return;
  }
  std::string description =
      "front-end" + peer_pid_note(fd.get()) + " connected on '" + opt.frontend.path + "'";
  start_session(std::move(fd), std::move(description));
}

void RelayCore::try_connect_frontend() {
  UniqueFd fd;
  int err = 0;
  ConnectStatus s = connect_unix(opt.frontend.path, fd, err);
  if (s == ConnectStatus::Connected) {
    frontend_connecting = false;
    std::string description =
        "connected to front-end" + peer_pid_note(fd.get()) + " at '" + opt.frontend.path + "'";
    start_session(std::move(fd), std::move(description));
    return;
  }
  if (s == ConnectStatus::Retry && Clock::now() < frontend_deadline) return;
  frontend_connecting = false;
  finished = true;
  if (had_session) {
    log(LogLevel::Info,
        "front-end at '" + opt.frontend.path + "' is gone (" + errno_text(err) + "); stopping");
  } else {
    log(LogLevel::Error, sys_error("connect to front-end", opt.frontend.path, err) +
                             (s == ConnectStatus::Retry
                                  ? " (gave up after " + seconds_text(opt.connect_timeout) + ")"
                                  : ""));
    exit_code = 1;
  }
}

void RelayCore::start_session(UniqueFd front, std::string description) {
  // A free slot; one that ended in this batch stays taken until reaped.
  uint32_t slot = kTemplateSlot + 1;
  while (slot < slots.size() && slots[slot]) ++slot;
  if (slot >= kMaxSlots) {
    log(LogLevel::Error, "too many concurrent sessions (" + std::to_string(kMaxSlots - 2) +
                             "); closing the new front-end connection");
    return;
  }
  if (slot == slots.size()) slots.emplace_back();
  auto session = std::make_unique<RelaySession>(*this, slot, ++last_session_number,
                                                SessionState::BackendConnecting);
  std::string error;
  if (!session->set_up(true, error)) {
    log(LogLevel::Error, "session " + std::to_string(session->number) + ": " + error +
                             "; closing the front-end connection");
    return;
  }
  had_session = true;
  stat_sessions.fetch_add(1, std::memory_order_relaxed);
  RelaySession& s = *session;
  slots[slot] = std::move(session);
  s.begin(std::move(front), std::move(description));
  update_waiting();
}

void RelayCore::session_ended(RelaySession&) {
  any_ended = true;
  update_waiting();
  // Connect mode: the front-end is reached again after each session (QEMU `reconnect=`).
  if (opt.frontend.mode == EndpointMode::Connect && !stopping && !finished) start_frontend();
}

void RelayCore::reap_ended() {
  any_ended = false;
  for (auto& s : slots)
    if (s && s->state == SessionState::Ended) s.reset();
  while (slots.size() > kTemplateSlot + 1 && !slots.back()) slots.pop_back();
}

// ---------------------------------------------------------------- back-ends

void RelayCore::on_back_accept() {
  // The back-end that connects goes to the session that has waited longest.
  RelaySession* oldest = nullptr;
  for (auto& s : slots)
    if (s && s->state == SessionState::BackendWaiting && (!oldest || s->number < oldest->number))
      oldest = s.get();
  if (oldest == nullptr) return;
  int err = 0;
  UniqueFd fd = accept_unix(back_listen.fd(), err);
  if (!fd) {
    if (err != EAGAIN && err != ECONNABORTED)
      log(LogLevel::Error,
          "cannot accept a back-end on '" + opt.backend.path + "': " + errno_text(err));
    return;
  }
  std::string description =
      "back-end" + peer_pid_note(fd.get()) + " connected on '" + opt.backend.path + "'";
  oldest->activate(std::move(fd), std::move(description));
  update_waiting();
}

void RelayCore::on_retry_tick() {
  if (frontend_connecting) try_connect_frontend();
  if (gated && !standby) try_standby();
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i] && slots[i]->waiting_for_backend()) slots[i]->on_retry_tick();
  update_waiting();
}

// ---------------------------------------------------------------- back-end availability

// Why refuse rather than accept and close: a front-end that connects starts the protocol at
// once (QEMU sends GET_FEATURES), and QEMU 7.2's vhost-user-blk does not recover from a
// connection that closes during that first exchange ("vhost_backend_init failed: Protocol
// error", no further reconnect), whereas a refused connect is what it retries on. Only the
// socket the front-end connects to can be closed, so this needs --frontend-listen; and only a
// back-end the proxy connects to can be probed without waiting for it.
bool RelayCore::gate_applies() const {
  return opt.frontend.mode == EndpointMode::Listen && opt.backend.mode == EndpointMode::Connect &&
         !stopping && !finished;
}

// The back-end's closing connection can be seen before the rest of a dying back-end is gone
// (its listening socket closes a moment later in the same exit), so the probe waits this long.
constexpr std::chrono::milliseconds kLossProbeDelay{100};

void RelayCore::on_backend_lost(uint32_t number) {
  if (!gate_applies() || gated) return;
  gated = true;
  gone_confirmed = false;
  gated_since = Clock::now();
  probe_after = gated_since + kLossProbeDelay;
  lost_session = number;
  set_listen(front_listen, kTokFrontListen, false, front_listen_registered);
  front_listen.stop_listening();
  update_waiting();
}

void RelayCore::close_gate(const std::string& why) {
  if (!gate_applies()) return;
  if (!gated) gated_since = probe_after = Clock::now();
  gated = true;
  gone_confirmed = true;
  set_listen(front_listen, kTokFrontListen, false, front_listen_registered);
  front_listen.stop_listening();
  log(LogLevel::Info, why);
  update_waiting();
}

bool RelayCore::listen_again() {
  std::string error;
  ListenSocket again = ListenSocket::create(opt.frontend.path, error);
  if (!again.valid()) {
    log(LogLevel::Error, "cannot accept front-ends again: " + error + "; stopping");
    exit_code = 1;
    finished = true;
    return false;
  }
  front_listen = std::move(again);
  set_listen(front_listen, kTokFrontListen, true, front_listen_registered);
  return true;
}

void RelayCore::try_standby() {
  if (Clock::now() < probe_after) return;
  UniqueFd fd;
  int err = 0;
  if (connect_unix(opt.backend.path, fd, err) != ConnectStatus::Connected) {
    if (gone_confirmed) return;
    // Gone: recorded in the session that lost it, at the moment it is known.
    const std::string why = "back-end at '" + opt.backend.path + "' unreachable (" +
                            errno_text(err) +
                            ") after it closed the session: the front-end socket refuses "
                            "connections until it is back";
    Record r;
    r.kind = RecordKind::Error;
    r.channel = Channel::Frontend;
    r.direction = Direction::ToFrontend;
    r.session = lost_session;
    r.timestamp_ns = realtime_ns();
    r.bytes.assign(why.begin(), why.end());
    emit(r);
    close_gate(why);
    return;
  }
  if (!gone_confirmed) {
    // Alive: it closed that one connection and serves the next. The probe goes (the back-end
    // sees a connection without messages) and front-ends are accepted again.
    gated = false;
    if (listen_again()) update_waiting();
    return;
  }
  // Back: held for the next front-end and watched meanwhile; a back-end that drops it is gone
  // again.
  epoll_event ev{};
  ev.events = EPOLLRDHUP;
  ev.data.u64 = make_token(0, kTokStandby);
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) return;
  const std::string down = seconds_text(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - gated_since));
  standby_description = "connected to back-end" + peer_pid_note(fd.get()) + " at '" +
                        opt.backend.path + "' when it came back (unreachable for " + down + ")";
  standby = std::move(fd);
  if (!listen_again()) return;
  log(LogLevel::Info, "back-end at '" + opt.backend.path + "' is back after " + down +
                          "; accepting front-ends on '" + opt.frontend.path + "' again");
  update_waiting();
}

void RelayCore::drop_standby(std::string_view why) {
  if (!standby) return;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, standby.get(), nullptr);
  standby.reset();
  close_gate(std::string(why) + "; the front-end socket refuses connections until it is back");
}

UniqueFd RelayCore::take_standby(std::string& description) {
  if (!standby) return {};
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, standby.get(), nullptr);
  description = std::move(standby_description);
  // The back-end is reached again: a later loss closes the gate anew.
  gated = false;
  update_waiting();
  return std::move(standby);
}

}  // namespace vhs
