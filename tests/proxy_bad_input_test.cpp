// Hostile and broken peers through the real `vhostscope record`: oversized size fields, garbage,
// truncated headers, peers dying mid-message, too many fds, malformed-but-relayable messages.
// Each case: clear stderr, an Error record, the other side closed, no fd leak, and the recorder
// still serves the next session.
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/vhost_user/registry.hpp"
#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/recorder_harness.hpp"
#include "support/scripted_backend.hpp"
#include "support/scripted_frontend.hpp"

namespace vhs::test {
namespace {

using std::chrono::milliseconds;

struct PeerRun {
  std::unique_ptr<ScriptedFrontend> frontend;
  std::unique_ptr<ScriptedBackend> backend;
};

PeerRun run_session(RecorderHarness& h, std::vector<FrontendStep> steps, BackendOptions bo = {}) {
  PeerRun r;
  bo.path = h.backend_sock;
  r.backend = std::make_unique<ScriptedBackend>(bo);
  r.backend->start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  r.frontend = std::make_unique<ScriptedFrontend>(fo);
  r.frontend->start(std::move(steps));
  r.frontend->join();
  r.backend->join();
  return r;
}

// After a bad session: no fds left over, still running, and the next session relays normally.
void expect_recovers(RecorderHarness& h) {
  EXPECT_TRUE(h.proc->running()) << h.stderr_text();
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds)
      << "fd leak in the recorder";
  BackendOptions bo;
  bo.reply_values = {{"GET_FEATURES", 0x1234}};
  PeerRun r =
      run_session(h, {FrontendStep::send(request("GET_FEATURES")), FrontendStep::close()}, bo);
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  for (const auto& e : r.backend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.frontend->steps_done(), 2u);
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);
}

// The capture after a bad session 1 and a good session 2.
struct Outcome {
  CaptureContents cap;
  std::vector<const Record*> s1_messages, errors, disconnects;
};

Outcome stop_and_read(RecorderHarness& h) {
  Outcome o;
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();
  o.cap = read_capture(h.capture);
  EXPECT_TRUE(o.cap.opened) << o.cap.error;
  EXPECT_EQ(o.cap.warning, "");
  for (const Record& r : o.cap.records) {
    if (r.session != 1) continue;
    if (r.kind == RecordKind::Message) o.s1_messages.push_back(&r);
    if (r.kind == RecordKind::Error) o.errors.push_back(&r);
    if (r.kind == RecordKind::Disconnect) o.disconnects.push_back(&r);
  }
  // Session 2 went through whole.
  size_t s2 = 0;
  for (const Record& r : o.cap.records)
    if (r.session == 2 && r.kind == RecordKind::Message) {
      ++s2;
      EXPECT_EQ(r.flags, 0);
    }
  EXPECT_EQ(s2, 2u) << "GET_FEATURES and its reply in session 2";
  return o;
}

bool pick_received_empty(const PeerRun& r) {
  for (const Exchange& e : r.backend->transcript())
    if (!e.sent) return false;
  return true;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(ProxyBadInput, OversizedSizeFieldIsRecordedNotRelayedAndClosesTheSession) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  Bytes header = header_bytes(request_number("SET_MEM_TABLE"), 0x1, 1048576);
  PeerRun r = run_session(
      h, {FrontendStep::raw(cat(header, Bytes(100, 0x42))), FrontendStep::expect_closed()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  EXPECT_TRUE(r.frontend->closed_by_peer());
  EXPECT_EQ(r.backend->sessions_ended_by_eof(), 1) << "the back-end side is closed too";
  EXPECT_TRUE(pick_received_empty(r));
  const std::string why =
      "front-end sent SET_MEM_TABLE with size 1048576 > 4096 (cap); cannot relay safely, closing "
      "session";
  EXPECT_NE(h.stderr_text().find("vhostscope: session 1: " + why), std::string::npos)
      << h.stderr_text();
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  ASSERT_EQ(o.s1_messages.size(), 1u);
  EXPECT_EQ(o.s1_messages[0]->flags, kRecordNotRelayed);
  EXPECT_EQ(o.s1_messages[0]->bytes, header);
  EXPECT_EQ(o.s1_messages[0]->direction, Direction::ToBackend);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0]->text(), why);
  ASSERT_EQ(o.disconnects.size(), 1u);
  EXPECT_EQ(o.disconnects[0]->text(), "proxy closed the session: " + why);
  EXPECT_EQ(o.disconnects[0]->flags, kRecordClosedByProxy) << "no peer hung up";
}

TEST(ProxyBadInput, GarbageBytesAreReportedAsGarbage) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  PeerRun r = run_session(h, {FrontendStep::raw(Bytes(64, 0xab)), FrontendStep::expect_closed()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  EXPECT_TRUE(r.frontend->closed_by_peer());
  EXPECT_EQ(r.backend->sessions_ended_by_eof(), 1);
  const std::string why =
      "front-end sent garbage (request 0xabababab, flags 0xabababab: version 3, not 1) with size "
      "2880154539 > 4096 "
      "(cap); cannot relay safely, closing session";
  EXPECT_NE(h.stderr_text().find("session 1: " + why), std::string::npos) << h.stderr_text();
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  ASSERT_EQ(o.s1_messages.size(), 1u);
  EXPECT_EQ(o.s1_messages[0]->flags, kRecordNotRelayed);
  EXPECT_EQ(o.s1_messages[0]->bytes, Bytes(12, 0xab));
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0]->text(), why);
}

TEST(ProxyBadInput, TruncatedHeaderThenCloseIsAnIncompleteRecord) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  Bytes partial = {0x01, 0x00, 0x00, 0x00, 0x01};
  PeerRun r = run_session(h, {FrontendStep::raw(partial), FrontendStep::close()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.backend->sessions_ended_by_eof(), 1);
  const std::string why = "front-end closed the connection mid-message (got 5 of 12 header bytes)";
  EXPECT_NE(h.stderr_text().find("session 1: " + why), std::string::npos) << h.stderr_text();
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  ASSERT_EQ(o.s1_messages.size(), 1u);
  EXPECT_EQ(o.s1_messages[0]->flags, kRecordIncomplete);
  EXPECT_EQ(o.s1_messages[0]->bytes, partial);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0]->text(), why);
  ASSERT_EQ(o.disconnects.size(), 1u);
  EXPECT_EQ(o.disconnects[0]->direction, Direction::ToBackend);
  EXPECT_EQ(o.disconnects[0]->text(), "front-end closed the connection");
  EXPECT_EQ(o.disconnects[0]->flags, 0);
}

TEST(ProxyBadInput, FrontendDyingMidPayloadIsAnIncompleteRecord) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  Bytes partial = cat(header_bytes(request_number("SET_VRING_NUM"), 0x1, 8), Bytes{1, 0, 0, 0});
  PeerRun r = run_session(h, {FrontendStep::send(request("GET_FEATURES")),
                              FrontendStep::raw(partial), FrontendStep::close()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.backend->sessions_ended_by_eof(), 1);
  const std::string why =
      "front-end closed the connection mid-message (got SET_VRING_NUM: 4 of 8 payload bytes)";
  EXPECT_NE(h.stderr_text().find("session 1: " + why), std::string::npos) << h.stderr_text();
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  ASSERT_EQ(o.s1_messages.size(), 3u);  // GET_FEATURES, its reply, the cut-short message
  EXPECT_EQ(o.s1_messages[2]->flags, kRecordIncomplete);
  EXPECT_EQ(o.s1_messages[2]->bytes, partial);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0]->text(), why);
}

TEST(ProxyBadInput, BackendDyingMidReplyClosesTheFrontend) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  Bytes partial = cat(header_bytes(request_number("GET_FEATURES"), 0x5, 8), Bytes{1, 2, 3});
  BackendOptions bo;
  BackendAction raw{"GET_FEATURES", 1, BackendAction::Kind::RawInsteadOfReply, partial, {}};
  BackendAction die{"GET_FEATURES", 1, BackendAction::Kind::CloseInsteadOfReply, {}, {}};
  bo.actions = {raw, die};
  PeerRun r = run_session(h, {FrontendStep::send(request("GET_FEATURES"))}, bo);
  for (const auto& e : r.backend->errors()) ADD_FAILURE() << e;
  EXPECT_TRUE(r.frontend->closed_by_peer())
      << "the front-end sees the connection close, as without a proxy";
  const std::string why =
      "back-end closed the connection mid-message (got GET_FEATURES reply: 3 of 8 payload bytes)";
  EXPECT_NE(h.stderr_text().find("session 1: " + why), std::string::npos) << h.stderr_text();
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  ASSERT_EQ(o.s1_messages.size(), 2u);
  EXPECT_EQ(o.s1_messages[1]->direction, Direction::ToFrontend);
  EXPECT_EQ(o.s1_messages[1]->flags, kRecordIncomplete);
  EXPECT_EQ(o.s1_messages[1]->bytes, partial);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0]->text(), why);
  ASSERT_EQ(o.disconnects.size(), 1u);
  EXPECT_EQ(o.disconnects[0]->direction, Direction::ToFrontend);
  EXPECT_EQ(o.disconnects[0]->text(), "back-end closed the connection");
}

TEST(ProxyBadInput, OversizedReplyFromBackendClosesBothSides) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  BackendOptions bo;
  Bytes header = header_bytes(request_number("GET_FEATURES"), 0x5, 5000);
  bo.actions = {{"GET_FEATURES", 1, BackendAction::Kind::RawInsteadOfReply, header, {}}};
  PeerRun r = run_session(h, {FrontendStep::send(request("GET_FEATURES"))}, bo);
  for (const auto& e : r.backend->errors()) ADD_FAILURE() << e;
  EXPECT_TRUE(r.frontend->closed_by_peer());
  EXPECT_EQ(r.backend->sessions_ended_by_eof(), 1);
  const std::string why =
      "back-end sent GET_FEATURES reply with size 5000 > 4096 (cap); cannot relay safely, closing "
      "session";
  EXPECT_NE(h.stderr_text().find("session 1: " + why), std::string::npos) << h.stderr_text();
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  ASSERT_EQ(o.s1_messages.size(), 2u);
  EXPECT_EQ(o.s1_messages[1]->flags, kRecordNotRelayed);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0]->text(), why);
}

TEST(ProxyBadInput, MalformedButFramedMessagesAreRelayedUnchanged) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  Bytes unknown = message(99, 0x1, Bytes{1, 2, 3});
  Bytes short_payload = message(request_number("SET_VRING_NUM"), 0x1, Bytes{0, 0, 0, 0});
  Bytes bad_version = message(request_number("SET_OWNER"), 0x2, {});
  Bytes reserved_flags = message(request_number("GET_FEATURES"), 0x101, {});
  PeerRun r = run_session(h, {FrontendStep::send(unknown), FrontendStep::send(short_payload),
                              FrontendStep::send(bad_version), FrontendStep::send(reserved_flags),
                              FrontendStep::close()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  for (const auto& e : r.backend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.frontend->steps_done(), 5u);
  std::vector<Bytes> got;
  for (const Exchange& e : r.backend->transcript())
    if (!e.sent) got.push_back(e.bytes);
  EXPECT_EQ(got, (std::vector<Bytes>{unknown, short_payload, bad_version, reserved_flags}));
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  EXPECT_TRUE(o.errors.empty());
  ASSERT_EQ(o.s1_messages.size(), 5u);  // 4 requests + the GET_FEATURES reply
  EXPECT_EQ(o.s1_messages[0]->bytes, unknown);
  for (const Record* m : o.s1_messages) EXPECT_EQ(m->flags, 0);
}

TEST(ProxyBadInput, MoreFdsThanRoomIsRecordedAsTruncated) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  std::vector<FdSpec> fds;
  for (int i = 0; i < 40; ++i) fds.push_back(FdSpec::memfd("m" + std::to_string(i), 4096));
  Bytes table =
      request("SET_MEM_TABLE", mem_table(std::vector<Region>(1, Region{0, 4096, 0x1000, 0})));
  PeerRun r = run_session(h, {FrontendStep::send(table, fds),
                              FrontendStep::send(request("GET_FEATURES")), FrontendStep::close()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  for (const auto& e : r.backend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.frontend->steps_done(), 3u) << "the session goes on";
  ASSERT_FALSE(r.backend->transcript().empty());
  const Exchange& got = r.backend->transcript().front();
  EXPECT_EQ(got.bytes, table);
  ASSERT_EQ(got.fds.size(), kMaxFdsPerMessage);
  const Exchange& sent = r.frontend->transcript().front();
  for (size_t i = 0; i < kMaxFdsPerMessage; ++i) EXPECT_EQ(got.fds[i].ino, sent.fds[i].ino);
  EXPECT_NE(h.stderr_text().find("MSG_CTRUNC"), std::string::npos) << h.stderr_text();
  expect_recovers(h);

  Outcome o = stop_and_read(h);
  ASSERT_GE(o.s1_messages.size(), 1u);
  EXPECT_EQ(o.s1_messages[0]->flags, kRecordFdsTruncated);
  EXPECT_EQ(o.s1_messages[0]->fds.size(), kMaxFdsPerMessage);
  ASSERT_EQ(o.errors.size(), 1u);
  EXPECT_EQ(o.errors[0]->text(),
            "front-end sent SET_MEM_TABLE with more fds than the proxy has room for (32); the "
            "kernel dropped the rest "
            "(MSG_CTRUNC)");
}

}  // namespace
}  // namespace vhs::test
