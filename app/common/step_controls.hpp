// View-model of the GUI's step-debugging controls (docs/step.md, docs/gui.md): what is held, the
// breakpoints and injections, which buttons make sense, and the control-protocol lines they send.
// It talks to the relay only through a command function (the GUI passes Relay::debug_command),
// so it never touches a socket and is testable against a real relay without a window.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "captures/model/store.hpp"

namespace vhs::view {

// The parsed answer to "status".
struct DebugStatus {
  std::vector<std::string> held;  // one per held message, oldest first, without "held: "
  std::vector<std::string>
      breakpoints;  // canonical names ("SET_VRING_KICK", "finding:size-mismatch")
  std::vector<std::string> injections;  // specs ("drop:SET_VRING_CALL")
};

// false (and `error` set) for an "error: ..." answer or text that is not a status answer.
bool parse_debug_status(std::string_view answer, DebugStatus& out, std::string& error);

// The breakpoint name for the selected entry: the request name of a request, or of the request a
// reply answers; "" for anything else (connect records, unknown request numbers).
std::string break_target(const Store& store, uint32_t entry);

// The store entries of the messages a status lists as held (a held message is recorded before
// it is held, and its flow reads nothing more until it is released, so it is the newest message
// of its session, channel and direction). Held notifications and lines that name no message are
// skipped. The timeline uses it to show that what a held message implies (a ring start's
// DRIVER_OK) has not reached the peer yet.
std::vector<uint32_t> held_message_entries(const Store& store, const DebugStatus& status);

class StepControls {
 public:
  using Send = std::function<std::string(std::string_view)>;

  // Asks for status when `force` or at least `interval_ms` after the last poll (the GUI calls
  // this every frame with its clock; a poll is a round trip to the relay thread).
  void refresh(const Send& send, uint64_t now_ms, bool force = false, uint64_t interval_ms = 250);

  // The button actions; each sends one command, keeps its answer (last_answer()) and forces the
  // next refresh. false when the relay answered with an error.
  bool step(const Send& send) { return command(send, "step"); }
  bool resume(const Send& send) { return command(send, "continue"); }
  bool add_break(const Send& send, std::string_view name) {
    return command(send, "break " + std::string(name));
  }
  bool delete_break(const Send& send, std::string_view name) {
    return command(send, "delete " + std::string(name));
  }

  const DebugStatus& status() const { return status_; }
  // "ok", or the relay's error without the "error: " prefix, of the last action; "" before any.
  const std::string& last_answer() const { return last_answer_; }
  const std::string& status_error() const { return status_error_; }

  bool can_step() const { return !status_.held.empty(); }
  bool has_break(std::string_view name) const;
  bool can_add_break(std::string_view name) const { return !name.empty() && !has_break(name); }

 private:
  bool command(const Send& send, const std::string& line);
  DebugStatus status_;
  std::string last_answer_, status_error_;
  uint64_t last_poll_ms_ = 0;
  bool polled_ = false;
  bool force_ = false;
};

}  // namespace vhs::view
