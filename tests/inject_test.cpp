// Fault injection through the real binary (`record --inject`, `ctl inject`): a dropped request
// never reaches the back-end and its fds are closed, a delayed one arrives no earlier than asked
// and in order, a replaced reply reaches the front-end byte-exact; the capture says what was
// injected (kRecordInjected, kRecordNotRelayed) and dump shows it; bad specs are exit 2.
#include <gtest/gtest.h>

#include <chrono>
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

std::string hex_of(const Bytes& bytes) {
  std::string s;
  for (uint8_t b : bytes) {
    constexpr char kDigits[] = "0123456789abcdef";
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

TEST(Inject, DropRecordsTheRequestAsInjectedNotRelayedAndClosesItsFds) {
  ControlledSession s;
  ASSERT_TRUE(s.start({"--inject", "drop:set_vring_call"})) << s.rec.why;
  const int active_fds = s.rec.proc->wait_for_fd_count(s.rec.idle_fds + 2, kLong);

  Bytes call0 = request("SET_VRING_CALL", vring_index_fd(0));
  Bytes owner = request("SET_OWNER");
  UniqueFd call_fd = make_eventfd();
  s.send(call0, {call_fd.get()});
  s.send(owner);
  // The next thing the back-end sees is SET_OWNER: the call was dropped, not reordered.
  ReceivedMessage got = s.expect_at_backend(owner);
  EXPECT_TRUE(got.fds.empty());
  EXPECT_EQ(s.rec.proc->wait_for_fd_count(active_fds, kLong), active_fds)
      << "the dropped message's eventfd leaked";

  CommandResult status = s.vhostscope({"ctl", s.control, "status"});
  EXPECT_NE(status.out.find("injections: drop:SET_VRING_CALL\n"), std::string::npos) << status.out;
  // Removed at run time: the next SET_VRING_CALL goes through with its fd.
  EXPECT_EQ(s.vhostscope({"ctl", s.control, "delete", "drop:SET_VRING_CALL"}).exit_code, 0);
  s.send(call0, {call_fd.get()});
  got = s.expect_at_backend(call0);
  ASSERT_EQ(got.fds.size(), 1u);
  EXPECT_EQ(identify(got.fds[0].get()), identify(call_fd.get()));
  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();

  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  auto sent = c.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0]->bytes, call0);
  EXPECT_EQ(sent[0]->flags, kRecordNotRelayed | kRecordInjected);
  EXPECT_EQ(sent[0]->fds.size(), 1u);  // recorded as it arrived
  EXPECT_EQ(sent[1]->flags, 0);
  EXPECT_EQ(sent[2]->flags, 0);
  CommandResult dump = s.vhostscope({"dump", s.rec.capture});
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("SET_VRING_CALL (not relayed) (injected)"), std::string::npos)
      << dump.out;
}

TEST(Inject, DelayHoldsTheRequestAtLeastThatLongAndKeepsTheOrder) {
  ControlledSession s;
  constexpr int kDelayMs = 400;
  ASSERT_TRUE(s.start({"--inject", "delay:SET_OWNER:" + std::to_string(kDelayMs)})) << s.rec.why;
  Bytes owner = request("SET_OWNER");
  Bytes num = request("SET_VRING_NUM", vring_state(0, 256));
  auto sent_at = std::chrono::steady_clock::now();
  s.send(owner);
  s.send(num);
  // The other direction keeps moving meanwhile.
  Bytes unsolicited = reply("GET_FEATURES", u64_payload(1));
  ASSERT_EQ(send_message(s.be.get(), unsolicited), IoStatus::Ok);
  ReceivedMessage at_fe;
  EXPECT_EQ(recv_message(s.fe.get(), at_fe, kLong), IoStatus::Ok);
  EXPECT_EQ(at_fe.bytes, unsolicited);

  s.expect_at_backend(owner);
  auto arrived_after = std::chrono::steady_clock::now() - sent_at;
  EXPECT_GE(arrived_after, std::chrono::milliseconds(kDelayMs));
  s.expect_at_backend(num);  // not overtaken by the message behind it
  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();

  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  auto sent = c.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]->flags, kRecordInjected);
  EXPECT_EQ(sent[1]->flags, 0);
}

TEST(Inject, ReplaceReplySendsExactlyTheGivenBytesAndRecordsBoth) {
  ControlledSession s;
  Bytes injected = reply("GET_FEATURES", u64_payload(0x0000000140000000ull));
  ASSERT_TRUE(s.start({"--inject", "replace-reply:GET_FEATURES:" + hex_of(injected)})) << s.rec.why;
  Bytes get = request("GET_FEATURES");
  Bytes real = reply("GET_FEATURES", u64_payload(0x0000000150000000ull));
  s.send(get);
  s.expect_at_backend(get);
  ASSERT_EQ(send_message(s.be.get(), real), IoStatus::Ok);
  ReceivedMessage at_fe;
  EXPECT_EQ(recv_message(s.fe.get(), at_fe, kLong), IoStatus::Ok);
  EXPECT_EQ(at_fe.bytes, injected);
  EXPECT_TRUE(at_fe.fds.empty());
  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();

  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  auto replies = c.messages(Channel::Frontend, Direction::ToFrontend);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0]->bytes, real);
  EXPECT_EQ(replies[0]->flags, kRecordNotRelayed | kRecordInjected);
  EXPECT_EQ(replies[1]->bytes, injected);
  EXPECT_EQ(replies[1]->flags, kRecordInjected);
  // The injected reply answers the request: no unexpected-reply finding in the dump.
  CommandResult dump = s.vhostscope({"dump", s.rec.capture});
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("GET_FEATURES reply (not relayed) (injected)"), std::string::npos)
      << dump.out;
  EXPECT_NE(dump.out.find("GET_FEATURES reply (injected)"), std::string::npos) << dump.out;
  EXPECT_EQ(dump.out.find("!unexpected-reply"), std::string::npos) << dump.out;
}

TEST(Inject, BadSpecsAreClearErrorsWithExitCode2) {
  TempDir dir;
  auto record = [&](const std::string& spec) {
    return run_command(
        {vhostscope_binary(), "record", "--frontend-listen", dir / "fe.sock", "--backend-connect",
         dir / "be.sock", "-w", dir / "c.pcap", "--inject", spec},
        dir.path());
  };
  struct Case {
    std::string spec, message;
  };
  Bytes wrong_request = reply("GET_PROTOCOL_FEATURES", u64_payload(1));
  Bytes not_a_reply = request("GET_FEATURES", u64_payload(1));
  Bytes short_payload = reply("GET_FEATURES", Bytes{1, 2, 3, 4});
  for (const Case& c : std::vector<Case>{
           {"replace-reply:GET_FEATURES:zz", "bad hex at character 1"},
           {"replace-reply:GET_FEATURES:" + hex_of(wrong_request), "has request number 15, not 1"},
           {"replace-reply:GET_FEATURES:" + hex_of(not_a_reply), "not a version-1 reply (0x5)"},
           {"replace-reply:GET_FEATURES:" + hex_of(short_payload), "does not decode"},
           {"replace-reply:GET_FEATURES:0100000005000000", "shorter than the 12-byte header"},
           {"delay:SET_OWNER:soon", "delay needs milliseconds"},
           {"drop:NO_SUCH_REQUEST", "unknown request name 'NO_SUCH_REQUEST'"},
           {"explode:SET_OWNER", "unknown injection 'explode:SET_OWNER'"},
       }) {
    CommandResult r = record(c.spec);
    EXPECT_EQ(r.exit_code, 2) << c.spec;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.spec << ": " << r.err;
  }

  ControlledSession s;
  ASSERT_TRUE(s.start({})) << s.rec.why;
  CommandResult r = s.vhostscope({"ctl", s.control, "inject", "replace-reply:GET_FEATURES:0g"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad hex"), std::string::npos) << r.err;
  r = s.vhostscope({"ctl", s.control, "delete", "drop:SET_OWNER"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no injection 'drop:SET_OWNER'"), std::string::npos) << r.err;
  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();
}

}  // namespace
}  // namespace vhs::test
