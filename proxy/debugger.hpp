// Step debugging and fault injection as a part of the relay: breakpoints (HoldPolicy) hold a
// message in its flow, injections (InjectPolicy) drop, delay or replace one, and the ctl commands
// (status, step, continue, break, delete, inject, hold/unhold) act on them. Owns the policies, the
// session analyser finding breakpoints need, and the timer of injected delays.
//
// Core events it sees, only while it has turned the core's debugging switch on
// (RelayServices::set_debugging): each message before it is recorded (injection) and after
// (breakpoints, delays); plus the start and end of each session and the command lines the command
// queue hands over. Held notifications are reached through NotifyHolds (nullptr: not interposed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/relay.hpp"
#include "proxy/relay_services.hpp"

namespace vhs {

class NotifyHolds;

class Debugger {
 public:
  // Sets the options' breakpoints and injections. nullptr and `error` set for a bad one, or when
  // the delay timer cannot be set up.
  static std::unique_ptr<Debugger> create(RelayServices& relay, NotifyHolds* notify,
                                          const RelayOptions& options, std::string& error);
  virtual ~Debugger() = default;

  // Before the message is recorded: true when it was dropped (recorded, fds closed, not relayed);
  // a replaced reply is recorded and swapped for the injected one; `flags` gets kRecordInjected
  // for what goes on with an injection (replaced or delayed).
  virtual bool before_record(RelayFlow& flow, uint16_t& flags) = 0;
  // After the message is recorded: true when it is held at a breakpoint or waits for its injected
  // delay (not sent now).
  virtual bool after_record(RelayFlow& flow) = 0;
  virtual void on_session_begin() = 0;
  virtual void on_session_end() = 0;
  // One line of the `vhostscope ctl` protocol; the answer ("ok\n", "error: ...\n", status lines).
  virtual std::string run_command(std::string_view line) = 0;
};

}  // namespace vhs
