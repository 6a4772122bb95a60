// The used-entry rules end to end: `vhostscope exercise` drives a back-end that breaks its used
// ring (support/faulty_ring_backend) through `vhostscope record`, whose ring sampler follows the
// ring; `vhostscope check` on the capture then names the rule and blames the back-end. The same
// run against the well-behaved back-end checks clean of those rules.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/faulty_ring_backend.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"

namespace vhs {
namespace {

// The check of the capture recorded around one exercise run.
test::CommandResult check_after_exercise(test::RingFault fault,
                                         std::vector<std::string> record_options = {}) {
  test::RecorderHarness rec;
  test::FaultyRingBackend backend(rec.backend_sock, fault);
  record_options.insert(record_options.end(), {"--device", "blk"});
  EXPECT_TRUE(rec.start(record_options)) << rec.why;
  const auto exercise = test::run_command(
      {test::vhostscope_binary(), "exercise", "--backend-connect", rec.frontend_sock, "--device",
       "blk", "--queues", "1", "--queue-size", "16", "--queue-depth", "2", "--timeout", "1"},
      rec.dir.path());
  EXPECT_NE(exercise.exit_code, 2) << exercise.out << exercise.err;
  EXPECT_EQ(rec.stop(), 0) << rec.stderr_text();
  return test::run_command({test::vhostscope_binary(), "check", rec.capture, "--rule",
                               "VU-RING-013", "--rule", "VU-RING-014"},
                           rec.dir.path());
}

TEST(UsedEntriesThroughTheRecorder, AHeadNeverMadeAvailableIsBlamedOnTheBackEnd) {
  const test::CommandResult check = check_after_exercise(test::RingFault::UnknownHead);
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  // GET_ID went out on head 0; the back-end answered with head 5.
  EXPECT_NE(check.out.find("VU-RING-013"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("back-end"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("used ring entry 0 names head 5, which was not in flight"),
            std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.find("VU-RING-014"), std::string::npos) << check.out;
}

// With --interpose-notify the ring is followed right before each kick and call is relayed: the
// GET_ID chain is read at its kick, while in flight, and its completion seen at the call.
TEST(UsedEntriesThroughTheRecorder, ALengthBeyondTheChainIsCaughtAtTheInterposedCall) {
  const test::CommandResult check =
      check_after_exercise(test::RingFault::WrongLength, {"--interpose-notify"});
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  // GET_ID: 20 id bytes and the status byte are writable; the back-end said 121.
  EXPECT_NE(check.out.find("VU-RING-014"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("used ring entry 0 gives head 0 len 121; its chain has 21 "
                           "device-writable bytes"),
            std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.find("VU-RING-013"), std::string::npos) << check.out;
}

TEST(UsedEntriesThroughTheRecorder, AWellBehavedBackEndIsCleanWithInterposedNotifications) {
  const test::CommandResult check =
      check_after_exercise(test::RingFault::None, {"--interpose-notify"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST(UsedEntriesThroughTheRecorder, AWellBehavedBackEndIsClean) {
  const test::CommandResult check = check_after_exercise(test::RingFault::None);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out.find("VU-RING-01"), std::string::npos) << check.out;
}

}  // namespace
}  // namespace vhs
