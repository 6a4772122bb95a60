// The relay core (Relay::Impl): connections (listening/connecting on both sides, the back-end
// channel interposition), framing and fds (RelayFlow/MessageReader), records to the sinks,
// session numbering and the epoll loop. Everything else is a part the core drives through a
// narrow interface and that acts back only through RelayServices:
//   ring_sampling.hpp      live ring sampling (RingSampler + its timer)
//   notify_interposer.hpp  --interpose-notify eventfds
//   debugger.hpp           breakpoints, holds, injections, step/continue
//   command_queue.hpp      ctl command lines from other threads (the control server's relay side)
// Shared by relay.cpp (lifecycle, connections, services) and relay_messages.cpp (per message).
// Not part of the public API.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "captures/format/record.hpp"
#include "proxy/command_queue.hpp"
#include "proxy/debugger.hpp"
#include "proxy/notify_interposer.hpp"
#include "proxy/relay.hpp"
#include "proxy/relay_flow.hpp"
#include "proxy/relay_services.hpp"
#include "proxy/ring_sampling.hpp"
#include "proxy/timer_fd.hpp"
#include "proxy/unique_fd.hpp"
#include "proxy/unix_socket.hpp"

namespace vhs {

// Low byte of an epoll token. Connection tokens also carry the session generation in the upper
// bits, so an event queued for a connection of a session that just ended is recognised as stale;
// a part's token carries the cookie it gave RelayServices::watch().
enum TokenId : uint8_t {
  kTokStop = 1,
  kTokFlushTimer,
  kTokRetryTimer,
  kTokFrontListen,
  kTokBackListen,
  kTokFront,      // front-end channel, front-end side
  kTokBack,       // front-end channel, back-end side
  kTokChanFront,  // back-end channel: the front-end's socketpair end (from SET_BACKEND_REQ_FD)
  kTokChanBack,   // back-end channel: our socketpair end, paired with the one the back-end got
  kTokPart = 32,  // kTokPart + n: the n-th FdHandler of the parts
};
inline constexpr uint8_t kMaxFdHandlers = 16;

enum class RelayState : uint8_t {
  Idle,                // listening for a front-end
  FrontendConnecting,  // retrying to connect to a listening front-end
  BackendConnecting,   // front-end here; retrying to connect to the back-end
  BackendWaiting,      // front-end here; waiting for the back-end to connect to us
  Active,              // relaying
  Finished,            // run() is about to return
};

struct Relay::Impl final : RelayServices {
  using Clock = std::chrono::steady_clock;

  explicit Impl(RelayOptions o);
  // Event loop, timers and parts; false and `error` set on failure.
  bool set_up(std::string& error);

  // --- lifecycle and connections (relay.cpp)
  int run();
  void dispatch(uint64_t token, uint32_t events);
  void start_frontend();
  void on_front_accept();
  void on_back_accept();
  void on_retry_tick();
  void try_connect_frontend();
  void try_connect_backend();
  void begin_session(UniqueFd front, std::string description);
  void activate(UniqueFd back, std::string description);
  void fail_backend(const std::string& why);
  // `flags` go on the Disconnect record (kRecordClosedByProxy when no peer hung up).
  void end_session(Direction closer, std::string_view reason, uint16_t flags = 0);
  void after_session();
  void arm_retry(bool on);
  void set_listen(ListenSocket& sock, TokenId id, bool on, bool& registered);
  void update_interest(RelayConn& conn);
  void unregister(RelayConn& conn);

  // --- per message (relay_messages.cpp)
  void on_conn_event(TokenId id, uint32_t events);
  void on_readable(RelayFlow& flow);
  void relay_buffered();
  void on_message(RelayFlow& flow);
  void on_oversized(RelayFlow& flow);
  void on_closed(RelayFlow& flow, int err);
  void push(RelayFlow& flow);
  bool interpose_backend_channel(RelayFlow& flow);
  void close_backend_channel(Direction closer, std::string_view reason, uint16_t flags = 0);
  RelayFlow& inflow(RelayConn& conn);
  RelayFlow& outflow(RelayConn& conn);

  // --- records (relay_messages.cpp)
  void emit_text(RecordKind kind, Channel channel, Direction direction, std::string_view text,
                 uint16_t flags = 0);
  void on_flush_timer();
  void flush_now();

  // --- RelayServices (relay.cpp, records in relay_messages.cpp)
  uint32_t session() const override { return session_number; }
  bool relaying() const override { return state == RelayState::Active; }
  uint64_t generation() const override { return generation_number; }
  void emit(const Record& record) override;
  void log(LogLevel level, std::string_view text) override;
  void note_dropped() override;
  void session_error(Channel channel, Direction direction, const std::string& text) override;
  std::span<RelayFlow* const> flows() override { return all_flows; }
  void send_on(RelayFlow& flow) override { push(flow); }
  void refresh_interest(RelayFlow& flow) override;
  void set_debugging(bool on) override { debugging = on; }
  uint64_t next_hold_order() override { return ++hold_counter; }
  bool watch(int fd, FdHandler& handler, uint64_t cookie) override;
  void unwatch(int fd) override;

  RelayOptions opt;
  UniqueFd epoll;
  UniqueFd stop_event;
  TimerFd flush_timer;
  TimerFd retry_timer;
  ListenSocket front_listen;
  ListenSocket back_listen;
  bool front_listen_registered = false;
  bool back_listen_registered = false;
  std::vector<RecordSink*> sinks;
  std::vector<std::function<void()>> flushes;
  std::vector<FdHandler*> fd_handlers;  // index = token id - kTokPart

  RelayState state = RelayState::Idle;
  bool stopping = false;
  int exit_code = 0;
  bool had_session = false;
  uint32_t session_number = 0;
  uint64_t generation_number = 0;
  Clock::time_point deadline;
  int last_connect_errno = 0;
  std::string front_description;

  RelayConn front, back, chan_front, chan_back;
  RelayFlow to_back{Channel::Frontend, Direction::ToBackend, &front, &back};
  RelayFlow to_front{Channel::Frontend, Direction::ToFrontend, &back, &front};
  RelayFlow chan_to_front{Channel::Backend, Direction::ToFrontend, &chan_back, &chan_front};
  RelayFlow chan_to_back{Channel::Backend, Direction::ToBackend, &chan_front, &chan_back};
  const std::array<RelayFlow*, 4> all_flows{&to_back, &to_front, &chan_to_back, &chan_to_front};

  Record meta;  // Connect / Disconnect / Error records
  bool dirty = false;
  bool flush_armed = false;

  // The parts (null when off); the core knows them only by these interfaces.
  std::unique_ptr<RingSampling> rings;
  std::unique_ptr<NotifyInterposer> notify;
  std::unique_ptr<Debugger> debugger;
  std::unique_ptr<CommandQueue> commands;
  // The debugger's per-message hooks run (one predictable branch per message when false).
  bool debugging = false;
  uint64_t hold_counter = 0;

  std::atomic<uint64_t> stat_sessions{0}, stat_messages{0}, stat_bytes{0}, stat_errors{0};
};

}  // namespace vhs
