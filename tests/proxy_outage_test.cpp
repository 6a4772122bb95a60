// Back-end outages through the real `vhostscope record` with scripted peers: a back-end that
// dies makes the recorder's front-end socket refuse connections (ECONNREFUSED, as at the path of
// the dead back-end) until the back-end is back, and the outage is in the capture; a back-end
// that only closes one connection and keeps listening does not; a front-end that arrives while
// the back-end went away unnoticed is closed at once with what it sent recorded, not made to wait
// for --connect-timeout.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/scripted_backend.hpp"
#include "support/scripted_frontend.hpp"
#include "support/vhost_scenarios.hpp"

namespace vhs::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One connect attempt: 0 when it was accepted (queued), else the errno.
int connect_errno(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

// Polls connect_errno until it returns `want` (bounded).
bool wait_for_connect_result(const std::string& path, int want, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (connect_errno(path) == want) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return connect_errno(path) == want;
}

// A session that works: GET_FEATURES answered, then the front-end closes.
void expect_session_works(RecorderHarness& h) {
  BackendOptions bo;
  bo.path = h.backend_sock;
  bo.reply_values = {{"GET_FEATURES", 0x1234}};
  ScriptedBackend backend(bo);
  backend.start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start({FrontendStep::send(request("GET_FEATURES")), FrontendStep::close()});
  frontend.join();
  backend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  for (const auto& e : backend.errors()) ADD_FAILURE() << e;
  EXPECT_EQ(frontend.steps_done(), 2u);
}

TEST(ProxyOutage, DeadBackendMakesTheFrontendSocketRefuseUntilItIsBack) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--connect-timeout", "1"})) << h.why;
  {
    // Session 1: the back-end dies instead of answering, and its listening socket with it.
    BackendOptions bo;
    bo.path = h.backend_sock;
    bo.actions = {{"GET_FEATURES", 1, BackendAction::Kind::CloseInsteadOfReply, {}, {}}};
    auto backend = std::make_unique<ScriptedBackend>(bo);
    backend->start();
    FrontendOptions fo;
    fo.path = h.frontend_sock;
    ScriptedFrontend frontend(fo);
    frontend.start(
        {FrontendStep::send_no_wait(request("GET_FEATURES")), FrontendStep::expect_closed()});
    frontend.join();
    backend->join();
    backend.reset();  // closes and unlinks the listening socket
    for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  }
  // The front-end socket is still there, and refuses: what a front-end meets at a dead back-end.
  EXPECT_TRUE(wait_for_connect_result(h.frontend_sock, ECONNREFUSED, milliseconds(3000)))
      << h.stderr_text();
  EXPECT_TRUE(h.proc->wait_for_stderr("refuses connections until it is back", milliseconds(3000)))
      << h.stderr_text();
  // Longer than --connect-timeout: still refusing, nothing accepted meanwhile.
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(connect_errno(h.frontend_sock), ECONNREFUSED);

  // The back-end comes back: the next front-end is served (the script retries refused connects).
  expect_session_works(h);
  EXPECT_NE(h.stderr_text().find("is back after"), std::string::npos) << h.stderr_text();
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto connects = cap.of_kind(RecordKind::Connect);
  ASSERT_EQ(connects.size(), 2u) << "refused connects never reach the recorder";
  EXPECT_NE(connects[1]->text().find("when it came back (unreachable for "), std::string_view::npos)
      << connects[1]->text();
  auto errors = cap.of_kind(RecordKind::Error);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]->session, 1u);
  EXPECT_EQ(errors[0]->text(), "back-end at '" + h.backend_sock +
                                   "' unreachable (No such file or directory) after it closed the "
                                   "session: the front-end socket refuses connections until it is "
                                   "back");
  auto disconnects = cap.of_kind(RecordKind::Disconnect);
  ASSERT_EQ(disconnects.size(), 2u);
  EXPECT_EQ(disconnects[0]->text(), "back-end closed the connection");
  EXPECT_LT(disconnects[0]->timestamp_ns, errors[0]->timestamp_ns);
}

TEST(ProxyOutage, BackendThatKeepsListeningIsNotAnOutage) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  BackendOptions bo;
  bo.path = h.backend_sock;
  bo.actions = {{"GET_FEATURES", 1, BackendAction::Kind::CloseInsteadOfReply, {}, {}}};
  ScriptedBackend backend(bo);  // its listening socket stays open
  backend.start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start(
      {FrontendStep::send_no_wait(request("GET_FEATURES")), FrontendStep::expect_closed()});
  frontend.join();
  backend.join();
  // Refused only while the recorder makes sure the back-end is alive, then accepted again.
  EXPECT_TRUE(wait_for_connect_result(h.frontend_sock, 0, milliseconds(3000))) << h.stderr_text();
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);
  EXPECT_EQ(h.stop(), 0);
  EXPECT_EQ(h.stderr_text().find("refuses connections"), std::string::npos) << h.stderr_text();
  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  EXPECT_TRUE(cap.of_kind(RecordKind::Error).empty());
}

TEST(ProxyOutage, FrontendArrivingAfterTheBackendWentAwayUnnoticedIsClosedAtOnce) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--connect-timeout", "30"})) << h.why;
  expect_session_works(h);  // the back-end was reached; then it went away between sessions
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  const auto began = Clock::now();
  frontend.start({FrontendStep::expect_closed()});
  frontend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  EXPECT_TRUE(frontend.closed_by_peer());
  EXPECT_LT(Clock::now() - began, milliseconds(5000)) << "not made to wait for --connect-timeout";
  EXPECT_TRUE(wait_for_connect_result(h.frontend_sock, ECONNREFUSED, milliseconds(3000)));
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto errors = cap.of_kind(RecordKind::Error);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]->session, 2u);
  EXPECT_NE(errors[0]->text().find("(the back-end is gone; the front-end socket refuses "
                                   "connections until it is back)"),
            std::string_view::npos)
      << errors[0]->text();
}

// At start-up the front-end waits for the back-end (--connect-timeout); what it sent meanwhile is
// in the capture, not relayed, so the request it was left waiting on is visible.
TEST(ProxyOutage, StartupWaitRecordsWhatTheFrontendSentAsNotRelayed) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--connect-timeout", "0.3"})) << h.why;
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start(
      {FrontendStep::send_no_wait(request("GET_FEATURES")), FrontendStep::expect_closed()});
  frontend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  EXPECT_TRUE(frontend.closed_by_peer());
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();
  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto sent = cap.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]->bytes, request("GET_FEATURES"));
  EXPECT_EQ(sent[0]->flags, kRecordNotRelayed);
  ASSERT_EQ(cap.records.size(), 4u);
  EXPECT_EQ(cap.records[0].kind, RecordKind::Connect);
  EXPECT_EQ(cap.records[1].kind, RecordKind::Message);
  EXPECT_EQ(cap.records[2].kind, RecordKind::Error);
  EXPECT_EQ(cap.records[3].kind, RecordKind::Disconnect);
  // Not relayed: not an unanswered request (the Error record says why it went nowhere).
  CommandResult summary = run_command({vhostscope_binary(), "summary", h.capture}, h.dir.path());
  EXPECT_EQ(summary.out.find("UNANSWERED"), std::string::npos) << summary.out;
}

}  // namespace
}  // namespace vhs::test
