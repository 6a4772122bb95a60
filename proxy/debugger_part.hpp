// Inside of the relay's debugger part (debugger.hpp): shared by debugger.cpp (breakpoints and
// holding), debugger_inject.cpp (injections and delays) and debugger_commands.cpp (ctl commands).
// Nothing outside these three files includes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/session/session.hpp"
#include "proxy/debugger.hpp"
#include "proxy/hold_policy.hpp"
#include "proxy/inject_policy.hpp"
#include "proxy/notify_interposer.hpp"
#include "proxy/relay_flow.hpp"
#include "proxy/timer_fd.hpp"

namespace vhs {

class DebuggerPart final : public Debugger, private FdHandler {
 public:
  using Clock = std::chrono::steady_clock;

  DebuggerPart(RelayServices& relay, NotifyHolds* notify, DeviceKind device, TimerFd delay_timer)
      : relay_(relay), notify_(notify), device_(device), delay_timer_(std::move(delay_timer)) {}
  bool start(const RelayOptions& options, std::string& error);

  bool before_record(RelayFlow& flow, uint16_t& flags) override;  // debugger_inject.cpp
  bool after_record(RelayFlow& flow) override;
  void on_session_begin() override;
  void on_session_end() override;
  std::string run_command(std::string_view line) override;  // debugger_commands.cpp

 private:
  // --- breakpoints (debugger.cpp)
  bool hold(RelayFlow& flow);  // true: the message is held, not sent
  // Sends a held message on (or starts its injected delay); may end the session.
  void release(RelayFlow& flow);
  // Finding breakpoints: decodes the flow's message and feeds the session analyser; the finding a
  // breakpoint stops at, or nullptr. Only called while such a breakpoint is set.
  const Finding* analyse(RelayFlow& flow);
  // Starts (or drops) the analyser to match the breakpoints; `from_start`: no message of the
  // session has been relayed yet.
  void update_analyser(bool from_start);
  // Turns the core's per-message hooks off once nothing needs them (lazily).
  void update_armed();

  // --- injected delays (debugger_inject.cpp)
  bool delay(RelayFlow& flow);              // true: the message now waits for its injected delay
  void on_ready(uint64_t cookie) override;  // the delay timer
  void arm_delay_timer();

  // --- ctl commands (debugger_commands.cpp)
  std::string status();
  std::string step();
  std::string continue_all();

  RelayServices& relay_;
  NotifyHolds* notify_;  // nullptr: notifications are not interposed
  DeviceKind device_;
  HoldPolicy holds_;
  InjectPolicy injects_;
  TimerFd delay_timer_;
  std::unique_ptr<SessionAnalyser> analyser_;  // only while a finding breakpoint is set
  MessageRef analysed_ = 0;
  std::vector<Finding> findings_;  // reused per analysed message
};

// A message waiting for an injected delay is not the user's to step: only the timer sends it.
inline bool waits_for_delay(const RelayFlow& f) {
  return f.held() && f.delayed_until != std::chrono::steady_clock::time_point{};
}

}  // namespace vhs
