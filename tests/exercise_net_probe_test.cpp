// The net lifecycle probe (proxy/exercise/net_probe) against the scripted loopback back-end of
// support/loopback_net_backend: stop-restart with receive buffers and frames in flight on the
// queue pair, enable-toggle, reset and reconnect pass; scenarios the back-end lacks a feature
// for are Unsupported naming it; and a back-end that answers GET_VRING_BASE of the receive
// queue as if it had filled every receive buffer (and forgets those it had not) fails
// stop-restart with the buffers it lost; one that sends every frame back twice fails it naming
// the frame.
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "proxy/exercise/engine.hpp"
#include "support/loopback_net_backend.hpp"
#include "support/temp_dir.hpp"

namespace vhs::exercise {
namespace {

using namespace std::chrono_literals;

const CheckOutcome* find(const ExerciseResult& r, const std::string& id) {
  for (const CheckOutcome& c : r.checks)
    if (c.id == id) return &c;
  return nullptr;
}

ExerciseResult exercise_net(test::NetLoopFault fault, std::vector<std::string> scenarios,
                            bool workload = false) {
  test::TempDir dir;
  const std::string sock = dir / "net.sock";
  test::LoopbackNetBackend backend(sock, fault);
  ExerciseOptions o;
  o.backend_connect = sock;
  o.device = DeviceKind::Net;
  o.queue_size = 16;
  o.timeout = 1000ms;
  o.connect_timeout = 2000ms;
  o.run_workload = workload;
  o.scenarios = std::move(scenarios);
  ExerciseResult r = run_exercise(o);
  EXPECT_TRUE(r.ran) << r.error;
  return r;
}

std::string listing(const ExerciseResult& r) {
  std::string text;
  for (const CheckOutcome& c : r.checks) text += c.id + ": " + c.reason + "\n";
  return text;
}

TEST(ExerciseNetProbe, LoopbackBackendPassesTheLifecycleScenarios) {
  const ExerciseResult r = exercise_net(
      test::NetLoopFault::None, {"stop-restart", "enable-toggle", "reset", "reconnect"}, true);
  for (const char* id : {"protocol.setup", "net.tx-rx", "lifecycle.stop-restart",
                         "lifecycle.enable-toggle", "lifecycle.reset", "lifecycle.reconnect"}) {
    const CheckOutcome* c = find(r, id);
    ASSERT_NE(c, nullptr) << id << "\n" << listing(r);
    EXPECT_EQ(c->verdict, Verdict::Pass) << id << ": " << c->reason;
  }
  // The pass names what was in flight when the rings stopped: 8 receive buffers were posted and
  // 4 frames sent, so both rings had chains in flight.
  const CheckOutcome* restart = find(r, "lifecycle.stop-restart");
  ASSERT_NE(restart, nullptr);
  EXPECT_TRUE(std::regex_match(restart->reason,
                               std::regex("at GET_VRING_BASE queue 0: 8 in flight, base [0-9]+; "
                                          "queue 1: [0-4] in flight, base [0-9]+; each completed "
                                          "once after the restart")))
      << restart->reason;
}

TEST(ExerciseNetProbe, ScenariosTheBackendLacksAFeatureForNameIt) {
  const ExerciseResult r = exercise_net(
      test::NetLoopFault::None, {"mem-hotplug", "dirty-log", "get-config", "backend-crash"});
  const std::pair<const char*, const char*> expected[] = {
      {"lifecycle.mem-hotplug",
       "the back-end does not offer the CONFIGURE_MEM_SLOTS protocol feature"},
      {"lifecycle.dirty-log", "the back-end does not offer VHOST_F_LOG_ALL"},
      {"lifecycle.get-config", "the back-end does not offer the CONFIG protocol feature"},
      {"lifecycle.backend-crash",
       "needs --backend-command to restart the back-end (the engine must own its process)"},
  };
  for (const auto& [id, reason] : expected) {
    const CheckOutcome* c = find(r, id);
    ASSERT_NE(c, nullptr) << id;
    EXPECT_EQ(c->verdict, Verdict::Unsupported) << id;
    EXPECT_EQ(c->reason, reason) << id;
  }
}

// Negative control: the receive buffers still empty at GET_VRING_BASE are lost by the back-end
// (it resumes past them), so after the restart no frame comes back into them.
TEST(ExerciseNetProbe, ReceiveBuffersDroppedAcrossTheRestartAreCaught) {
  const ExerciseResult r = exercise_net(test::NetLoopFault::DropReceiveBuffers, {"stop-restart"});
  const CheckOutcome* c = find(r, "lifecycle.stop-restart");
  ASSERT_NE(c, nullptr) << listing(r);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  // 8 receive buffers and 4 frames were in flight; the back-end filled some before the stop.
  EXPECT_TRUE(std::regex_match(
      c->reason,
      std::regex("queue 0: [1-8] receive buffer\\(s\\) of those posted before the rings stopped "
                 "never filled: no frame came back within 1000 ms, [0-9]+ frame\\(s\\) sent on "
                 "queue 1 meanwhile \\([0-4] filled before\\)")))
      << c->reason;
}

// Negative control: every frame comes back twice, so with receive buffers to spare the second
// copy fills one too.
TEST(ExerciseNetProbe, FrameReceivedTwiceIsCaught) {
  const ExerciseResult r = exercise_net(test::NetLoopFault::DuplicateFrames, {"stop-restart"});
  const CheckOutcome* c = find(r, "lifecycle.stop-restart");
  ASSERT_NE(c, nullptr) << listing(r);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  EXPECT_TRUE(std::regex_match(
      c->reason, std::regex("queue 0: frame seq [0-9]+ came back twice \\(two receive buffers "
                            "hold it\\)")))
      << c->reason;
}

}  // namespace
}  // namespace vhs::exercise
