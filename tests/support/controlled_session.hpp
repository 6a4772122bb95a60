// The real `vhostscope record` with a control socket, and both peers driven directly from the
// test thread (no scripted peer threads), so a test sees exactly when a message reaches the
// back-end — what step, inject and notify tests need to tell "held" from "relayed".
#pragma once

#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {

struct ControlledSession {
  static constexpr Millis kNothingArrives{300};  // long enough for a relay that does not hold
  static constexpr Millis kArrives{5000};

  RecorderHarness rec;
  std::string control = rec.dir / "ctl.sock";
  UniqueFd be_listen, fe, be;

  // Starts the recorder with `extra` options plus --control (ring sampling off: these tests
  // count records) and connects both peers; false with the reason in rec.why otherwise.
  bool start(std::vector<std::string> extra);

  // `vhostscope ctl CONTROL args...` and `vhostscope args...`, run in the session's directory.
  CommandResult ctl(std::vector<std::string> args);
  CommandResult vhostscope(std::vector<std::string> args);

  // The front-end sends (fails the test on error).
  void send(const Bytes& bytes, const std::vector<int>& fds = {});
  // The next message the back-end receives, checked equal to `bytes` (fails when none comes).
  ReceivedMessage expect_at_backend(const Bytes& bytes, Millis timeout = kArrives);
  // send() then expect_at_backend().
  ReceivedMessage relay(const Bytes& bytes, const std::vector<int>& fds = {});
  // Nothing reaches the back-end within kNothingArrives.
  bool backend_gets_nothing();
};

}  // namespace vhs::test
