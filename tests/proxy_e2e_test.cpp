// End to end through the real `vhostscope record` binary: scripted front-end and back-end peers
// on both sides, byte-exact relay with fds, back-end channel interposition, the capture read back,
// sessions, socket safety, and stopping by SIGTERM / SIGKILL.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
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
#include "support/vhost_scenarios.hpp"

namespace vhs::test {
namespace {

using std::chrono::milliseconds;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::vector<const Exchange*> pick(const std::vector<Exchange>& t, Channel channel, bool sent,
                                  uint32_t session = 0) {
  std::vector<const Exchange*> out;
  for (const Exchange& e : t)
    if (e.channel == channel && e.sent == sent && (session == 0 || e.session == session))
      out.push_back(&e);
  return out;
}

std::string name_of(Channel channel, const Bytes& bytes) {
  auto h = parse_header(bytes);
  const RequestInfo* info = h ? find_request(channel, h->request) : nullptr;
  return info ? std::string(info->name) : "?";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// Every message one peer sent arrived at the other byte-exact, in order, with fds that refer to
// the same files (except the back-end channel socket, which the proxy substitutes).
void expect_same_stream(const std::vector<const Exchange*>& sent,
                        const std::vector<const Exchange*>& received, Channel channel,
                        const char* what) {
  ASSERT_EQ(sent.size(), received.size()) << what;
  for (size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(std::string(what) + " #" + std::to_string(i) + " " +
                 name_of(channel, sent[i]->bytes));
    EXPECT_EQ(sent[i]->bytes, received[i]->bytes);
    ASSERT_EQ(sent[i]->fds.size(), received[i]->fds.size());
    bool substituted =
        channel == Channel::Frontend && name_of(channel, sent[i]->bytes) == "SET_BACKEND_REQ_FD";
    for (size_t j = 0; j < sent[i]->fds.size(); ++j) {
      if (substituted) {
        EXPECT_TRUE(S_ISSOCK(received[i]->fds[j].mode));
        EXPECT_NE(sent[i]->fds[j].ino, received[i]->fds[j].ino)
            << "the back-end channel must be interposed";
      } else {
        EXPECT_EQ(sent[i]->fds[j].dev, received[i]->fds[j].dev);
        EXPECT_EQ(sent[i]->fds[j].ino, received[i]->fds[j].ino);
      }
    }
  }
}

// The capture holds exactly the messages a peer sent, in order, with matching fd descriptions.
void expect_recorded(const std::vector<const Record*>& recorded,
                     const std::vector<const Exchange*>& sent,
                     const std::vector<const Exchange*>& received, Channel channel,
                     uint32_t session, const char* what) {
  ASSERT_EQ(recorded.size(), sent.size()) << what;
  for (size_t i = 0; i < sent.size(); ++i) {
    std::string name = name_of(channel, sent[i]->bytes);
    SCOPED_TRACE(std::string(what) + " #" + std::to_string(i) + " " + name);
    const Record& r = *recorded[i];
    EXPECT_EQ(r.bytes, sent[i]->bytes);
    EXPECT_EQ(r.session, session);
    EXPECT_EQ(r.flags, 0);
    ASSERT_EQ(r.fds.size(), sent[i]->fds.size());
    for (size_t j = 0; j < r.fds.size(); ++j) {
      const FdInfo& fd = r.fds[j];
      if (name == "SET_MEM_TABLE") {
        EXPECT_EQ(fd.kind, FdKind::Memfd);
        EXPECT_EQ(fd.name, "memfd:guest-ram" + std::to_string(j));
        EXPECT_EQ(fd.size, kScenarioRegionSize);
        EXPECT_EQ(fd.inode, sent[i]->fds[j].ino);
      } else if (name == "SET_VRING_KICK" || name == "SET_VRING_CALL") {
        EXPECT_EQ(fd.kind, FdKind::Eventfd);
        EXPECT_EQ(fd.name, "anon_inode:[eventfd]");
      } else if (name == "SET_BACKEND_REQ_FD") {
        EXPECT_EQ(fd.kind, FdKind::Socket);
        // Described as what the back-end really got: the proxy's socket, not the front-end's.
        EXPECT_EQ(fd.inode, received[i]->fds[j].ino);
        EXPECT_EQ(fd.name, "socket:[" + std::to_string(received[i]->fds[j].ino) + "]");
      }
    }
  }
}

// The kick/call eventfds and memory memfds the back-end got are the front-end's very own.
void expect_fds_shared(const std::vector<const Exchange*>& sent,
                       const std::vector<const Exchange*>& received) {
  int eventfds = 0, memfds = 0;
  for (size_t i = 0; i < sent.size() && i < received.size(); ++i) {
    std::string name = name_of(Channel::Frontend, sent[i]->bytes);
    if (name == "SET_VRING_KICK" || name == "SET_VRING_CALL") {
      ASSERT_EQ(sent[i]->kept.size(), 1u);
      ASSERT_EQ(received[i]->kept.size(), 1u);
      uint64_t v = 5 + uint64_t(i);
      ASSERT_EQ(write(sent[i]->kept[0].get(), &v, 8), 8);
      uint64_t got = 0;
      ASSERT_EQ(read(received[i]->kept[0].get(), &got, 8), 8);
      EXPECT_EQ(got, v) << name;
      ++eventfds;
    } else if (name == "SET_MEM_TABLE") {
      ASSERT_EQ(sent[i]->kept.size(), 2u);
      ASSERT_EQ(received[i]->kept.size(), 2u);
      for (size_t j = 0; j < 2; ++j) {
        std::string text = "region " + std::to_string(j);
        ASSERT_EQ(pwrite(sent[i]->kept[j].get(), text.data(), text.size(), 4096),
                  ssize_t(text.size()));
        char buf[32] = {};
        ASSERT_EQ(pread(received[i]->kept[j].get(), buf, text.size(), 4096), ssize_t(text.size()));
        EXPECT_EQ(std::string(buf), text);
        ++memfds;
      }
    }
  }
  EXPECT_EQ(eventfds, 4);
  EXPECT_EQ(memfds, 2);
}

struct Peers {
  std::unique_ptr<ScriptedBackend> backend;
  std::unique_ptr<ScriptedFrontend> frontend;
};

// Runs a scenario through the recorder: back-end listening, front-end connecting.
Peers run_scenario(RecorderHarness& h, const Scenario& sc, int backend_sessions = 1) {
  Peers p;
  BackendOptions bo = sc.backend;
  bo.path = h.backend_sock;
  bo.sessions = backend_sessions;
  p.backend = std::make_unique<ScriptedBackend>(bo);
  p.backend->start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  p.frontend = std::make_unique<ScriptedFrontend>(fo);
  p.frontend->start(sc.frontend);
  p.frontend->join();
  return p;
}

void expect_no_peer_errors(const Peers& p) {
  for (const auto& e : p.frontend->errors()) ADD_FAILURE() << e;
  for (const auto& e : p.backend->errors()) ADD_FAILURE() << e;
}

// GET_FEATURES and a close through the recorder: it accepts and relays a new session.
void expect_short_session_relayed(RecorderHarness& h) {
  BackendOptions bo;
  bo.path = h.backend_sock;
  ScriptedBackend backend(bo);
  backend.start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start({FrontendStep::send(request("GET_FEATURES")), FrontendStep::close()});
  frontend.join();
  backend.join();
  EXPECT_TRUE(frontend.errors().empty());
  EXPECT_EQ(frontend.steps_done(), 2u);
}

TEST(ProxyE2E, StartupRelayedByteExactWithFdsAndRecorded) {
  RecorderHarness h;
  // Back-end listening before the recorder starts, as qemu-storage-daemon would be.
  Scenario sc = realistic_startup();
  BackendOptions bo = sc.backend;
  bo.path = h.backend_sock;
  ScriptedBackend backend(bo);
  ASSERT_TRUE(h.start()) << h.why;
  ASSERT_GT(h.idle_fds, 0);
  backend.start();

  uint64_t t0 = now_ns();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start(sc.frontend);
  frontend.join();
  backend.join();
  uint64_t t1 = now_ns();

  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  for (const auto& e : backend.errors()) ADD_FAILURE() << e;
  EXPECT_EQ(frontend.steps_done(), sc.frontend.size());
  EXPECT_EQ(backend.sessions_ended_by_eof(), 1)
      << "the proxy closes the back-end when the front-end leaves";

  auto fe_sent = pick(frontend.transcript(), Channel::Frontend, true);
  auto fe_got = pick(frontend.transcript(), Channel::Frontend, false);
  auto be_sent = pick(backend.transcript(), Channel::Frontend, true);
  auto be_got = pick(backend.transcript(), Channel::Frontend, false);
  auto fe_chan_sent = pick(frontend.transcript(), Channel::Backend, true);
  auto fe_chan_got = pick(frontend.transcript(), Channel::Backend, false);
  auto be_chan_sent = pick(backend.transcript(), Channel::Backend, true);
  auto be_chan_got = pick(backend.transcript(), Channel::Backend, false);
  EXPECT_EQ(fe_sent.size(), 22u);
  EXPECT_EQ(be_sent.size(), 19u);  // 3 GETs + 14 acks + 2 GET_VRING_BASE replies
  EXPECT_EQ(be_chan_sent.size(), 1u);
  EXPECT_EQ(fe_chan_sent.size(), 1u);

  expect_same_stream(fe_sent, be_got, Channel::Frontend, "front-end -> back-end");
  expect_same_stream(be_sent, fe_got, Channel::Frontend, "back-end -> front-end");
  expect_same_stream(be_chan_sent, fe_chan_got, Channel::Backend, "back-end channel request");
  expect_same_stream(fe_chan_sent, be_chan_got, Channel::Backend, "back-end channel reply");
  expect_fds_shared(fe_sent, be_got);
  ASSERT_EQ(be_chan_sent.size(), 1u);
  EXPECT_EQ(name_of(Channel::Backend, be_chan_sent[0]->bytes), "BACKEND_CONFIG_CHANGE_MSG");

  // Every fd the proxy received has been closed again.
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);

  EXPECT_EQ(h.stop(), 0) << h.stderr_text();
  struct stat st;
  EXPECT_NE(lstat(h.frontend_sock.c_str(), &st), 0) << "the listening socket is unlinked at exit";

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  EXPECT_EQ(cap.warning, "");
  expect_recorded(cap.messages(Channel::Frontend, Direction::ToBackend), fe_sent, be_got,
                  Channel::Frontend, 1, "recorded requests");
  expect_recorded(cap.messages(Channel::Frontend, Direction::ToFrontend), be_sent, fe_got,
                  Channel::Frontend, 1, "recorded replies");
  expect_recorded(cap.messages(Channel::Backend, Direction::ToFrontend), be_chan_sent, fe_chan_got,
                  Channel::Backend, 1, "recorded back-end requests");
  expect_recorded(cap.messages(Channel::Backend, Direction::ToBackend), fe_chan_sent, be_chan_got,
                  Channel::Backend, 1, "recorded back-end replies");

  ASSERT_FALSE(cap.records.empty());
  const Record& first = cap.records.front();
  EXPECT_EQ(first.kind, RecordKind::Connect);
  EXPECT_EQ(first.channel, Channel::Frontend);
  EXPECT_EQ(first.session, 1u);
  EXPECT_NE(first.text().find(h.frontend_sock), std::string_view::npos) << first.text();
  EXPECT_NE(first.text().find(h.backend_sock), std::string_view::npos) << first.text();

  auto connects = cap.of_kind(RecordKind::Connect);
  ASSERT_EQ(connects.size(), 2u);
  EXPECT_EQ(connects[1]->channel, Channel::Backend);
  EXPECT_TRUE(cap.of_kind(RecordKind::Error).empty());

  auto disconnects = cap.of_kind(RecordKind::Disconnect);
  ASSERT_FALSE(disconnects.empty());
  const Record& last = *disconnects.back();
  EXPECT_EQ(last.channel, Channel::Frontend);
  EXPECT_EQ(last.direction, Direction::ToBackend) << "the front-end closed";
  EXPECT_EQ(last.text(), "front-end closed the connection");
  EXPECT_EQ(last.flags, 0);
  EXPECT_EQ(&last, &cap.records.back());

  uint64_t prev = 0;
  for (const Record& r : cap.records) {
    EXPECT_GE(r.timestamp_ns, prev);
    EXPECT_GE(r.timestamp_ns, t0);
    EXPECT_LE(r.timestamp_ns, t1);
    prev = r.timestamp_ns;
  }
}

TEST(ProxyE2E, UnansweredGetVringBaseIsNamedBySummary) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  StartupOptions o;
  o.unanswered_get_vring_base = true;
  Peers p = run_scenario(h, realistic_startup(o));
  p.backend->join();
  expect_no_peer_errors(p);
  EXPECT_EQ(h.stop(), 0);

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto requests = cap.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(name_of(Channel::Frontend, requests.back()->bytes), "GET_VRING_BASE");

  CommandResult r = run_command({vhostscope_binary(), "summary", h.capture}, h.dir.path());
  std::string out = r.out + r.err;
  EXPECT_NE(out.find("GET_VRING_BASE"), std::string::npos) << out;
  EXPECT_NE(lower(out).find("unanswered"), std::string::npos) << out;
}

TEST(ProxyE2E, ReconnectIsANewSessionInTheSameCapture) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  BackendOptions bo;
  bo.path = h.backend_sock;
  bo.sessions = 2;
  bo.reply_values = {{"GET_FEATURES", kScenarioFeatures}};
  ScriptedBackend backend(bo);
  backend.start();

  for (int s = 1; s <= 2; ++s) {
    FrontendOptions fo;
    fo.path = h.frontend_sock;
    ScriptedFrontend frontend(fo);
    frontend.start({FrontendStep::send(request("GET_FEATURES")),
                    FrontendStep::send(request("SET_OWNER")), FrontendStep::close()});
    frontend.join();
    for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
    EXPECT_EQ(frontend.steps_done(), 3u);
  }
  backend.join();
  for (const auto& e : backend.errors()) ADD_FAILURE() << e;
  EXPECT_EQ(backend.sessions_ended_by_eof(), 2);
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);
  EXPECT_EQ(h.stop(), 0);

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto connects = cap.of_kind(RecordKind::Connect);
  ASSERT_EQ(connects.size(), 2u);
  EXPECT_EQ(connects[0]->session, 1u);
  EXPECT_EQ(connects[1]->session, 2u);
  auto requests = cap.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0]->session, 1u);
  EXPECT_EQ(requests[2]->session, 2u);
  EXPECT_EQ(requests[2]->bytes, request("GET_FEATURES"));
  auto replies = cap.messages(Channel::Frontend, Direction::ToFrontend);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1]->session, 2u);
  EXPECT_EQ(replies[1]->bytes, reply("GET_FEATURES", u64_payload(kScenarioFeatures)));
  EXPECT_EQ(cap.of_kind(RecordKind::Disconnect).size(), 2u);
}

TEST(ProxyE2E, ListeningSocketIsPrivateAndAStaleSocketIsReplaced) {
  RecorderHarness h;
  {
    // A socket file nobody listens on any more (a crashed earlier run).
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, h.frontend_sock.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    close(s);
  }
  ASSERT_TRUE(h.start()) << h.why;
  struct stat st;
  ASSERT_EQ(lstat(h.frontend_sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // No staging directory left behind.
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(h.dir.path()))
    if (e.path().filename().string().starts_with(".vhs")) ++entries;
  EXPECT_EQ(entries, 0);

  // And it works: a short session through it.
  expect_short_session_relayed(h);
  EXPECT_EQ(h.stop(), 0);
}

TEST(ProxyE2E, RegularFileAtListenPathIsLeftAloneAndIsAnError) {
  TempDir dir;
  std::string path = dir / "fe.sock";
  {
    std::ofstream f(path);
    f << "precious\n";
  }
  std::string capture = dir / "capture.pcap";
  CommandResult r = run_command({vhostscope_binary(), "record", "--frontend-listen", path,
                                 "--backend-connect", dir / "be.sock", "-w", capture},
                                dir.path(), milliseconds(10000));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'" + path + "'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a socket"), std::string::npos) << r.err;
  EXPECT_EQ(read_text_file(path), "precious\n");
  struct stat st;
  EXPECT_NE(stat(capture.c_str(), &st), 0)
      << "no capture is created when the recorder cannot start";
}

TEST(ProxyE2E, SigkillLeavesAReadableCaptureWithEverythingUpToTheKill) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  StartupOptions o;
  o.close_at_end = false;  // the session is still open when the recorder dies
  Scenario sc = realistic_startup(o);
  BackendOptions bo = sc.backend;
  bo.path = h.backend_sock;
  ScriptedBackend backend(bo);
  backend.start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start(sc.frontend);
  frontend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  // Far more than the flush interval (15 ms): everything so far must be on disk.
  std::this_thread::sleep_for(milliseconds(300));
  h.proc->send_signal(SIGKILL);
  EXPECT_EQ(h.proc->wait_exit(milliseconds(5000)), 128 + SIGKILL);
  backend.join();  // sees EOF: the kernel closed the dead recorder's sockets

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  EXPECT_EQ(cap.warning, "");
  auto fe_sent = pick(frontend.transcript(), Channel::Frontend, true);
  auto be_sent = pick(backend.transcript(), Channel::Frontend, true);
  auto be_got = pick(backend.transcript(), Channel::Frontend, false);
  auto fe_got = pick(frontend.transcript(), Channel::Frontend, false);
  expect_recorded(cap.messages(Channel::Frontend, Direction::ToBackend), fe_sent, be_got,
                  Channel::Frontend, 1, "requests");
  expect_recorded(cap.messages(Channel::Frontend, Direction::ToFrontend), be_sent, fe_got,
                  Channel::Frontend, 1, "replies");
  EXPECT_TRUE(cap.of_kind(RecordKind::Disconnect).empty());
}

TEST(ProxyE2E, SigintStopsCleanlyMidSession) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  BackendOptions bo;
  bo.path = h.backend_sock;
  ScriptedBackend backend(bo);
  backend.start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start({FrontendStep::send(request("GET_FEATURES")), FrontendStep::expect_closed()});
  ASSERT_TRUE(h.proc->wait_for_stderr("session 1:", milliseconds(5000))) << h.stderr_text();
  std::this_thread::sleep_for(milliseconds(100));
  h.proc->send_signal(SIGINT);
  EXPECT_EQ(h.proc->wait_exit(milliseconds(5000)), 0) << h.stderr_text();
  frontend.join();
  backend.join();
  EXPECT_TRUE(frontend.closed_by_peer()) << "stopping the recorder closes both sides";
  EXPECT_EQ(backend.sessions_ended_by_eof(), 1);

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto disconnects = cap.of_kind(RecordKind::Disconnect);
  ASSERT_EQ(disconnects.size(), 1u);
  EXPECT_NE(disconnects[0]->text().find("recorder stopped"), std::string_view::npos);
  EXPECT_EQ(disconnects[0]->flags, kRecordClosedByProxy);
  EXPECT_EQ(cap.messages(Channel::Frontend, Direction::ToBackend).size(), 1u);
  EXPECT_EQ(cap.messages(Channel::Frontend, Direction::ToFrontend).size(), 1u);
}

TEST(ProxyE2E, ConnectsToAListeningFrontendAndAcceptsTheBackend) {
  RecorderHarness h;
  // QEMU server=on: the front-end listens; DPDK client mode: the back-end connects to us.
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  fo.listen = true;
  ScriptedFrontend frontend(fo);
  frontend.start(
      {FrontendStep::send(request("GET_FEATURES")),
       FrontendStep::send(request("SET_BACKEND_REQ_FD", {}, true), {FdSpec::backend_channel()}),
       FrontendStep::send(request("GET_PROTOCOL_FEATURES")), FrontendStep::close()});
  BackendOptions bo;
  bo.path = h.backend_sock;
  bo.listen = false;
  bo.reply_values = {{"GET_FEATURES", kScenarioFeatures}};
  BackendAction a;
  a.after = "GET_PROTOCOL_FEATURES";
  a.bytes = request("BACKEND_CONFIG_CHANGE_MSG", {}, true);
  bo.actions.push_back(a);
  ScriptedBackend backend(bo);
  backend.start();
  ASSERT_TRUE(h.start({}, /*frontend_listen=*/false, /*backend_connect=*/false)) << h.why;
  frontend.join();
  backend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  for (const auto& e : backend.errors()) ADD_FAILURE() << e;
  EXPECT_EQ(frontend.steps_done(), 4u);
  expect_same_stream(pick(frontend.transcript(), Channel::Frontend, true),
                     pick(backend.transcript(), Channel::Frontend, false), Channel::Frontend,
                     "requests");
  expect_same_stream(pick(backend.transcript(), Channel::Backend, true),
                     pick(frontend.transcript(), Channel::Backend, false), Channel::Backend,
                     "back-end channel");
  struct stat st;
  ASSERT_EQ(lstat(h.backend_sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();
  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  EXPECT_EQ(cap.messages(Channel::Frontend, Direction::ToBackend).size(), 3u);
  EXPECT_EQ(cap.messages(Channel::Backend, Direction::ToFrontend).size(), 1u);
  EXPECT_EQ(cap.messages(Channel::Backend, Direction::ToBackend).size(), 1u);
}

TEST(ProxyE2E, BackendThatAppearsLateIsRetried) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start({FrontendStep::send(request("GET_FEATURES")), FrontendStep::close()});
  ASSERT_TRUE(wait_for_path(h.frontend_sock, milliseconds(2000)));
  std::this_thread::sleep_for(
      milliseconds(300));  // the front-end is connected, the back-end not yet there
  BackendOptions bo;
  bo.path = h.backend_sock;
  ScriptedBackend backend(bo);
  backend.start();
  frontend.join();
  backend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  for (const auto& e : backend.errors()) ADD_FAILURE() << e;
  EXPECT_EQ(frontend.steps_done(), 2u);
  EXPECT_EQ(h.stop(), 0);
}

TEST(ProxyE2E, BackendThatNeverAppearsClosesTheFrontendAndTheNextSessionWorks) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--connect-timeout", "0.3"})) << h.why;
  {
    FrontendOptions fo;
    fo.path = h.frontend_sock;
    ScriptedFrontend frontend(fo);
    frontend.start({FrontendStep::expect_closed()});
    frontend.join();
    for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
    EXPECT_TRUE(frontend.closed_by_peer());
  }
  EXPECT_TRUE(h.proc->wait_for_stderr("cannot connect to back-end '" + h.backend_sock + "'",
                                      milliseconds(2000)))
      << h.stderr_text();
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);

  expect_short_session_relayed(h);
  EXPECT_EQ(h.stop(), 0);

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto errors = cap.of_kind(RecordKind::Error);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]->session, 1u);
  EXPECT_NE(errors[0]->text().find("cannot connect to back-end"), std::string_view::npos);
  auto requests = cap.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]->session, 2u);
}

TEST(ProxyE2E, BackendChannelClosedByTheBackendIsClosedOnTheFrontendTooAndTheSessionGoesOn) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  BackendOptions bo;
  bo.path = h.backend_sock;
  bo.actions = {{"GET_PROTOCOL_FEATURES", 1, BackendAction::Kind::CloseBackendChannel, {}, {}}};
  ScriptedBackend backend(bo);
  backend.start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start(
      {FrontendStep::send(request("SET_BACKEND_REQ_FD", {}, true), {FdSpec::backend_channel()}),
       FrontendStep::send(request("GET_PROTOCOL_FEATURES")),
       FrontendStep::expect_backend_channel_closed(), FrontendStep::send(request("GET_FEATURES")),
       FrontendStep::close()});
  frontend.join();
  backend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << e;
  for (const auto& e : backend.errors()) ADD_FAILURE() << e;
  EXPECT_EQ(frontend.steps_done(), 5u);
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);
  EXPECT_EQ(h.stop(), 0);

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  auto disconnects = cap.of_kind(RecordKind::Disconnect);
  ASSERT_EQ(disconnects.size(), 2u);
  EXPECT_EQ(disconnects[0]->channel, Channel::Backend);
  EXPECT_EQ(disconnects[0]->direction, Direction::ToFrontend);
  EXPECT_EQ(disconnects[0]->text(), "back-end closed the connection on the back-end channel");
  EXPECT_EQ(disconnects[1]->channel, Channel::Frontend);
  EXPECT_EQ(cap.messages(Channel::Frontend, Direction::ToBackend).size(), 3u);
  EXPECT_EQ(cap.messages(Channel::Frontend, Direction::ToFrontend).size(), 3u);
}

TEST(ProxyE2E, StopWhileWaitingForTheBackendRecordsConnectAndDisconnect) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--connect-timeout", "30"})) << h.why;
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start({FrontendStep::expect_closed()});
  ASSERT_TRUE(wait_for_path(h.frontend_sock, milliseconds(2000)));
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();
  frontend.join();
  EXPECT_TRUE(frontend.closed_by_peer());
  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  ASSERT_EQ(cap.records.size(), 2u);
  EXPECT_EQ(cap.records[0].kind, RecordKind::Connect);
  EXPECT_NE(cap.records[0].text().find("no back-end yet"), std::string_view::npos);
  EXPECT_EQ(cap.records[1].kind, RecordKind::Disconnect);
  EXPECT_EQ(cap.records[1].flags, kRecordClosedByProxy);
}

}  // namespace
}  // namespace vhs::test

namespace vhs::test {
namespace {

// A recorder that never reaches its peer records no session: exit 2, and the capture it created
// (header only) is taken back rather than left empty behind.
TEST(ProxyE2E, UnreachableFrontendExitsTwoAndLeavesNoCapture) {
  TempDir dir;
  const std::string capture = dir / "never.pcap";
  const CommandResult r =
      run_command({vhostscope_binary(), "record", "--frontend-connect", dir / "nobody.sock",
                   "--backend-connect", dir / "be.sock", "-w", capture, "--connect-timeout", "1"},
                  dir.path(), std::chrono::milliseconds(15000));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot connect to front-end"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no session was recorded; '" + capture + "' not written"), std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(capture));
}

}  // namespace
}  // namespace vhs::test
