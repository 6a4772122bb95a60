// Replay: a session recorded through `vhostscope record` (scripted front-end and back-end) is
// replayed as the front-end against scripted back-ends configured the same or differently, and as
// the back-end towards the scripted front-end; plus real qemu-storage-daemon back-ends with the
// shipped boot capture and with a recording made here. Every wait is bounded; children are killed
// by PID.
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"
#include "proxy/fd_describe.hpp"
#include "proxy/replay.hpp"
#include "proxy/replay_engine.hpp"
#include "proxy/replay_fds.hpp"
#include "support/capture_write.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/vhost_scenarios.hpp"

namespace vhs {
namespace {

using namespace vhs::test;
using Clock = std::chrono::steady_clock;

// Records `sc` through the real recorder and copies the capture to `dir / name`.
std::string record_to(const TempDir& dir, const Scenario& sc,
                      const std::string& name = "recorded.pcap") {
  RecorderHarness h;
  BackendOptions bo = sc.backend;
  bo.path = h.backend_sock;
  ScriptedBackend backend(bo);
  EXPECT_TRUE(h.start()) << h.why;
  backend.start();
  FrontendOptions fo;
  fo.path = h.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start(sc.frontend);
  frontend.join();
  backend.join();
  for (const auto& e : frontend.errors()) ADD_FAILURE() << "while recording: " << e;
  for (const auto& e : backend.errors()) ADD_FAILURE() << "while recording: " << e;
  EXPECT_EQ(h.stop(), 0) << h.stderr_text();
  const std::string path = dir / name;
  std::filesystem::copy_file(h.capture, path, std::filesystem::copy_options::overwrite_existing);
  return path;
}

void load(const std::string& path, Store& store) {
  std::string warning, error;
  ASSERT_TRUE(load_capture(path, store, warning, error)) << error;
}

ReplayOptions frontend_options(const std::string& socket, std::chrono::milliseconds timeout =
                                                              std::chrono::milliseconds(2000)) {
  ReplayOptions o;
  o.role = ReplayRole::Frontend;
  o.socket_path = socket;
  o.reply_timeout = timeout;
  o.connect_timeout = std::chrono::milliseconds(5000);
  return o;
}

// Bytes of every recorded message travelling `direction` on `channel`, in order.
std::vector<Bytes> recorded_bytes(const Store& store, Channel channel, Direction direction) {
  std::vector<Bytes> out;
  for (size_t i = 0; i < store.size(); ++i) {
    const StoreEntry& e = store.entry(i);
    if (e.is_message() && e.channel == channel && e.direction == direction)
      out.emplace_back(store.bytes(i).begin(), store.bytes(i).end());
  }
  return out;
}

std::vector<Bytes> transcript_bytes(const std::vector<Exchange>& t, Channel channel, bool sent) {
  std::vector<Bytes> out;
  for (const Exchange& e : t)
    if (e.channel == channel && e.sent == sent) out.push_back(e.bytes);
  return out;
}

std::string all_lines(const ReplayResult& r) {
  std::string s;
  for (const Divergence& d : r.divergences)
    for (const std::string& line : divergence_lines(d, true)) s += line + "\n";
  return s.empty() ? "(no divergences)" : s;
}

// Runs the replay with a scripted back-end `bo` listening at `dir / "be.sock"`.
ReplayResult replay_against(const TempDir& dir, const std::string& capture, BackendOptions bo,
                            ReplayOptions ro, std::vector<std::string>* backend_errors = nullptr,
                            std::vector<Exchange>* transcript = nullptr) {
  bo.path = dir / "be.sock";
  ScriptedBackend backend(bo);
  backend.start();
  Store store;
  load(capture, store);
  ro.socket_path = bo.path;
  ReplayResult r = run_replay(store, ro);
  backend.join();
  if (backend_errors) *backend_errors = backend.errors();
  if (transcript) {
    transcript->clear();
    for (const Exchange& e : backend.transcript()) {
      Exchange c;
      c.channel = e.channel;
      c.sent = e.sent;
      c.bytes = e.bytes;
      c.fds = e.fds;
      transcript->push_back(std::move(c));
    }
  }
  return r;
}

TEST(ReplayFrontend, StartupAgainstTheSameBackendHasNoDivergence) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  Store recorded;
  load(capture, recorded);

  std::string out = dir / "replay.pcap";
  std::string error;
  auto writer = CaptureWriter::create(out, error);
  ASSERT_TRUE(writer) << error;
  ReplayOptions ro = frontend_options("");
  ro.sink = writer.get();
  std::vector<std::string> errors;
  std::vector<Exchange> transcript;
  const ReplayResult r = replay_against(dir, capture, sc.backend, ro, &errors, &transcript);
  ASSERT_TRUE(writer->flush());

  EXPECT_EQ(r.status, ReplayStatus::Same) << r.error << all_lines(r);
  EXPECT_EQ(r.real_divergences(), 0u) << all_lines(r);
  EXPECT_TRUE(r.divergences.empty()) << all_lines(r);  // same back-end: not even expected ones
  for (const auto& e : errors) ADD_FAILURE() << e;
  // The back-end received exactly the recorded front-end messages, byte for byte, in order.
  EXPECT_EQ(transcript_bytes(transcript, Channel::Frontend, false),
            recorded_bytes(recorded, Channel::Frontend, Direction::ToBackend));
  // ... and its back-end channel request got the recorded answer.
  EXPECT_EQ(transcript_bytes(transcript, Channel::Backend, false),
            recorded_bytes(recorded, Channel::Backend, Direction::ToBackend));
  // Fds re-created with the recorded kinds: SET_MEM_TABLE carried two regular files (memfds).
  for (const Exchange& e : transcript) {
    if (e.channel != Channel::Frontend || e.sent ||
        e.header().request != request_number("SET_MEM_TABLE"))
      continue;
    ASSERT_EQ(e.fds.size(), 2u);
    EXPECT_TRUE(S_ISREG(e.fds[0].mode));
    EXPECT_NE(e.fds[0].ino, e.fds[1].ino);
  }

  // The replay's own capture holds the same conversation.
  Store replayed;
  load(out, replayed);
  EXPECT_EQ(recorded_bytes(replayed, Channel::Frontend, Direction::ToBackend),
            recorded_bytes(recorded, Channel::Frontend, Direction::ToBackend));
  EXPECT_EQ(recorded_bytes(replayed, Channel::Frontend, Direction::ToFrontend),
            recorded_bytes(recorded, Channel::Frontend, Direction::ToFrontend));
  EXPECT_EQ(replayed.severity_counts().error, 0u);
  EXPECT_EQ(r.sent + r.received,
            recorded_bytes(recorded, Channel::Frontend, Direction::ToBackend).size() +
                recorded_bytes(recorded, Channel::Frontend, Direction::ToFrontend).size() + 2);
}

TEST(ReplayFrontend, DifferentFeaturesAndQueueCountAreReportedPrecisely) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  BackendOptions other = sc.backend;
  other.reply_values["GET_FEATURES"] = kScenarioFeatures | (1ull << 28);  // + RING_INDIRECT_DESC
  other.reply_values["GET_QUEUE_NUM"] = 4;
  const ReplayResult r = replay_against(dir, capture, other, frontend_options(""));

  EXPECT_EQ(r.status, ReplayStatus::Diverged);
  ASSERT_EQ(r.real_divergences(), 2u) << all_lines(r);
  const Divergence& f = r.divergences[0];
  EXPECT_EQ(f.kind, DivergenceKind::ValueDiffers);
  EXPECT_EQ(f.message, "GET_FEATURES reply");
  EXPECT_EQ(f.recorded_entry, 2u);  // record #3
  ASSERT_EQ(f.changes.size(), 1u);
  EXPECT_EQ(f.changes[0].path, "features");
  EXPECT_EQ(f.changes[0].a, "0x160000000 (RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1)");
  EXPECT_EQ(f.changes[0].b,
            "0x170000000 (RING_INDIRECT_DESC|RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1)");
  const Divergence& q = r.divergences[1];
  EXPECT_EQ(q.message, "GET_QUEUE_NUM reply");
  ASSERT_EQ(q.changes.size(), 1u);
  EXPECT_EQ(q.changes[0].path, "u64");
  EXPECT_EQ(q.changes[0].a, "2");
  EXPECT_EQ(q.changes[0].b, "4");
  EXPECT_EQ(divergence_lines(f)[0],
            "#3 GET_FEATURES reply: features: recorded 0x160000000 "
            "(RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1), "
            "replayed 0x170000000 (RING_INDIRECT_DESC|RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1)");
}

TEST(ReplayFrontend, MissingReplyIsReportedWithinTheTimeout) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  BackendOptions silent = sc.backend;
  silent.unanswered.insert("GET_QUEUE_NUM");
  const auto t0 = Clock::now();
  const ReplayResult r =
      replay_against(dir, capture, silent, frontend_options("", std::chrono::milliseconds(400)));
  const auto took = Clock::now() - t0;

  ASSERT_EQ(r.real_divergences(), 1u) << all_lines(r);
  const Divergence& d = r.divergences[0];
  EXPECT_EQ(d.kind, DivergenceKind::MissingReply);
  EXPECT_EQ(d.message, "GET_QUEUE_NUM reply");
  EXPECT_EQ(d.detail, "no answer to #7 GET_QUEUE_NUM request within 0.4 s");
  EXPECT_EQ(
      divergence_lines(d)[0],
      "#8 GET_QUEUE_NUM reply: missing-reply: no answer to #7 GET_QUEUE_NUM request within 0.4 s");
  EXPECT_LT(took, std::chrono::seconds(4)) << "one 0.4 s timeout, not a hang";
}

TEST(ReplayFrontend, BackendClosingIsADisconnect) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  BackendOptions closing = sc.backend;
  BackendAction close;
  close.after = "GET_QUEUE_NUM";
  close.kind = BackendAction::Kind::CloseInsteadOfReply;
  closing.actions.push_back(close);
  const ReplayResult r = replay_against(dir, capture, closing, frontend_options(""));
  EXPECT_EQ(r.status, ReplayStatus::Diverged);
  ASSERT_EQ(r.divergences.size(), 1u) << all_lines(r);
  EXPECT_EQ(r.divergences[0].kind, DivergenceKind::Disconnect);
  EXPECT_EQ(r.divergences[0].detail,
            "the back-end closed the connection after #7 GET_QUEUE_NUM request was sent; the "
            "recording goes on");
  EXPECT_EQ(r.sent, 4u) << "nothing is sent after the disconnect";
}

TEST(ReplayFrontend, RecordedHangReplaysAsSameAndAFixedBackendShowsTheAnswer) {
  TempDir dir;
  StartupOptions o;
  o.unanswered_get_vring_base = true;
  const Scenario sc = realistic_startup(o);
  const std::string capture = record_to(dir, sc);

  const ReplayResult still = replay_against(dir, capture, sc.backend,
                                            frontend_options("", std::chrono::milliseconds(300)));
  EXPECT_EQ(still.status, ReplayStatus::Same) << all_lines(still);
  EXPECT_TRUE(still.divergences.empty()) << all_lines(still);

  BackendOptions fixed = sc.backend;
  fixed.unanswered.clear();
  const ReplayResult now =
      replay_against(dir, capture, fixed, frontend_options("", std::chrono::milliseconds(300)));
  ASSERT_EQ(now.real_divergences(), 1u) << all_lines(now);
  EXPECT_EQ(now.divergences[0].kind, DivergenceKind::ExtraMessage);
  EXPECT_EQ(now.divergences[0].message, "GET_VRING_BASE reply");
  EXPECT_NE(now.divergences[0].detail.find("the recording has no answer"), std::string::npos)
      << all_lines(now);
}

TEST(ReplayCli, ExitCodesAndOutput) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  const std::string sock = dir / "be.sock";
  {
    BackendOptions bo = sc.backend;
    bo.path = sock;
    ScriptedBackend backend(bo);
    backend.start();
    const CommandResult r =
        run_command({vhostscope_binary(), "replay", capture, "--backend-connect", sock, "--timeout",
                     "2", "--pace", "recorded", "-w", dir / "out.pcap"},
                    dir.path());
    backend.join();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("replay: SAME: no divergence;"), std::string::npos) << r.out;
    EXPECT_TRUE(std::filesystem::file_size(dir / "out.pcap") > 24);
  }
  {
    BackendOptions bo = sc.backend;
    bo.path = sock;
    bo.reply_values["GET_FEATURES"] = kScenarioFeatures | (1ull << 28);
    ScriptedBackend backend(bo);
    backend.start();
    const CommandResult r = run_command(
        {vhostscope_binary(), "replay", capture, "--backend-connect", sock, "--timeout", "2"},
        dir.path());
    backend.join();
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("divergence: #3 GET_FEATURES reply: features: recorded 0x160000000"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("replay: DIVERGED: 1 divergence (1 value);"), std::string::npos) << r.out;
  }
  CommandResult r = run_command({vhostscope_binary(), "replay", capture, "--backend-connect",
                                 dir / "nobody.sock", "--connect-timeout", "0.3"},
                                dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(
      r.err.find("vhostscope replay: cannot connect to back-end '" + dir / "nobody.sock" + "'"),
      std::string::npos)
      << r.err;
  r = run_command({vhostscope_binary(), "replay", dir / "missing.pcap", "--backend-connect", sock},
                  dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot open capture"), std::string::npos) << r.err;
  r = run_command({vhostscope_binary(), "replay", capture}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("give exactly one of --backend-connect PATH and --frontend-listen PATH"),
            std::string::npos);
  r = run_command(
      {vhostscope_binary(), "replay", capture, "--backend-connect", sock, "--session", "7"},
      dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "vhostscope replay: no session 7 in '" + capture + "'\n");
}

// ---- as the back-end --------------------------------------------------------------------

struct BackendRun {
  ReplayResult result;
  std::vector<std::string> frontend_errors;
  size_t steps_done = 0;
  std::vector<Bytes> frontend_received;
};

BackendRun replay_for_frontend(const TempDir& dir, const std::string& capture,
                               const std::vector<FrontendStep>& script) {
  Store store;
  load(capture, store);
  ReplayOptions ro;
  ro.role = ReplayRole::Backend;
  ro.socket_path = dir / "fe.sock";
  ro.reply_timeout = std::chrono::milliseconds(2000);
  ro.connect_timeout = std::chrono::milliseconds(10000);
  BackendRun run;
  std::thread replay([&] { run.result = run_replay(store, ro); });
  FrontendOptions fo;
  fo.path = ro.socket_path;
  ScriptedFrontend frontend(fo);
  frontend.start(script);
  frontend.join();
  replay.join();
  run.frontend_errors = frontend.errors();
  run.steps_done = frontend.steps_done();
  run.frontend_received = transcript_bytes(frontend.transcript(), Channel::Frontend, false);
  return run;
}

TEST(ReplayBackend, ScriptedFrontendCompletesTheStartup) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  Store recorded;
  load(capture, recorded);
  const BackendRun run = replay_for_frontend(dir, capture, sc.frontend);
  for (const auto& e : run.frontend_errors) ADD_FAILURE() << e;
  EXPECT_EQ(run.steps_done, sc.frontend.size());
  EXPECT_EQ(run.result.status, ReplayStatus::Same) << run.result.error << all_lines(run.result);
  EXPECT_TRUE(run.result.divergences.empty()) << all_lines(run.result);
  // Every answer the front-end got is the recorded one.
  EXPECT_EQ(run.frontend_received,
            recorded_bytes(recorded, Channel::Frontend, Direction::ToFrontend));
}

TEST(ReplayBackend, FrontendDivergencesAreReportedAndItIsStillServed) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  std::vector<FrontendStep> script = sc.frontend;
  ASSERT_EQ(script[6].bytes, request("SET_FEATURES", u64_payload(kScenarioFeatures)));
  script[6].bytes = request("SET_FEATURES", u64_payload(kScenarioFeatures | (1ull << 28)));
  ASSERT_EQ(script[5].bytes, request("SET_OWNER"));
  script[5].bytes = request("SET_OWNER", {}, true);  // asks for an ack the recording does not have
  const BackendRun run = replay_for_frontend(dir, capture, script);

  for (const auto& e : run.frontend_errors) ADD_FAILURE() << e;
  EXPECT_EQ(run.steps_done, script.size()) << "the front-end got its ack and finished";
  EXPECT_EQ(run.result.status, ReplayStatus::Diverged);
  ASSERT_EQ(run.result.real_divergences(), 2u) << all_lines(run.result);
  const Divergence& owner = run.result.divergences[0];
  EXPECT_EQ(owner.message, "SET_OWNER request");
  ASSERT_EQ(owner.changes.size(), 1u);
  EXPECT_EQ(owner.changes[0].path, "header.flags");
  EXPECT_EQ(owner.changes[0].a, "0x1 (version 1)");
  EXPECT_EQ(owner.changes[0].b, "0x9 (version 1, NEED_REPLY)");
  const Divergence& features = run.result.divergences[1];
  EXPECT_EQ(features.message, "SET_FEATURES request");
  ASSERT_EQ(features.changes.size(), 1u);
  EXPECT_EQ(features.changes[0].path, "features");
  EXPECT_EQ(features.changes[0].b,
            "0x170000000 (RING_INDIRECT_DESC|RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1)");
}

TEST(ReplayBackend, SkippedAndExtraRequests) {
  TempDir dir;
  const Scenario sc = realistic_startup();
  const std::string capture = record_to(dir, sc);
  std::vector<FrontendStep> script = sc.frontend;
  script.erase(script.begin() + 3);  // no GET_QUEUE_NUM
  script.insert(script.begin() + 4,
                FrontendStep::send(request("GET_FEATURES")));  // an extra barrier
  const BackendRun run = replay_for_frontend(dir, capture, script);
  for (const auto& e : run.frontend_errors) ADD_FAILURE() << e;
  EXPECT_EQ(run.steps_done, script.size());
  ASSERT_EQ(run.result.real_divergences(), 2u) << all_lines(run.result);
  EXPECT_EQ(run.result.divergences[0].kind, DivergenceKind::MissingMessage);
  EXPECT_EQ(run.result.divergences[0].message, "GET_QUEUE_NUM request");
  EXPECT_EQ(run.result.divergences[1].kind, DivergenceKind::ExtraMessage);
  EXPECT_EQ(run.result.divergences[1].message, "GET_FEATURES request");
}

// ---- real qemu-storage-daemon --------------------------------------------------------------

constexpr const char* kQsd = "/usr/bin/qemu-storage-daemon";

// A qemu-storage-daemon exporting an 8 MiB raw image as vhost-user-blk (as
// scripts/run-real-peers.sh does), killed by PID when the handle goes away.
struct Qsd {
  std::unique_ptr<ChildProcess> proc;
  std::string sock;
};

Qsd start_qsd(const TempDir& dir, const std::string& name, bool writable) {
  Qsd q;
  const std::string image = dir / (name + ".img");
  { std::ofstream(image).close(); }
  std::filesystem::resize_file(image, 8u << 20);
  q.sock = dir / (name + ".sock");
  q.proc = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          kQsd, "--blockdev",
          "driver=file,node-name=file0,filename=" + image + (writable ? "" : ",read-only=on"),
          "--export",
          "type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=" + q.sock +
              ",writable=" + (writable ? "on" : "off")},
      dir.path());
  EXPECT_TRUE(wait_for_path(q.sock, Millis(10000))) << q.proc->stderr_text();
  return q;
}

ReplayResult replay_against_qsd(const TempDir& dir, const std::string& capture,
                                const std::string& name, bool writable) {
  Qsd q = start_qsd(dir, name, writable);
  Store store;
  load(capture, store);
  ReplayOptions ro = frontend_options(q.sock, std::chrono::milliseconds(3000));
  return run_replay(store, ro);
}

// Real-backend replays may differ only where a replay cannot reproduce the original: the rings'
// positions (no guest I/O) — and those are classified as expected.
void expect_only_expected_differences(const ReplayResult& r) {
  EXPECT_EQ(r.status, ReplayStatus::Same) << r.error << all_lines(r);
  for (const Divergence& d : r.divergences) {
    EXPECT_TRUE(d.expected()) << all_lines(r);
    for (const FieldChange& c : d.changes) EXPECT_EQ(c.path, "vring.num") << all_lines(r);
  }
}

TEST(ReplayRealBackend, ShippedBootCaptureAgainstFreshAndReadOnlyDaemons) {
  const std::string capture = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-boot.pcap";
  if (::access(kQsd, X_OK) != 0) GTEST_SKIP() << kQsd << " is not installed";
  if (::access(capture.c_str(), R_OK) != 0) GTEST_SKIP() << capture << " is not there";
  TempDir dir;
  expect_only_expected_differences(replay_against_qsd(dir, capture, "rw", true));

  // A read-only export offers VIRTIO_BLK_F_RO (bit 5): exactly the GET_FEATURES answers differ.
  const ReplayResult ro = replay_against_qsd(dir, capture, "ro", false);
  EXPECT_EQ(ro.status, ReplayStatus::Diverged);
  Store store;
  load(capture, store);
  size_t get_features_replies = 0;
  for (size_t i = 0; i < store.size(); ++i)
    if (store.entry(i).is_message() && store.entry(i).header.is_reply() &&
        store.entry(i).header.request == request_number("GET_FEATURES"))
      ++get_features_replies;
  ASSERT_GT(get_features_replies, 0u);
  ASSERT_EQ(ro.real_divergences(), get_features_replies) << all_lines(ro);
  for (const Divergence& d : ro.divergences) {
    if (d.expected()) continue;
    EXPECT_EQ(d.message, "GET_FEATURES reply");
    ASSERT_EQ(d.changes.size(), 1u);
    EXPECT_EQ(d.changes[0].path, "features");
    EXPECT_EQ(d.changes[0].a.find("|RO|"), std::string::npos) << d.changes[0].a;
    EXPECT_NE(d.changes[0].b.find("SEG_MAX|RO|BLK_SIZE"), std::string::npos) << d.changes[0].b;
  }
}

TEST(ReplayRealBackend, ScriptedStartupRecordedAgainstAndReplayedToTheDaemon) {
  if (::access(kQsd, X_OK) != 0) GTEST_SKIP() << kQsd << " is not installed";
  TempDir dir;
  // The scripted front-end through `vhostscope record` to a real daemon (one queue: the export's).
  StartupOptions o;
  o.queues = 1;
  const Scenario sc = realistic_startup(o);
  std::string capture;
  {
    Qsd q = start_qsd(dir, "rec", true);
    RecorderHarness h;
    h.backend_sock = q.sock;
    ASSERT_TRUE(h.start()) << h.why;
    FrontendOptions fo;
    fo.path = h.frontend_sock;
    ScriptedFrontend frontend(fo);
    frontend.start(sc.frontend);
    frontend.join();
    for (const auto& e : frontend.errors()) ADD_FAILURE() << "while recording: " << e;
    EXPECT_EQ(h.stop(), 0) << h.stderr_text();
    capture = dir / "qsd.pcap";
    std::filesystem::copy_file(h.capture, capture);
  }
  expect_only_expected_differences(replay_against_qsd(dir, capture, "again", true));
  const ReplayResult ro = replay_against_qsd(dir, capture, "ro2", false);
  ASSERT_EQ(ro.real_divergences(), 1u) << all_lines(ro);
  EXPECT_EQ(ro.divergences[0].message, "GET_FEATURES reply");
  EXPECT_EQ(ro.divergences[0].recorded_entry, 2u);
}

}  // namespace
}  // namespace vhs

namespace vhs {
namespace {

// ---- fd re-creation and neutral answers -----------------------------------------------------

uint64_t fd_size(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

TEST(ReplayFds, MemoryEventfdAndSocketAreRecreatedAndReusedPerRecordedObject) {
  const Region regions[] = {{0, 1 << 20, 0x7f0000000000, 0},
                            {1ull << 32, 2 << 20, 0x7f1000000000, 4096}};
  const Bytes table = request("SET_MEM_TABLE", mem_table(regions));
  const DecodedMessage msg = decode_message(Channel::Frontend, table, {});
  // Recorded sizes smaller than the regions need (a hostile or odd capture): the need wins.
  const std::vector<FdInfo> recorded = {{FdKind::Memfd, 10, 1 << 20, "memfd:ram0"},
                                        {FdKind::File, 11, 0, "/dev/hugepages/x"}};
  ReplayFds fds;
  ReplayFds::Prepared p = fds.prepare(msg, recorded);
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.fds.size(), 2u);
  EXPECT_EQ(fd_size(p.fds[0]), 1u << 20);
  EXPECT_EQ(fd_size(p.fds[1]), 4096u + (2u << 20));
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_EQ(p.notes[0], "file-backed memory '/dev/hugepages/x' replaced by a memfd");
  FdInfo described;
  describe_fd(p.fds[0], described);
  EXPECT_EQ(described.kind, FdKind::Memfd);
  EXPECT_EQ(described.name, "memfd:ram0");

  // The same recorded RAM again: the same replay fd.
  ReplayFds::Prepared again = fds.prepare(msg, recorded);
  EXPECT_EQ(again.fds, p.fds);
  EXPECT_EQ(fds.known(), 2u);

  const Bytes kick = request("SET_VRING_KICK", vring_index_fd(0));
  ReplayFds::Prepared k = fds.prepare(decode_message(Channel::Frontend, kick, {}),
                                      std::vector<FdInfo>{{FdKind::Eventfd, 12, 0, ""}});
  ASSERT_EQ(k.fds.size(), 1u);
  describe_fd(k.fds[0], described);
  EXPECT_EQ(described.kind, FdKind::Eventfd);

  const Bytes chan = request("SET_BACKEND_REQ_FD");
  ReplayFds::Prepared s = fds.prepare(decode_message(Channel::Frontend, chan, {}),
                                      std::vector<FdInfo>{{FdKind::Socket, 13, 0, "socket:[13]"}});
  ASSERT_EQ(s.fds.size(), 1u);
  EXPECT_TRUE(s.socket_end.valid());
  ASSERT_EQ(s.transient.size(), 1u);
  EXPECT_EQ(s.transient[0].get(), s.fds[0]);

  // A received fd takes the place of the recorded object it stands for.
  UniqueFd received(::memfd_create("from-peer", MFD_CLOEXEC));
  const int raw = received.get();
  fds.adopt(FdInfo{FdKind::Memfd, 77, 4096, "memfd:inflight"}, std::move(received));
  const Bytes set_inflight = request("SET_INFLIGHT_FD", Bytes(24, 0));
  ReplayFds::Prepared i =
      fds.prepare(decode_message(Channel::Frontend, set_inflight, {}),
                  std::vector<FdInfo>{{FdKind::Memfd, 77, 4096, "memfd:inflight"}});
  ASSERT_EQ(i.fds.size(), 1u);
  EXPECT_EQ(i.fds[0], raw);
}

TEST(ReplayAnswers, NeutralAnswersFollowTheRegistry) {
  const DecodeContext ctx;
  EXPECT_EQ(synthesized_answer(Channel::Frontend, request("SET_OWNER"), ctx), Bytes{});
  EXPECT_EQ(synthesized_answer(Channel::Frontend, request("SET_OWNER", {}, true), ctx),
            reply("SET_OWNER", u64_payload(0)));
  EXPECT_EQ(
      synthesized_answer(Channel::Frontend, request("GET_VRING_BASE", vring_state(3, 0)), ctx),
      reply("GET_VRING_BASE", vring_state(3, 0)));
  EXPECT_EQ(synthesized_answer(Channel::Frontend, request("GET_FEATURES"), ctx),
            reply("GET_FEATURES", u64_payload(0)));
  Bytes inflight_req(24, 0);
  inflight_req[16] = 2;    // num_queues
  inflight_req[18] = 128;  // queue_size
  Bytes inflight_reply(24, 0);
  inflight_reply[16] = 2;
  inflight_reply[18] = 128;
  EXPECT_EQ(synthesized_answer(Channel::Frontend, request("GET_INFLIGHT_FD", inflight_req), ctx),
            reply("GET_INFLIGHT_FD", inflight_reply));
  EXPECT_EQ(
      synthesized_answer(Channel::Backend, request("BACKEND_CONFIG_CHANGE_MSG", {}, true), ctx),
      reply("BACKEND_CONFIG_CHANGE_MSG", u64_payload(0)));
}

// ---- inflight buffer round trip -------------------------------------------------------------

TEST(ReplayFrontend, InflightBufferFromTheReplayedAnswerIsPassedBack) {
  TempDir dir;
  Bytes inflight(24, 0);
  inflight[16] = 1;    // num_queues
  inflight[18] = 128;  // queue_size
  Bytes answer = inflight;
  answer[1] = 0x10;  // mmap_size 4096: what the scripted back-end answers by default
  RecordList records;
  const FdInfo buffer{FdKind::Memfd, 77, 4096, "memfd:reply"};  // QEMU passes back what it got
  records.add(RecordKind::Connect, Direction::ToBackend, Bytes{'h', 'i'});
  records.add(RecordKind::Message, Direction::ToBackend, request("GET_INFLIGHT_FD", inflight));
  records.add(RecordKind::Message, Direction::ToFrontend, reply("GET_INFLIGHT_FD", answer),
              {buffer});
  records.add(RecordKind::Message, Direction::ToBackend, request("SET_INFLIGHT_FD", answer),
              {buffer});
  records.add(RecordKind::Disconnect, Direction::ToBackend, Bytes{'b', 'y', 'e'});
  const std::string capture = write_capture(dir, "inflight.pcap", records.records());
  std::vector<Exchange> transcript;
  std::vector<std::string> errors;
  const ReplayResult r =
      replay_against(dir, capture, BackendOptions{}, frontend_options(""), &errors, &transcript);
  EXPECT_EQ(r.status, ReplayStatus::Same) << all_lines(r);
  for (const auto& e : errors) ADD_FAILURE() << e;
  FdIdentity handed_out, passed_back;
  for (const Exchange& e : transcript) {
    if (e.channel != Channel::Frontend || e.fds.size() != 1) continue;
    if (e.sent && e.header().request == request_number("GET_INFLIGHT_FD")) handed_out = e.fds[0];
    if (!e.sent && e.header().request == request_number("SET_INFLIGHT_FD")) passed_back = e.fds[0];
  }
  EXPECT_NE(handed_out.ino, 0u);
  EXPECT_EQ(passed_back, handed_out) << "SET_INFLIGHT_FD must carry the back-end's own buffer";
}

}  // namespace
}  // namespace vhs
