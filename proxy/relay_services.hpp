// What the relay core offers the parts it drives (ring sampling, notification interposer,
// debugger, command queue): the only way a part acts on the relay. A part never sees the core's
// sockets, epoll set or session state machine; it sends a held message on, asks for a flow's
// epoll interest to be refreshed, emits records, and watches its own fds in the core's loop.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "captures/format/record.hpp"
#include "proxy/relay.hpp"

namespace vhs {

class RelayFlow;

// A part's fd that the core's epoll loop watches (a timer, an eventfd). `cookie` is what the part
// gave watch(): it tells the part which of its fds fired.
class FdHandler {
 public:
  virtual ~FdHandler() = default;
  virtual void on_ready(uint64_t cookie) = 0;
};

// Watching fds in the core's epoll loop: what the core offers its own parts (the command queue)
// and every session offers its parts.
class FdWatcher {
 public:
  // Cookies carry at most this many bits (the rest of the epoll token names the session and the
  // handler).
  static constexpr unsigned kCookieBits = 40;

  // Adds `fd` (readable) to the core's loop; `handler.on_ready(cookie)` when it fires. False on
  // failure (errno set).
  virtual bool watch(int fd, FdHandler& handler, uint64_t cookie = 0) = 0;
  // Removes `fd` from the loop (explicitly: an fd sharing its file description with a peer's
  // would otherwise stay registered after we close our copy).
  virtual void unwatch(int fd) = 0;

 protected:
  ~FdWatcher() = default;
};

// One session's view of the relay: every part (ring sampling, notification interposer, debugger)
// belongs to exactly one session and sees only that session's flows and records.
class RelayServices : public FdWatcher {
 public:
  // --- the session
  // Number of this session, for records and log lines.
  virtual uint32_t session() const = 0;
  // True while both peers are connected and messages flow.
  virtual bool relaying() const = 0;
  // Changes when the session ends: a part looping over flows stops when it changed (a failed
  // send ends the session and resets every flow).
  virtual uint64_t generation() const = 0;

  // --- records and log
  virtual void emit(const Record& record) = 0;
  virtual void log(LogLevel level, std::string_view text) = 0;
  // A message was recorded but not relayed (an injected drop): counted in the stats.
  virtual void note_dropped() = 0;
  // An Error record of the session plus a log line, counted in the stats.
  virtual void session_error(Channel channel, Direction direction, const std::string& text) = 0;

  // --- the flows (debugger)
  // The four flows, always in this order: front-end channel to the back-end, to the front-end,
  // back-end channel to the back-end, to the front-end.
  virtual std::span<RelayFlow* const> flows() = 0;
  // Sends the flow's message on (or as much as the destination takes); may end the session.
  virtual void send_on(RelayFlow& flow) = 0;
  // The flow was held or released without sending: read and write interest follow its state.
  virtual void refresh_interest(RelayFlow& flow) = 0;
  // Turns the per-message debugging hooks on or off (one predictable branch per message when off).
  virtual void set_debugging(bool on) = 0;
  // Orders held messages and held notifications against each other (step releases the oldest).
  virtual uint64_t next_hold_order() = 0;

 protected:
  ~RelayServices() = default;
};

}  // namespace vhs
