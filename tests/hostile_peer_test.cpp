// Hostile peers against the real `vhostscope record`, each scripted case checked the same way:
// the recorder survives, the next session relays byte-exact, the capture loads into a Store, the
// finding is named, and the recorder's fd count (/proc/PID/fd) is back where it was once the
// session ended. Covers what once broke (garbage on the back-end channel ended the whole session,
// an oversized message never sent counted as unanswered, one idle front-end blocked the next,
// replay re-created any memory size a capture claimed) and what held, so it stays held.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "support/capture_read.hpp"
#include "support/capture_write.hpp"
#include "support/message_builder.hpp"
#include "support/recorder_harness.hpp"
#include "support/scripted_backend.hpp"
#include "support/scripted_frontend.hpp"

namespace vhs::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kBackendConfigChange = 2;  // BACKEND_CONFIG_CHANGE_MSG (back-end channel)

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

std::vector<Bytes> bytes_of(const std::vector<Exchange>& t, Channel channel, bool sent) {
  std::vector<Bytes> out;
  for (const Exchange& e : t)
    if (e.channel == channel && e.sent == sent) out.push_back(e.bytes);
  return out;
}

// The recorder is still there, gave back every fd of the bad session, and relays a next session
// byte-exact in both directions.
void expect_survives_and_relays_next(RecorderHarness& h) {
  ASSERT_TRUE(h.proc->running()) << h.stderr_text();
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds)
      << "fd leak in the recorder";
  BackendOptions bo;
  bo.reply_values = {{"GET_FEATURES", 0x1234}};
  PeerRun r = run_session(h,
                          {FrontendStep::send(request("GET_FEATURES")),
                           FrontendStep::send(request("SET_FEATURES", u64_payload(0x1234), true)),
                           FrontendStep::close()},
                          bo);
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  for (const auto& e : r.backend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.frontend->steps_done(), 3u);
  EXPECT_EQ(bytes_of(r.frontend->transcript(), Channel::Frontend, true),
            bytes_of(r.backend->transcript(), Channel::Frontend, false));
  EXPECT_EQ(bytes_of(r.backend->transcript(), Channel::Frontend, true),
            bytes_of(r.frontend->transcript(), Channel::Frontend, false));
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);
}

struct Loaded {
  Store store;
  bool ok = false;
};

// Stops the recorder and loads its capture into a Store.
void stop_and_load(RecorderHarness& h, Loaded& out) {
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();
  std::string warning, error;
  out.ok = load_capture(h.capture, out.store, warning, error);
  EXPECT_TRUE(out.ok) << error;
  EXPECT_EQ(warning, "");
}

// Ids of every finding on the entries of `session`.
std::set<std::string> finding_ids(const Store& store, uint32_t session) {
  std::set<std::string> ids;
  for (size_t i = 0; i < store.size(); ++i) {
    if (store.session_of(i).id != session) continue;
    for (const Finding& f : store.findings(i)) ids.insert(std::string(finding_info(f.code).id));
  }
  return ids;
}

std::string joined(const std::set<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += id + " ";
  return s;
}

std::vector<const Record*> of_session(const CaptureContents& cap, uint32_t session,
                                      RecordKind kind) {
  std::vector<const Record*> out;
  for (const Record& r : cap.records)
    if (r.session == session && r.kind == kind) out.push_back(&r);
  return out;
}

// ---------------------------------------------------------------- the failures that were fixed

// Issue item 5: the front-end itself only drops a back-end channel it cannot read (spec
// "Back-end communication"); the proxy must not end the whole session for it.
TEST(HostilePeer, OversizedMessageOnTheBackendChannelClosesOnlyThatChannel) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  const Bytes garbage = header_bytes(kBackendConfigChange, 0x1, 100000);
  BackendOptions bo;
  bo.actions = {{"GET_PROTOCOL_FEATURES", 1, BackendAction::Kind::BackendRequest, garbage, {}}};
  PeerRun r = run_session(
      h,
      {FrontendStep::send(request("SET_BACKEND_REQ_FD", {}, true), {FdSpec::backend_channel()}),
       FrontendStep::send(request("GET_PROTOCOL_FEATURES")),
       FrontendStep::expect_backend_channel_closed(), FrontendStep::send(request("GET_FEATURES")),
       FrontendStep::close()},
      bo);
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  for (const auto& e : r.backend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.frontend->steps_done(), 5u) << "the main channel goes on after the back-end channel";
  EXPECT_FALSE(r.frontend->closed_by_peer());
  // Every front-end channel message got through both ways.
  EXPECT_EQ(bytes_of(r.frontend->transcript(), Channel::Frontend, true),
            bytes_of(r.backend->transcript(), Channel::Frontend, false));
  EXPECT_EQ(bytes_of(r.backend->transcript(), Channel::Frontend, true),
            bytes_of(r.frontend->transcript(), Channel::Frontend, false));
  EXPECT_TRUE(bytes_of(r.frontend->transcript(), Channel::Backend, false).empty())
      << "the oversized message is not relayed";
  const std::string why =
      "back-end sent BACKEND_CONFIG_CHANGE_MSG on the back-end channel with size 100000 > 4096 "
      "(cap); cannot relay safely, closing the back-end channel";
  EXPECT_NE(h.stderr_text().find("session 1: " + why), std::string::npos) << h.stderr_text();
  expect_survives_and_relays_next(h);

  Loaded l;
  stop_and_load(h, l);
  CaptureContents cap = read_capture(h.capture);
  auto errors = of_session(cap, 1, RecordKind::Error);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]->channel, Channel::Backend);
  EXPECT_EQ(errors[0]->text(), why);
  auto disconnects = of_session(cap, 1, RecordKind::Disconnect);
  ASSERT_EQ(disconnects.size(), 2u);
  EXPECT_EQ(disconnects[0]->channel, Channel::Backend);
  EXPECT_EQ(disconnects[0]->flags, kRecordClosedByProxy);
  EXPECT_EQ(disconnects[0]->text(), "proxy closed the back-end channel: " + why);
  EXPECT_EQ(disconnects[1]->channel, Channel::Frontend);
  EXPECT_EQ(disconnects[1]->flags, 0) << "the front-end ended the session itself";
  EXPECT_EQ(disconnects[1]->text(), "front-end closed the connection");
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("relay-failed")) << joined(ids);
}

// Issue item 7: a message the proxy refused to relay was never sent, so nobody waits for it.
TEST(HostilePeer, OversizedRequestThatWasNeverRelayedIsNotUnanswered) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  const Bytes header = header_bytes(request_number("GET_FEATURES"), 0x1, 5000);
  PeerRun r = run_session(h, {FrontendStep::raw(header), FrontendStep::expect_closed()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  EXPECT_TRUE(r.frontend->closed_by_peer());
  expect_survives_and_relays_next(h);

  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("relay-failed")) << joined(ids);
  EXPECT_FALSE(ids.count("unanswered")) << joined(ids);
  EXPECT_FALSE(ids.count("disconnect-with-pending")) << joined(ids);
  const CommandResult s =
      run_command({vhostscope_binary(), "summary", h.capture, "--session", "1"}, h.dir.path());
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(s.out.find("UNANSWERED"), std::string::npos) << s.out;
}

// Issue item 7: `-w` on a FIFO must not block the recorder forever waiting for a reader.
TEST(HostilePeer, RecordToAFifoIsRefusedAtOnce) {
  TempDir dir;
  const std::string fifo = dir / "capture.pcap";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto start = Clock::now();
  const CommandResult r =
      run_command({vhostscope_binary(), "record", "--frontend-listen", dir / "fe.sock",
                   "--backend-connect", dir / "be.sock", "-w", fifo},
                  dir.path(), milliseconds(10000));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("FIFO"), std::string::npos) << r.err;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

// Issue item 7: a capture claiming a huge guest RAM must not make replay reserve it.
TEST(HostilePeer, ReplayRefusesMoreGuestMemoryThanItsCapAndTheOptionRaisesIt) {
  TempDir dir;
  const uint64_t two_gib = uint64_t{2} << 30;
  RecordList list;
  list.add(RecordKind::Connect, Direction::ToBackend, Bytes{'c'});
  const Region region{0, two_gib, 0x7f0000000000, 0};
  FdInfo ram;
  ram.kind = FdKind::Memfd;
  ram.inode = 4242;
  ram.size = two_gib;
  ram.name = "memfd:huge";
  list.add(RecordKind::Message, Direction::ToBackend,
           request("SET_MEM_TABLE", mem_table(std::vector<Region>{region})), {ram});
  list.add(RecordKind::Disconnect, Direction::ToBackend, Bytes{'d'});
  const std::string capture = write_capture(dir, "huge.pcap", list.records());
  const std::string sock = dir / "be.sock";

  {
    BackendOptions bo;
    bo.path = sock;
    bo.timeout = milliseconds(3000);
    ScriptedBackend backend(bo);
    backend.start();
    const CommandResult r = run_command(
        {vhostscope_binary(), "replay", capture, "--backend-connect", sock, "--timeout", "2"},
        dir.path());
    backend.join();
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("2147483648 bytes, more than the replay's cap of 1073741824 bytes (raise "
                         "it with --max-guest-memory SIZE)"),
              std::string::npos)
        << r.err;
  }
  {
    BackendOptions bo;
    bo.path = sock;
    ScriptedBackend backend(bo);
    backend.start();
    const CommandResult r =
        run_command({vhostscope_binary(), "replay", capture, "--backend-connect", sock, "--timeout",
                     "2", "--max-guest-memory", "3G"},
                    dir.path());
    backend.join();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.err.find("--max-guest-memory"), std::string::npos) << r.err;
  }
  const CommandResult bad = run_command({vhostscope_binary(), "replay", capture,
                                         "--backend-connect", sock, "--max-guest-memory", "lots"},
                                        dir.path());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--max-guest-memory needs a size"), std::string::npos) << bad.err;
}

// ---------------------------------------------------------------- what held, kept held

TEST(HostilePeer, OversizedSizeFieldClosesTheSessionAndIsNamed) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  PeerRun r = run_session(
      h, {FrontendStep::raw(header_bytes(request_number("SET_MEM_TABLE"), 0x1, 1 << 20)),
          FrontendStep::expect_closed()});
  EXPECT_TRUE(r.frontend->closed_by_peer());
  EXPECT_EQ(r.backend->sessions_ended_by_eof(), 1);
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("relay-failed")) << joined(ids);
}

TEST(HostilePeer, TruncatedMessageThenCloseIsNamed) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  Bytes partial = header_bytes(request_number("SET_VRING_NUM"), 0x1, 8);
  partial.push_back(1);
  PeerRun r = run_session(h, {FrontendStep::raw(partial), FrontendStep::close()});
  EXPECT_EQ(r.backend->sessions_ended_by_eof(), 1);
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("peer-vanished")) << joined(ids);
}

TEST(HostilePeer, UnknownRequestsAndAReplyFlagFromTheFrontendAreRelayedAndNamed) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  const Bytes unknown = message(777, 0x1, Bytes{1, 2, 3, 4});
  const Bytes reply_flag = message(request_number("SET_OWNER"), 0x5, {});
  PeerRun r = run_session(h, {FrontendStep::send(unknown), FrontendStep::raw(reply_flag),
                              FrontendStep::send(request("GET_FEATURES")), FrontendStep::close()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.frontend->steps_done(), 4u);
  auto got = bytes_of(r.backend->transcript(), Channel::Frontend, false);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], unknown);
  EXPECT_EQ(got[1], reply_flag);
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("unknown-request")) << joined(ids);
  EXPECT_TRUE(ids.count("unexpected-reply")) << joined(ids);
}

TEST(HostilePeer, TheKernelMaximumOf253FdsOnOneMessageIsTruncatedAndNamed) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  std::vector<FdSpec> fds(253, FdSpec::eventfd());
  PeerRun r = run_session(h, {FrontendStep::send(request("SET_OWNER"), fds),
                              FrontendStep::send(request("GET_FEATURES")), FrontendStep::close()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  EXPECT_EQ(r.frontend->steps_done(), 3u);
  ASSERT_FALSE(r.backend->transcript().empty());
  EXPECT_EQ(r.backend->transcript().front().fds.size(), kMaxFdsPerMessage);
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("fds-truncated")) << joined(ids);
}

TEST(HostilePeer, FdsOnAMessageThatTakesNoneAreRelayedAndNamed) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  PeerRun r = run_session(
      h, {FrontendStep::send(request("GET_FEATURES"), {FdSpec::eventfd()}), FrontendStep::close()});
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  ASSERT_FALSE(r.backend->transcript().empty());
  const Exchange& got = r.backend->transcript().front();
  ASSERT_EQ(got.fds.size(), 1u);
  EXPECT_EQ(got.fds[0], r.frontend->transcript().front().fds[0]) << "the same eventfd arrives";
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("fd-count")) << joined(ids);
}

// A back-end that stops reading: the proxy holds at most one message per direction (plus one read
// buffer), so the front-end's writes back up in the kernel socket buffers — the proxy neither
// grows nor blocks — and the other direction keeps flowing.
TEST(HostilePeer, BackendThatStopsReadingNeitherBlocksTheOtherDirectionNorGrowsTheProxy) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  UniqueFd listener = listen_on(h.backend_sock);
  ASSERT_TRUE(listener);
  UniqueFd front = connect_to(h.frontend_sock, milliseconds(5000));
  ASSERT_TRUE(front);
  UniqueFd back = accept_from(listener.get(), milliseconds(5000));
  ASSERT_TRUE(back);
  auto rss_kb = [&] {
    std::ifstream in("/proc/" + std::to_string(h.proc->pid()) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
    return -1L;
  };
  const long rss_before = rss_kb();

  // Flood until the front-end's socket buffer is full (the proxy stopped reading it).
  const Bytes msg = request("SET_FEATURES", u64_payload(1));
  ::fcntl(front.get(), F_SETFL, ::fcntl(front.get(), F_GETFL) | O_NONBLOCK);
  size_t sent = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    ssize_t n = ::send(front.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::this_thread::sleep_for(milliseconds(100));
      n = ::send(front.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    }
    ASSERT_GT(n, 0) << errno;
    sent += static_cast<size_t>(n);
  }
  ASSERT_LT(Clock::now(), deadline) << "the front-end never blocked: the proxy kept buffering";
  EXPECT_GT(sent, msg.size() * 10);

  // The other direction still flows while the front-end direction is stuck.
  const Bytes unsolicited = reply("GET_FEATURES", u64_payload(0x42));
  ASSERT_EQ(send_message(back.get(), unsolicited, {}, milliseconds(2000)), IoStatus::Ok);
  ReceivedMessage m;
  ASSERT_EQ(recv_message(front.get(), m, milliseconds(5000)), IoStatus::Ok);
  EXPECT_EQ(m.bytes, unsolicited);
  const long rss_after = rss_kb();
  EXPECT_LT(rss_after - rss_before, 4096) << "the proxy's memory grew with the flood";

  front.reset();
  back.reset();
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
}

TEST(HostilePeer, SlowSenderOneByteAtATimeIsRelayedWhole) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  UniqueFd listener = listen_on(h.backend_sock);
  ASSERT_TRUE(listener);
  UniqueFd front = connect_to(h.frontend_sock, milliseconds(5000));
  ASSERT_TRUE(front);
  UniqueFd back = accept_from(listener.get(), milliseconds(5000));
  ASSERT_TRUE(back);
  const Bytes msg = request("SET_VRING_NUM", vring_state(0, 256));
  for (uint8_t b : msg) {
    ASSERT_EQ(::send(front.get(), &b, 1, MSG_NOSIGNAL), 1);
    std::this_thread::sleep_for(milliseconds(2));
  }
  ReceivedMessage m;
  ASSERT_EQ(recv_message(back.get(), m, milliseconds(5000)), IoStatus::Ok);
  EXPECT_EQ(m.bytes, msg);
  front.reset();
  back.reset();
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  size_t messages = 0;
  for (size_t i = 0; i < l.store.size(); ++i)
    if (l.store.session_of(i).id == 1 && l.store.entry(i).is_message()) {
      ++messages;
      EXPECT_EQ(Bytes(l.store.bytes(i).begin(), l.store.bytes(i).end()), msg);
    }
  EXPECT_EQ(messages, 1u) << "one record, not one per byte";
}

// Memory table and rings the guest never could have: regions that overlap or wrap past the end
// of the address space, and a started ring whose addresses are in no region.
std::vector<FrontendStep> bad_memory_script(const std::vector<Region>& regions, bool start_ring) {
  std::vector<FdSpec> fds;
  for (size_t i = 0; i < regions.size(); ++i)
    fds.push_back(FdSpec::memfd("ram" + std::to_string(i), 1 << 16));
  std::vector<FrontendStep> s = {
      FrontendStep::send(request("SET_FEATURES", u64_payload(1ull << 32))),
      FrontendStep::send(request("SET_MEM_TABLE", mem_table(regions)), fds)};
  if (start_ring) {
    s.push_back(FrontendStep::send(request("SET_VRING_NUM", vring_state(0, 256))));
    s.push_back(FrontendStep::send(request("SET_VRING_BASE", vring_state(0, 0))));
    s.push_back(FrontendStep::send(
        request("SET_VRING_ADDR", vring_addr(0, 0, 0x900000000, 0x900002000, 0x900001000, 0))));
    s.push_back(
        FrontendStep::send(request("SET_VRING_CALL", vring_index_fd(0)), {FdSpec::eventfd()}));
    s.push_back(
        FrontendStep::send(request("SET_VRING_KICK", vring_index_fd(0)), {FdSpec::eventfd()}));
  }
  return s;
}

TEST(HostilePeer, RingOutsideEveryRegionIsNamedAndTheProxyKeepsSampling) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--sample-interval", "10"})) << h.why;
  std::vector<Region> regions = {{0, 1 << 16, 0x7f0000000000, 0}};
  // The ring is sampled after each message touching it: the kick fd starts it.
  PeerRun r = run_session(h, [&] {
    auto s = bad_memory_script(regions, true);
    s.push_back(FrontendStep::send(request("GET_FEATURES")));
    s.push_back(FrontendStep::close());
    return s;
  }());
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("ring-address-unmapped")) << joined(ids);
}

TEST(HostilePeer, OverlappingAndWrappingRegionsAreNamed) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--sample-interval", "10"})) << h.why;
  std::vector<Region> regions = {{0, 1 << 16, 0x7f0000000000, 0},
                                 {0x8000, 1 << 16, 0x7f1000000000, 0},
                                 {UINT64_MAX - 0xfff, 1 << 16, 0x7f2000000000, 0}};
  PeerRun r = run_session(h, [&] {
    auto s = bad_memory_script(regions, true);
    s.push_back(FrontendStep::close());
    return s;
  }());
  for (const auto& e : r.frontend->errors()) ADD_FAILURE() << e;
  expect_survives_and_relays_next(h);
  Loaded l;
  stop_and_load(h, l);
  const auto ids = finding_ids(l.store, 1);
  EXPECT_TRUE(ids.count("overlapping-region")) << joined(ids);
  EXPECT_TRUE(ids.count("invalid-field")) << joined(ids);
}

// ---------------------------------------------------------------- concurrent sessions (issue item
// 6)

// A front-end that connects and stays idle must not keep the next one waiting: each accepted
// front-end gets its own back-end connection and session number at once, records of both
// interleave in one capture, and `summary` / `dump --session` keep them apart.
TEST(HostilePeer, IdleFrontendDoesNotBlockTheNextOneAndSessionsInterleave) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"--control", h.dir / "ctl.sock"})) << h.why;
  UniqueFd listener = listen_on(h.backend_sock);
  ASSERT_TRUE(listener);
  UniqueFd idle_front = connect_to(h.frontend_sock, milliseconds(5000));
  ASSERT_TRUE(idle_front);
  UniqueFd idle_back = accept_from(listener.get(), milliseconds(5000));
  ASSERT_TRUE(idle_back) << "the first front-end got no back-end connection";

  UniqueFd front = connect_to(h.frontend_sock, milliseconds(5000));
  ASSERT_TRUE(front);
  UniqueFd back = accept_from(listener.get(), milliseconds(3000));
  ASSERT_TRUE(back) << "the second front-end waits behind the idle one";
  const Bytes get = request("GET_FEATURES");
  const Bytes answer = reply("GET_FEATURES", u64_payload(0x1234));
  ASSERT_EQ(send_message(front.get(), get), IoStatus::Ok);
  ReceivedMessage m;
  ASSERT_EQ(recv_message(back.get(), m, milliseconds(3000)), IoStatus::Ok);
  EXPECT_EQ(m.bytes, get);
  ASSERT_EQ(send_message(back.get(), answer), IoStatus::Ok);
  ASSERT_EQ(recv_message(front.get(), m, milliseconds(3000)), IoStatus::Ok);
  EXPECT_EQ(m.bytes, answer);

  // The control socket names the sessions: the newest by default, any live one by number.
  const std::string ctl = h.dir / "ctl.sock";
  CommandResult st = run_command({vhostscope_binary(), "ctl", ctl, "status"}, h.dir.path());
  EXPECT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("sessions: 1, 2 live; this is session 2"), std::string::npos) << st.out;
  st = run_command({vhostscope_binary(), "ctl", "--session", "1", ctl, "status"}, h.dir.path());
  EXPECT_EQ(st.exit_code, 0) << st.err;
  EXPECT_EQ(st.out, "held: none\nbreakpoints: none\n\n");
  st = run_command({vhostscope_binary(), "ctl", "--session", "7", ctl, "status"}, h.dir.path());
  EXPECT_EQ(st.exit_code, 2);
  EXPECT_NE(st.err.find("no live session 7 (live: 1, 2)"), std::string::npos) << st.err;

  // The idle session still relays, after the other one.
  const Bytes owner = request("SET_OWNER");
  ASSERT_EQ(send_message(idle_front.get(), owner), IoStatus::Ok);
  ASSERT_EQ(recv_message(idle_back.get(), m, milliseconds(3000)), IoStatus::Ok);
  EXPECT_EQ(m.bytes, owner);
  front.reset();
  back.reset();
  idle_front.reset();
  idle_back.reset();
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);

  Loaded l;
  stop_and_load(h, l);
  CaptureContents cap = read_capture(h.capture);
  std::vector<std::pair<uint32_t, Bytes>> messages;
  for (const Record& r : cap.records)
    if (r.kind == RecordKind::Message) messages.emplace_back(r.session, r.bytes);
  EXPECT_EQ(messages, (std::vector<std::pair<uint32_t, Bytes>>{{2, get}, {2, answer}, {1, owner}}))
      << "session 1 started first, its message came last";
  ASSERT_EQ(l.store.sessions().size(), 2u);
  const CommandResult dump =
      run_command({vhostscope_binary(), "dump", h.capture, "--session", "1"}, h.dir.path());
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("SET_OWNER"), std::string::npos) << dump.out;
  EXPECT_EQ(dump.out.find("GET_FEATURES"), std::string::npos) << dump.out;
  const CommandResult summary =
      run_command({vhostscope_binary(), "summary", h.capture, "--session", "2"}, h.dir.path());
  EXPECT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_EQ(summary.out.find("UNANSWERED"), std::string::npos) << summary.out;
}

// Many front-ends at once, each with its own scripted back-end conversation through one recorder.
TEST(HostilePeer, SeveralConcurrentSessionsEachRelayByteExact) {
  RecorderHarness h;
  ASSERT_TRUE(h.start()) << h.why;
  UniqueFd listener = listen_on(h.backend_sock);
  ASSERT_TRUE(listener);
  constexpr int kSessions = 5;
  std::vector<UniqueFd> fronts, backs;
  for (int i = 0; i < kSessions; ++i) {
    fronts.push_back(connect_to(h.frontend_sock, milliseconds(5000)));
    ASSERT_TRUE(fronts.back());
    backs.push_back(accept_from(listener.get(), milliseconds(3000)));
    ASSERT_TRUE(backs.back()) << "session " << i + 1;
  }
  for (int round = 0; round < 3; ++round)
    for (int i = kSessions - 1; i >= 0; --i) {
      const Bytes msg =
          request("SET_VRING_NUM", vring_state(static_cast<uint32_t>(i), 256 + round));
      ASSERT_EQ(send_message(fronts[i].get(), msg), IoStatus::Ok);
      ReceivedMessage m;
      ASSERT_EQ(recv_message(backs[i].get(), m, milliseconds(3000)), IoStatus::Ok);
      EXPECT_EQ(m.bytes, msg) << "session " << i + 1;
    }
  fronts.clear();
  backs.clear();
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, milliseconds(5000)), h.idle_fds);
  Loaded l;
  stop_and_load(h, l);
  ASSERT_EQ(l.store.sessions().size(), static_cast<size_t>(kSessions));
  for (size_t i = 0; i < l.store.size(); ++i) {
    if (!l.store.entry(i).is_message()) continue;
    const uint32_t session = l.store.session_of(i).id;
    const DecodedMessage decoded = l.store.decoded(i);
    const auto* v = std::get_if<VringStateValue>(&decoded.payload);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->index + 1, session) << "each message is recorded under its own session";
  }
}

}  // namespace
}  // namespace vhs::test
