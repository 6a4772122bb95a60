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
test::CommandResult check_after_exercise(test::RingFault fault) {
  test::RecorderHarness rec;
  test::FaultyRingBackend backend(rec.backend_sock, fault);
  EXPECT_TRUE(rec.start({"--device", "blk"})) << rec.why;
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

TEST(UsedEntriesThroughTheRecorder, AWellBehavedBackEndIsClean) {
  const test::CommandResult check = check_after_exercise(test::RingFault::None);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out.find("VU-RING-01"), std::string::npos) << check.out;
}

}  // namespace
}  // namespace vhs
