// `--interpose-notify` as a part of the relay: SET_VRING_KICK / CALL / ERR get an eventfd of the
// proxy in place of the front-end's; the part watches the writer's eventfd in the core's loop,
// writes every notification on and records it (Notify records). Owns the NotifyTable (every
// interposed eventfd pair) and the notification holds of step debugging.
//
// Core events it sees: every message before it is sent (to substitute an eventfd, or to tear a
// queue's pair down on a GET_VRING_BASE reply or a reset), the point right after the message's
// own record (its Notify records follow it), and the end of each session. The debugger reaches
// its holds through NotifyHolds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/relay_services.hpp"

namespace vhs {

// Step debugging of notifications: per queue and source, notifications counted, not written on.
class NotifyHolds {
 public:
  // "hold" / "unhold" with "kick|call|err QUEUE"; the answer line ("ok\n" or "error: ...\n").
  virtual std::string command(std::string_view verb, std::string_view arg) = 0;
  // Releases one notification held before `older_than` (a hold order), the oldest; false: none.
  virtual bool step(uint64_t older_than) = 0;
  virtual void release_all() = 0;
  // "held: session 1, queue 0 kick, 3 notifications\n" per held queue, oldest first.
  virtual std::string held_lines() = 0;
  // "notify holds: kick 0, call 1\n" ("none" when nothing is set).
  virtual std::string holds_line() = 0;

 protected:
  ~NotifyHolds() = default;
};

class NotifyInterposer {
 public:
  // `before_forward` (may be empty) runs right before a kick or call of a queue is written on.
  static std::unique_ptr<NotifyInterposer> create(
      RelayServices& relay, std::function<void(uint32_t queue)> before_forward = {});
  virtual ~NotifyInterposer() = default;

  // A message about to be sent (recorded, fds open). True when the part has called begin_send()
  // with its own eventfd in place of the front-end's.
  virtual bool on_message(RelayFlow& flow) = 0;
  // Right after the message's record: the Notify records it caused.
  virtual void emit_deferred() = 0;
  // Session over: every pair closed without delivering (both peers are gone).
  virtual void on_session_end() = 0;
  virtual NotifyHolds& holds() = 0;
};

}  // namespace vhs
