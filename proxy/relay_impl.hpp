// The relay core (Relay::Impl) and its sessions (RelaySession). The core owns the epoll loop, the
// listening/connecting on both sides, the timers, the sinks and the command queue; each accepted
// front-end connection is a RelaySession with its own back-end connection, session number,
// back-end channel interposition, framing and fds (RelayFlow/MessageReader), and its own parts,
// which it drives through a narrow interface and which act back only through RelayServices:
//   ring_sampling.hpp      live ring sampling (RingSampler + its timer)
//   notify_interposer.hpp  --interpose-notify eventfds
//   debugger.hpp           breakpoints, holds, injections, step/continue
// The command queue (command_queue.hpp) hands ctl lines from other threads to the core, which
// routes each to a session's debugger (relay_commands.cpp).
// Shared by relay.cpp (core: lifecycle, connections), relay_session.cpp (a session's lifecycle),
// relay_messages.cpp (per message) and relay_commands.cpp. Not part of the public API.
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

// An epoll token: bits 0-7 the TokenId, 8-23 the slot of the session the fd belongs to (0: the
// core), 24-63 the cookie a part gave RelayServices::watch().
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
  kTokStandby,    // a back-end connection held for the next front-end (see RelayCore::gated)
  kTokPart = 32,  // kTokPart + n: the n-th FdHandler of the core or of a session
};
inline constexpr uint8_t kMaxFdHandlers = 16;
inline constexpr unsigned kTokSlotShift = 8;
inline constexpr unsigned kTokCookieShift = 24;
static_assert(64 - kTokCookieShift == RelayServices::kCookieBits);
// Slot 0 is the core's, slot 1 the session template's; live sessions take the others.
inline constexpr uint32_t kMaxSlots = 1u << (kTokCookieShift - kTokSlotShift);

inline uint64_t make_token(uint32_t slot, uint8_t id, uint64_t cookie = 0) {
  return (cookie << kTokCookieShift) | (uint64_t{slot} << kTokSlotShift) | id;
}

enum class SessionState : uint8_t {
  Template,           // never connected: holds the ctl policy new sessions start from
  BackendConnecting,  // front-end here; retrying to connect to the back-end
  BackendWaiting,     // front-end here; waiting for the back-end to connect to us
  Active,             // relaying
  Ended,              // over; destroyed after the current batch of events
};

// The fds of one owner (the core or a session) that its parts watch in the loop.
class HandlerTable {
 public:
  // The slot of `handler` in the table (added if new); -1 when the table is full.
  int slot_of(FdHandler& handler);
  FdHandler* at(size_t index) const {
    return index < handlers_.size() ? handlers_[index] : nullptr;
  }

 private:
  std::vector<FdHandler*> handlers_;
};

struct RelaySession;

// The core's state and loop. Relay::Impl is this (relay.hpp keeps the name private; the
// sessions name the core by this type).
struct RelayCore : FdWatcher {
  using Clock = std::chrono::steady_clock;

  explicit RelayCore(RelayOptions o);
  ~RelayCore();
  // Event loop, timers, command queue and session template; false and `error` set on failure.
  bool set_up(std::string& error);

  // --- lifecycle and connections (relay.cpp)
  int run();
  void dispatch(uint64_t token, uint32_t events);
  void start_frontend();
  void on_front_accept();
  void on_back_accept();
  void on_retry_tick();
  void try_connect_frontend();
  void start_session(UniqueFd front, std::string description);
  // Called by a session when it ended: the next front-end (connect mode), listen and retry state.
  void session_ended(RelaySession& session);
  void reap_ended();
  void update_waiting();  // back-end listening socket and retry timer follow the sessions
  void set_listen(ListenSocket& sock, TokenId id, bool on, bool& registered);
  // Whole messages left in the read buffers of `only` (all live sessions when null).
  void relay_buffered(RelaySession* only);
  RelaySession* session_in_slot(uint32_t slot) const;

  // --- back-end availability (relay.cpp). With --frontend-listen and --backend-connect, once the
  // back-end was reached, a back-end that goes away closes the front-end socket (the file stays,
  // connecting to it is refused) until a connection to the back-end succeeds again; that
  // connection is held ("standby") for the next front-end. QEMU's `reconnect=` then meets what
  // it meets without the proxy: refused connects while the back-end is down, a working one after.
  bool gate_applies() const;
  // Session `number` lost its back-end (it closed or failed). The front-end socket stops
  // listening at once; a probe a little later tells a back-end that is gone (the refusal is then
  // recorded in that session) from one that only closed this connection (listening resumes).
  void on_backend_lost(uint32_t number);
  // The back-end is known to be gone: refuse front-ends until a connection to it succeeds.
  void close_gate(const std::string& why);
  void try_standby();
  void drop_standby(std::string_view why);
  // The standby connection for a new session (invalid if none); `description` says where it is.
  UniqueFd take_standby(std::string& description);
  bool listen_again();

  // --- records (relay_messages.cpp)
  void emit(const Record& record);
  void log(LogLevel level, std::string_view text);
  void on_flush_timer();
  void flush_now();

  // --- ctl commands (relay_commands.cpp)
  std::string run_command(std::string_view line);

  // --- FdWatcher: the core's own parts (the command queue)
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
  bool retry_armed = false;
  std::vector<RecordSink*> sinks;
  std::vector<std::function<void()>> flushes;
  HandlerTable handlers;  // the core's parts

  bool stopping = false;
  bool finished = false;  // run() is about to return
  int exit_code = 0;
  bool had_session = false;
  bool frontend_connecting = false;  // connect mode: retrying to reach the listening front-end
  Clock::time_point frontend_deadline;
  uint32_t last_session_number = 0;
  // Back-end availability (see gate_applies): reached at least once; the front-end socket is
  // closed because the back-end went away; the connection held for the next front-end.
  bool backend_reached = false;
  bool gated = false;
  bool gone_confirmed = false;  // a probe was refused (false: provisional, after a loss)
  Clock::time_point gated_since, probe_after;
  uint32_t lost_session = 0;  // the session whose back-end went away (gets the refusal record)
  UniqueFd standby;
  std::string standby_description;

  // Index = slot. [0] is the core's (null), [1] the template; a slot is reused only after the
  // batch of events it ended in, so a stale event never reaches a newer session.
  std::vector<std::unique_ptr<RelaySession>> slots;
  bool any_ended = false;
  // ctl lines that changed breakpoints, injections or notification holds for every session:
  // each new session replays them after the command line's own breakpoints and injections.
  std::vector<std::string> policy_lines;

  bool dirty = false;
  bool flush_armed = false;
  std::unique_ptr<CommandQueue> commands;

  std::atomic<uint64_t> stat_sessions{0}, stat_messages{0}, stat_bytes{0}, stat_errors{0};
};

struct Relay::Impl final : RelayCore {
  using RelayCore::RelayCore;
};

struct RelaySession final : RelayServices {
  using Clock = std::chrono::steady_clock;

  RelaySession(RelayCore& core, uint32_t slot, uint32_t number, SessionState state);
  ~RelaySession();
  // The parts (`sample`: with ring sampling when the options ask for it); false and `error` set
  // on failure.
  bool set_up(bool sample, std::string& error);
  bool live() const { return state != SessionState::Template && state != SessionState::Ended; }
  bool waiting_for_backend() const {
    return state == SessionState::BackendConnecting || state == SessionState::BackendWaiting;
  }

  // --- lifecycle (relay_session.cpp)
  void begin(UniqueFd front, std::string description);
  void try_connect_backend();
  void on_retry_tick();
  void activate(UniqueFd back, std::string description);
  void fail_backend(const std::string& why);
  void record_unrelayed_requests();
  // `flags` go on the Disconnect record (kRecordClosedByProxy when no peer hung up).
  void end(Direction closer, std::string_view reason, uint16_t flags = 0);
  void update_interest(RelayConn& conn);
  void unregister(RelayConn& conn);
  void on_part_event(uint8_t id, uint64_t cookie);

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
  void emit_text(RecordKind kind, Channel channel, Direction direction, std::string_view text,
                 uint16_t flags = 0);

  // --- RelayServices
  uint32_t session() const override { return number; }
  bool relaying() const override { return state == SessionState::Active; }
  uint64_t generation() const override { return generation_number; }
  void emit(const Record& record) override { core.emit(record); }
  void log(LogLevel level, std::string_view text) override { core.log(level, text); }
  void note_dropped() override;
  void session_error(Channel channel, Direction direction, const std::string& text) override;
  std::span<RelayFlow* const> flows() override { return all_flows; }
  void send_on(RelayFlow& flow) override { push(flow); }
  void refresh_interest(RelayFlow& flow) override;
  void set_debugging(bool on) override { debugging = on; }
  uint64_t next_hold_order() override { return ++hold_counter; }
  bool watch(int fd, FdHandler& handler, uint64_t cookie) override;
  void unwatch(int fd) override;

  RelayCore& core;
  const uint32_t slot;
  const uint32_t number;
  SessionState state;
  Clock::time_point deadline;
  std::string front_description;
  uint64_t generation_number = 0;  // changes when the session ends
  HandlerTable handlers;           // the session's parts

  RelayConn front, back, chan_front, chan_back;
  RelayFlow to_back{Channel::Frontend, Direction::ToBackend, &front, &back};
  RelayFlow to_front{Channel::Frontend, Direction::ToFrontend, &back, &front};
  RelayFlow chan_to_front{Channel::Backend, Direction::ToFrontend, &chan_back, &chan_front};
  RelayFlow chan_to_back{Channel::Backend, Direction::ToBackend, &chan_front, &chan_back};
  const std::array<RelayFlow*, 4> all_flows{&to_back, &to_front, &chan_to_back, &chan_to_front};

  Record meta;  // Connect / Disconnect / Error records

  // The parts (null when off); the session knows them only by these interfaces.
  std::unique_ptr<RingSampling> rings;
  std::unique_ptr<NotifyInterposer> notify;
  std::unique_ptr<Debugger> debugger;
  // The debugger's per-message hooks run (one predictable branch per message when false).
  bool debugging = false;
  uint64_t hold_counter = 0;
};

}  // namespace vhs
