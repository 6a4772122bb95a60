// Step debugging through the real binary: `record --break NAME --control SOCK` holds the matching
// message and everything after it on that direction, `ctl step` releases exactly one, `ctl
// continue` the rest until the next hit; held messages go out byte-exact with the same files;
// the other directions keep moving; SIGTERM while holding exits cleanly; bad input is exit 2.
#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <vector>

#include "support/capture_read.hpp"
#include "support/controlled_session.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

constexpr Millis kLong = ControlledSession::kArrives;

TEST(Step, BreakpointHoldsStepReleasesOneContinueReleasesUntilTheNextHit) {
  ControlledSession s;
  ASSERT_TRUE(s.start({"--break", "SET_VRING_KICK"})) << s.rec.why;

  Bytes owner = request("SET_OWNER");
  Bytes num = request("SET_VRING_NUM", vring_state(0, 256));
  Bytes kick0 = request("SET_VRING_KICK", vring_index_fd(0));
  Bytes call0 = request("SET_VRING_CALL", vring_index_fd(0));
  Bytes kick1 = request("SET_VRING_KICK", vring_index_fd(1));
  UniqueFd kick0_fd = make_eventfd(), call0_fd = make_eventfd(), kick1_fd = make_eventfd();

  s.send(owner);
  s.send(num);
  s.expect_at_backend(owner);
  s.expect_at_backend(num);

  s.send(kick0, {kick0_fd.get()});
  s.send(call0, {call0_fd.get()});
  s.send(kick1, {kick1_fd.get()});
  EXPECT_TRUE(s.backend_gets_nothing())
      << "SET_VRING_KICK reached the back-end despite the breakpoint";

  CommandResult status = s.ctl({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find(
                "held: session 1, front-end channel, front-end to back-end, SET_VRING_KICK, " +
                std::to_string(kick0.size()) + " bytes, 1 fds\n"),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("breakpoints: SET_VRING_KICK\n"), std::string::npos) << status.out;

  // The other direction keeps moving while the front-end's requests are held.
  Bytes unsolicited = reply("GET_FEATURES", u64_payload(0x40000000));
  ASSERT_EQ(send_message(s.be.get(), unsolicited), IoStatus::Ok);
  ReceivedMessage at_fe;
  EXPECT_EQ(recv_message(s.fe.get(), at_fe, kLong), IoStatus::Ok);
  EXPECT_EQ(at_fe.bytes, unsolicited);

  // step: exactly the held SET_VRING_KICK, byte-exact, with the same eventfd.
  CommandResult step = s.ctl({"step"});
  EXPECT_EQ(step.exit_code, 0) << step.err;
  EXPECT_EQ(step.out, "ok\n");
  ReceivedMessage got = s.expect_at_backend(kick0);
  ASSERT_EQ(got.fds.size(), 1u);
  EXPECT_EQ(identify(got.fds[0].get()), identify(kick0_fd.get()));
  EXPECT_TRUE(s.backend_gets_nothing()) << "step released more than one message";

  status = s.ctl({"status"});
  EXPECT_NE(status.out.find(", SET_VRING_CALL, "), std::string::npos) << status.out;

  // continue: SET_VRING_CALL goes, then the breakpoint hits again at the next SET_VRING_KICK.
  EXPECT_EQ(s.ctl({"continue"}).exit_code, 0);
  got = s.expect_at_backend(call0);
  ASSERT_EQ(got.fds.size(), 1u);
  EXPECT_EQ(identify(got.fds[0].get()), identify(call0_fd.get()));
  EXPECT_TRUE(s.backend_gets_nothing()) << "the second SET_VRING_KICK was not held";
  status = s.ctl({"status"});
  EXPECT_NE(status.out.find(", SET_VRING_KICK, "), std::string::npos) << status.out;

  // Without breakpoints, continue lets everything through.
  EXPECT_EQ(s.ctl({"delete", "SET_VRING_KICK"}).exit_code, 0);
  EXPECT_EQ(s.ctl({"continue"}).exit_code, 0);
  got = s.expect_at_backend(kick1);
  ASSERT_EQ(got.fds.size(), 1u);
  EXPECT_EQ(identify(got.fds[0].get()), identify(kick1_fd.get()));
  s.send(owner);
  s.expect_at_backend(owner);
  status = s.ctl({"status"});
  EXPECT_EQ(status.out, "held: none\nbreakpoints: none\n\n");

  // A breakpoint set at run time: `any` holds the very next message.
  EXPECT_EQ(s.ctl({"break", "any"}).exit_code, 0);
  s.send(num);
  EXPECT_TRUE(s.backend_gets_nothing());
  EXPECT_EQ(s.ctl({"delete", "any"}).exit_code, 0);
  EXPECT_EQ(s.ctl({"continue"}).exit_code, 0);
  s.expect_at_backend(num);

  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();
}

TEST(Step, FindingBreakpointsHoldWhatTheDecodersAndTheSessionAnalyserFlag) {
  ControlledSession s;
  ASSERT_TRUE(s.start({"--break", "error"})) << s.rec.why;

  // Per-message finding: SET_VRING_NUM with a 4-byte payload (the layout needs 8).
  Bytes owner = request("SET_OWNER");
  Bytes short_num = request("SET_VRING_NUM", Bytes{0, 0, 0, 0});
  s.send(owner);
  s.expect_at_backend(owner);
  s.send(short_num);
  EXPECT_TRUE(s.backend_gets_nothing()) << "a message with an Error finding was not held";
  CommandResult status = s.ctl({"status"});
  EXPECT_NE(status.out.find("held: session 1, front-end channel, front-end to back-end, "
                            "SET_VRING_NUM, 16 bytes, 0 fds, "
                            "finding size-mismatch: "),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("breakpoints: error\n"), std::string::npos) << status.out;
  EXPECT_EQ(s.ctl({"continue"}).exit_code, 0);
  s.expect_at_backend(short_num);
  s.send(owner);  // clean messages pass while the breakpoint stays set
  s.expect_at_backend(owner);

  // Cross-message finding from the session analyser: SET_CONFIG needs protocol feature CONFIG,
  // which SET_PROTOCOL_FEATURES did not ack. Set at run time, by finding id.
  EXPECT_EQ(s.ctl({"delete", "error"}).exit_code, 0);
  CommandResult added = s.ctl({"break", "finding:FEATURE-NOT-NEGOTIATED"});
  EXPECT_EQ(added.exit_code, 0) << added.err;
  Bytes ack_none = request("SET_PROTOCOL_FEATURES", u64_payload(0));
  Bytes config = request("SET_CONFIG", Bytes{0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4});
  s.send(ack_none);
  s.expect_at_backend(ack_none);
  s.send(config);
  EXPECT_TRUE(s.backend_gets_nothing())
      << "SET_CONFIG without the CONFIG protocol feature was not held";
  status = s.ctl({"status"});
  EXPECT_NE(status.out.find(", SET_CONFIG, 28 bytes, 0 fds, finding feature-not-negotiated: "
                            "SET_CONFIG needs protocol "
                            "feature CONFIG"),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("breakpoints: finding:feature-not-negotiated\n"), std::string::npos)
      << status.out;
  EXPECT_EQ(s.ctl({"step"}).exit_code, 0);
  s.expect_at_backend(config);
  EXPECT_EQ(s.ctl({"delete", "finding:feature-not-negotiated"}).exit_code, 0);
  EXPECT_EQ(s.ctl({"continue"}).exit_code, 0);
  s.send(config);  // no finding breakpoint left: relayed at once
  s.expect_at_backend(config);

  CommandResult bad = s.ctl({"break", "finding:no-such-finding"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown finding id 'no-such-finding'"), std::string::npos) << bad.err;
  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();
}

TEST(Step, SigtermWhileHoldingExitsCleanlyAndTheCaptureIsReadable) {
  ControlledSession s;
  ASSERT_TRUE(s.start({"--break", "set_vring_kick"})) << s.rec.why;
  Bytes kick0 = request("SET_VRING_KICK", vring_index_fd(0));
  UniqueFd kick0_fd = make_eventfd();
  s.send(kick0, {kick0_fd.get()});
  EXPECT_TRUE(s.backend_gets_nothing());
  EXPECT_NE(s.ctl({"status"}).out.find(", SET_VRING_KICK, "), std::string::npos);

  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();
  // Both sides see the proxy close; the held message was never delivered.
  EXPECT_TRUE(wait_closed(s.fe.get(), kLong));
  ReceivedMessage m;
  EXPECT_EQ(recv_message(s.be.get(), m, kLong), IoStatus::Closed);
  EXPECT_TRUE(m.bytes.empty());

  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  auto sent = c.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]->bytes, kick0);
  EXPECT_EQ(c.of_kind(RecordKind::Disconnect).size(), 1u);
}

TEST(Step, BadInputIsAClearErrorWithExitCode2) {
  ControlledSession s;
  ASSERT_TRUE(s.start({})) << s.rec.why;
  CommandResult r = s.ctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = s.ctl({"break", "NO_SUCH_REQUEST"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown request name 'NO_SUCH_REQUEST'"), std::string::npos) << r.err;
  r = s.ctl({"delete", "SET_OWNER"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no breakpoint on 'SET_OWNER'"), std::string::npos) << r.err;
  r = s.ctl({"step"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nothing is held"), std::string::npos) << r.err;
  r = s.ctl({"break"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'break' needs a request name"), std::string::npos) << r.err;
  r = run_command({vhostscope_binary(), "ctl", s.rec.dir / "missing.sock", "status"},
                  s.rec.dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("control socket"), std::string::npos) << r.err;
  EXPECT_EQ(s.rec.stop(), 0);

  TempDir dir;
  r = run_command(
      {vhostscope_binary(), "record", "--frontend-listen", dir / "fe.sock", "--backend-connect",
       dir / "be.sock", "-w", dir / "c.pcap", "--break", "NO_SUCH_REQUEST"},
      dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown request name 'NO_SUCH_REQUEST'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vhs::test
