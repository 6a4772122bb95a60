// Relay core lifecycle: sockets, the epoll loop, sessions, connecting and accepting peers, the
// parts' fds in the loop. Message handling is in relay_messages.cpp.
#include "proxy/relay.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "proxy/relay_impl.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

constexpr int kMaxEvents = 16;

uint64_t token(uint64_t generation, TokenId id) { return (generation << 8) | id; }

void drain(int fd) {
  uint64_t value;
  while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

std::string seconds_text(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

std::string pid_note(int fd) {
  pid_t pid = peer_pid(fd);
  return pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string();
}

}  // namespace

Relay::Impl::Impl(RelayOptions o) : opt(std::move(o)) {
  front.id = kTokFront;
  back.id = kTokBack;
  chan_front.id = kTokChanFront;
  chan_back.id = kTokChanBack;
}

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

bool Relay::Impl::set_up(std::string& error) {
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
    ev.data.u64 = id;
    return ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  if (!add(stop_event.get(), kTokStop) || !add(flush_timer.fd(), kTokFlushTimer) ||
      !add(retry_timer.fd(), kTokRetryTimer)) {
    error = "cannot set up the event loop: " + errno_text(errno);
    return false;
  }
  if (opt.interpose_notify) notify = NotifyInterposer::create(*this);
  debugger = Debugger::create(*this, notify ? &notify->holds() : nullptr, opt, error);
  if (!debugger) return false;
  commands = CommandQueue::create(
      *this, [d = debugger.get()](std::string_view line) { return d->run_command(line); }, error);
  if (!commands) return false;
  if (opt.sample_interval.count() > 0) {
    rings = RingSampling::create(*this, opt.device, opt.sample_interval, error);
    if (!rings) return false;
  }
  return true;
}

bool Relay::Impl::watch(int fd, FdHandler& handler, uint64_t cookie) {
  auto it = std::find(fd_handlers.begin(), fd_handlers.end(), &handler);
  if (it == fd_handlers.end()) {
    if (fd_handlers.size() == kMaxFdHandlers) {
      errno = ENOSPC;
      return false;
    }
    it = fd_handlers.insert(fd_handlers.end(), &handler);
  }
  const auto slot = static_cast<uint8_t>(it - fd_handlers.begin());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = (cookie << 8) | static_cast<uint8_t>(kTokPart + slot);
  return ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void Relay::Impl::unwatch(int fd) { ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr); }

// ---------------------------------------------------------------- event loop

int Relay::Impl::run() {
  state = RelayState::Idle;
  start_frontend();
  epoll_event events[kMaxEvents];
  while (!stopping && state != RelayState::Finished) {
    int n = ::epoll_wait(epoll.get(), events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log(LogLevel::Error, "event loop failed: " + errno_text(errno));
      exit_code = 1;
      break;
    }
    for (int i = 0; i < n && !stopping; ++i) {
      dispatch(events[i].data.u64, events[i].events);
      // Whatever unblocked a flow (a send, `step`, a delay timer) may have left whole messages in
      // its read buffer, which no epoll event will announce.
      if (!stopping) relay_buffered();
    }
  }
  if (state == RelayState::BackendConnecting || state == RelayState::BackendWaiting)
    emit_text(RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
              front_description + "; no back-end yet");
  if (state == RelayState::Active || state == RelayState::BackendConnecting ||
      state == RelayState::BackendWaiting)
    end_session(Direction::ToBackend, "recorder stopped; proxy closed both sides",
                kRecordClosedByProxy);
  arm_retry(false);
  set_listen(front_listen, kTokFrontListen, false, front_listen_registered);
  set_listen(back_listen, kTokBackListen, false, back_listen_registered);
  front_listen.close();
  back_listen.close();
  flush_now();
  state = RelayState::Finished;
  return exit_code;
}

void Relay::Impl::dispatch(uint64_t tok, uint32_t events) {
  auto id = static_cast<TokenId>(tok & 0xff);
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
    default:
      if (id >= kTokPart) {
        const size_t slot = id - kTokPart;
        if (slot < fd_handlers.size()) fd_handlers[slot]->on_ready(tok >> 8);
        return;
      }
      // Stale: queued before the session it belongs to ended.
      if ((tok >> 8) != generation_number) return;
      on_conn_event(id, events);
      return;
  }
}

// ---------------------------------------------------------------- epoll registration

void Relay::Impl::set_listen(ListenSocket& sock, TokenId id, bool on, bool& registered) {
  if (!sock.valid() || on == registered) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id;
  ::epoll_ctl(epoll.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, sock.fd(), &ev);
  registered = on;
}

void Relay::Impl::update_interest(RelayConn& conn) {
  if (!conn.fd) return;
  // Read only when the previous message from this socket is gone (one message in flight per
  // direction); wait for writability only while a message to this socket is stuck.
  uint32_t want = 0;
  if (!inflow(conn).sending()) want |= EPOLLIN;
  if (outflow(conn).pushing()) want |= EPOLLOUT;
  if (want == conn.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = token(generation_number, static_cast<TokenId>(conn.id));
  // With no interest at all the socket leaves the set: EPOLLHUP would be reported regardless.
  int op = want == 0 ? EPOLL_CTL_DEL : conn.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  ::epoll_ctl(epoll.get(), op, conn.fd.get(), &ev);
  conn.events = want;
}

void Relay::Impl::unregister(RelayConn& conn) {
  // Explicit: a passed-in socket may share its file description with the peer, and epoll only
  // forgets a registration when the last reference to the description goes away.
  if (conn.fd && conn.events != 0) ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, conn.fd.get(), nullptr);
  conn.events = 0;
}

void Relay::Impl::refresh_interest(RelayFlow& flow) {
  update_interest(flow.src());
  update_interest(flow.dst());
}

void Relay::Impl::arm_retry(bool on) {
  if (on)
    retry_timer.arm_periodic(opt.retry_interval);
  else
    retry_timer.disarm();
}

// ---------------------------------------------------------------- sessions

void Relay::Impl::start_frontend() {
  if (opt.frontend.mode == EndpointMode::Listen) {
    state = RelayState::Idle;
    set_listen(front_listen, kTokFrontListen, true, front_listen_registered);
    return;
  }
  state = RelayState::FrontendConnecting;
  deadline = Clock::now() + opt.connect_timeout;
  try_connect_frontend();
  if (state == RelayState::FrontendConnecting) arm_retry(true);
}

void Relay::Impl::on_front_accept() {
  if (state != RelayState::Idle) return;
  int err = 0;
  UniqueFd fd = accept_unix(front_listen.fd(), err);
  if (!fd) {
    if (err != EAGAIN && err != ECONNABORTED)
      log(LogLevel::Error,
          "cannot accept a front-end on '" + opt.frontend.path + "': " + errno_text(err));
    return;
  }
  std::string description =
      "front-end" + pid_note(fd.get()) + " connected on '" + opt.frontend.path + "'";
  set_listen(front_listen, kTokFrontListen, false, front_listen_registered);
  begin_session(std::move(fd), std::move(description));
}

void Relay::Impl::try_connect_frontend() {
  UniqueFd fd;
  int err = 0;
  ConnectStatus s = connect_unix(opt.frontend.path, fd, err);
  if (s == ConnectStatus::Connected) {
    arm_retry(false);
    std::string description =
        "connected to front-end" + pid_note(fd.get()) + " at '" + opt.frontend.path + "'";
    begin_session(std::move(fd), std::move(description));
    return;
  }
  if (s == ConnectStatus::Retry && Clock::now() < deadline) return;
  arm_retry(false);
  state = RelayState::Finished;
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

void Relay::Impl::begin_session(UniqueFd fd, std::string description) {
  ++session_number;
  had_session = true;
  debugger->on_session_begin();
  stat_sessions.fetch_add(1, std::memory_order_relaxed);
  front.fd = std::move(fd);
  front.events = 0;
  front_description = std::move(description);
  if (opt.backend.mode == EndpointMode::Connect) {
    state = RelayState::BackendConnecting;
    deadline = Clock::now() + opt.connect_timeout;
    try_connect_backend();
    if (state == RelayState::BackendConnecting) arm_retry(true);
  } else {
    state = RelayState::BackendWaiting;
    deadline = Clock::now() + opt.connect_timeout;
    set_listen(back_listen, kTokBackListen, true, back_listen_registered);
    arm_retry(true);
    on_back_accept();  // the back-end may already be waiting in the backlog
  }
}

void Relay::Impl::try_connect_backend() {
  UniqueFd fd;
  int err = 0;
  ConnectStatus s = connect_unix(opt.backend.path, fd, err);
  if (s == ConnectStatus::Connected) {
    arm_retry(false);
    std::string description =
        "connected to back-end" + pid_note(fd.get()) + " at '" + opt.backend.path + "'";
    activate(std::move(fd), std::move(description));
    return;
  }
  last_connect_errno = err;
  if (s == ConnectStatus::Retry && Clock::now() < deadline) return;
  arm_retry(false);
  fail_backend(sys_error("connect to back-end", opt.backend.path, err) +
               (s == ConnectStatus::Retry
                    ? " (gave up after " + seconds_text(opt.connect_timeout) + ")"
                    : ""));
}

void Relay::Impl::on_back_accept() {
  if (state != RelayState::BackendWaiting) return;
  int err = 0;
  UniqueFd fd = accept_unix(back_listen.fd(), err);
  if (!fd) {
    if (err != EAGAIN && err != ECONNABORTED)
      log(LogLevel::Error,
          "cannot accept a back-end on '" + opt.backend.path + "': " + errno_text(err));
    return;
  }
  arm_retry(false);
  set_listen(back_listen, kTokBackListen, false, back_listen_registered);
  std::string description =
      "back-end" + pid_note(fd.get()) + " connected on '" + opt.backend.path + "'";
  activate(std::move(fd), std::move(description));
}

void Relay::Impl::on_retry_tick() {
  switch (state) {
    case RelayState::FrontendConnecting: try_connect_frontend(); break;
    case RelayState::BackendConnecting: try_connect_backend(); break;
    case RelayState::BackendWaiting:
      if (Clock::now() >= deadline) {
        arm_retry(false);
        set_listen(back_listen, kTokBackListen, false, back_listen_registered);
        fail_backend("no back-end connected on '" + opt.backend.path + "' within " +
                     seconds_text(opt.connect_timeout));
      }
      break;
    default: arm_retry(false); break;
  }
}

void Relay::Impl::activate(UniqueFd fd, std::string description) {
  back.fd = std::move(fd);
  back.events = 0;
  state = RelayState::Active;
  std::string note = front_description + "; " + description;
  emit_text(RecordKind::Connect, Channel::Frontend, Direction::ToBackend, note);
  log(LogLevel::Info, "session " + std::to_string(session_number) + ": " + note);
  update_interest(front);
  update_interest(back);
}

void Relay::Impl::fail_backend(const std::string& why) {
  emit_text(RecordKind::Connect, Channel::Frontend, Direction::ToBackend,
            front_description + "; no back-end");
  session_error(Channel::Frontend, Direction::ToFrontend,
                why + "; closing the front-end connection");
  end_session(Direction::ToFrontend, "proxy closed the front-end connection: " + why,
              kRecordClosedByProxy);
}

void Relay::Impl::end_session(Direction closer, std::string_view reason, uint16_t flags) {
  if (chan_front.fd || chan_back.fd) close_backend_channel(closer, "session ended");
  if (rings) rings->on_session_end();
  if (notify) notify->on_session_end();
  emit_text(RecordKind::Disconnect, Channel::Frontend, closer, reason, flags);
  log(LogLevel::Info,
      "session " + std::to_string(session_number) + " ended: " + std::string(reason));
  to_back.reset();
  to_front.reset();
  debugger->on_session_end();
  unregister(front);
  unregister(back);
  front.fd.reset();
  back.fd.reset();
  // Events already queued for these sockets now carry a stale generation.
  ++generation_number;
  after_session();
}

void Relay::Impl::after_session() {
  arm_retry(false);
  set_listen(back_listen, kTokBackListen, false, back_listen_registered);
  if (stopping) {
    state = RelayState::Finished;
    return;
  }
  start_frontend();
}

}  // namespace vhs
