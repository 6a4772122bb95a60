// Internal state of the Relay (shared by relay.cpp: lifecycle and connections, and
// relay_messages.cpp: per-message handling). Not part of the public API.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "captures/format/record.hpp"
#include "decoders/session/session.hpp"
#include "proxy/hold_policy.hpp"
#include "proxy/inject_policy.hpp"
#include "proxy/notify_relay.hpp"
#include "proxy/relay.hpp"
#include "proxy/relay_flow.hpp"
#include "proxy/ring_sampler.hpp"
#include "proxy/unique_fd.hpp"
#include "proxy/unix_socket.hpp"

namespace vhs {

// Low byte of an epoll token. Connection tokens also carry the session generation in the upper
// bits, so an event queued for a connection of a session that just ended is recognised as stale.
enum TokenId : uint8_t {
  kTokStop = 1,
  kTokFlushTimer,
  kTokRetryTimer,
  kTokFrontListen,
  kTokBackListen,
  kTokFront,         // front-end channel, front-end side
  kTokBack,          // front-end channel, back-end side
  kTokChanFront,     // back-end channel: the front-end's socketpair end (from SET_BACKEND_REQ_FD)
  kTokChanBack,      // back-end channel: our socketpair end, paired with the one the back-end got
  kTokCommand = 32,  // step-debugging commands queued by other threads (relay_hold.cpp)
  kTokSampleTimer,   // ring sampling period (relay_rings.cpp)
  kTokDelayTimer,    // injected delays (relay_inject.cpp)
  kTokNotify = 48,   // an interposed eventfd (relay_notify.cpp); the token carries slot and serial
};

enum class RelayState : uint8_t {
  Idle,                // listening for a front-end
  FrontendConnecting,  // retrying to connect to a listening front-end
  BackendConnecting,   // front-end here; retrying to connect to the back-end
  BackendWaiting,      // front-end here; waiting for the back-end to connect to us
  Active,              // relaying
  Finished,            // run() is about to return
};

struct Relay::Impl {
  using Clock = std::chrono::steady_clock;

  explicit Impl(RelayOptions o);

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
  void close_backend_channel(Direction closer, std::string_view reason);
  RelayFlow& inflow(RelayConn& conn);
  RelayFlow& outflow(RelayConn& conn);
  std::string describe_message(const RelayFlow& flow) const;

  // --- live ring sampling (relay_rings.cpp)
  void on_ring_message(RelayFlow& flow);
  void emit_ring_state(std::span<const uint8_t> payload);
  void on_sample_timer();
  void update_sample_timer();
  void end_ring_session();

  // --- interposed notifications (relay_notify.cpp)
  void notify_setup();
  bool notify_substitute(RelayFlow& flow);  // true: begin_send() done with the proxy's eventfd
  bool notify_interpose(RelayFlow& flow, NotifySource source);
  void emit_notify_pending();
  void on_notify_event(uint64_t token);
  void notify_watch(uint32_t index, bool retired, bool on);
  void notify_forward(uint32_t index, uint64_t count);
  void notify_release(uint32_t index, uint64_t count);
  void notify_drain(uint32_t index, bool retired);
  void notify_teardown(uint32_t index, bool deliver);
  void notify_end_session();
  void notify_emit(uint32_t index, NotifyEvent event, uint64_t count,
                   std::span<const FdInfo> fds = {});
  std::string notify_command(std::string_view verb, std::string_view arg);  // hold / unhold
  bool notify_step(uint64_t older_than);  // releases one held notification held before that order
  void notify_continue();
  std::string notify_status();
  std::string notify_holds_line();

  // --- records and logging
  void emit(const Record& record);
  void emit_text(RecordKind kind, Channel channel, Direction direction, std::string_view text,
                 uint16_t flags = 0);
  void log(LogLevel level, std::string_view text);
  void session_error(Channel channel, Direction direction, const std::string& text);
  void on_flush_timer();
  void flush_now();

  // --- step debugging (relay_hold.cpp)
  bool hold_message(RelayFlow& flow);  // true: the message is held, not sent
  void on_command();
  std::string run_command(std::string_view line);
  void release(RelayFlow& flow);
  // --- fault injection (relay_inject.cpp)
  // Before the message is recorded: true when it was dropped (recorded, fds closed, not relayed);
  // a replaced reply is recorded and swapped for the injected one; `flags` gets kRecordInjected
  // for what goes on with an injection (replaced or delayed).
  bool inject_message(RelayFlow& flow, uint16_t& flags);
  // After the breakpoint check: true when the message now waits for its injected delay.
  bool delay_message(RelayFlow& flow);
  void on_delay_timer();
  void arm_delay_timer();
  // Lazily disarm the debugging path once nothing needs it.
  void update_armed();

  // Finding breakpoints: decodes the flow's message and feeds the session analyser; the finding a
  // breakpoint stops at, or nullptr. Only called while such a breakpoint is set.
  const Finding* analyse(RelayFlow& flow);
  // Starts (or drops) the analyser to match the breakpoints; `from_start`: no message of the
  // session has been relayed yet.
  void update_analyser(bool from_start);

  RelayOptions opt;
  UniqueFd epoll;
  UniqueFd stop_event;
  UniqueFd flush_timer;
  UniqueFd retry_timer;
  ListenSocket front_listen;
  ListenSocket back_listen;
  bool front_listen_registered = false;
  bool back_listen_registered = false;
  std::vector<RecordSink*> sinks;
  std::vector<std::function<void()>> flushes;
  uint32_t set_backend_req_fd = 0;  // request number, from the registry
  bool interpose = false;

  RelayState state = RelayState::Idle;
  bool stopping = false;
  int exit_code = 0;
  bool had_session = false;
  uint32_t session = 0;
  uint64_t generation = 0;
  Clock::time_point deadline;
  int last_connect_errno = 0;
  std::string front_description;

  RelayConn front, back, chan_front, chan_back;
  RelayFlow to_back{Channel::Frontend, Direction::ToBackend, &front, &back};
  RelayFlow to_front{Channel::Frontend, Direction::ToFrontend, &back, &front};
  RelayFlow chan_to_front{Channel::Backend, Direction::ToFrontend, &chan_back, &chan_front};
  RelayFlow chan_to_back{Channel::Backend, Direction::ToBackend, &chan_front, &chan_back};

  Record meta;                           // Connect / Disconnect / Error records
  std::unique_ptr<RingSampler> sampler;  // null when sampling is off
  UniqueFd sample_timer;
  bool sample_armed = false;
  Record ring_record;  // RingState records (reused)
  bool dirty = false;
  bool flush_armed = false;

  HoldPolicy holds;
  InjectPolicy injects;
  // A breakpoint or an injection is set, or a flow is stopped or delayed: the per-message
  // debugging path runs (one predictable branch when false).
  bool hold_armed = false;
  UniqueFd delay_timer;
  uint64_t hold_counter = 0;
  std::unique_ptr<SessionAnalyser> analyser;  // only while a finding breakpoint is set
  MessageRef analysed = 0;
  std::vector<Finding> hold_findings;  // reused per analysed message
  UniqueFd command_event;
  std::mutex command_mutex;
  std::deque<std::shared_ptr<std::promise<std::string>>> command_replies;
  std::deque<std::string> command_lines;

  NotifyTable notify;
  uint64_t notify_serial = 0;
  std::array<uint32_t, kNotifySources> notify_requests{};  // SET_VRING_KICK / CALL / ERR
  uint32_t get_vring_base = 0, reset_owner = 0, reset_device = 0;
  Record notify_record;       // reused: no allocation per notification
  bool notify_defer = false;  // inside notify_substitute(): records wait for the message's own
  std::vector<Record> notify_pending;

  std::atomic<uint64_t> stat_sessions{0}, stat_messages{0}, stat_bytes{0}, stat_errors{0};
};

uint64_t realtime_ns();
// Copies the message in the flow's reader into its reused record.
void fill_record(RelayFlow& flow, uint32_t session, uint16_t flags);
// "front-end" / "back-end": the side that wrote a message travelling in `d`.
std::string_view writer_side(Direction d);

}  // namespace vhs
