// `vhostscope exercise --device fs|net` against real back-ends: QEMU 7.2's C virtiofsd sharing a
// temp directory that holds a known file, and DPDK's dpdk-testpmd (vhost PMD, no hugepages, no
// PCI) forwarding every frame back in `io` and in `macswap` mode, the latter with the lifecycle
// scenarios on split rings. Asserted on the JSON report: every fs and net check passes (the READ bytes equal the host file, the created file holds what
// WRITE sent and is gone again), mergeable receive buffers are Unsupported when masked off, and
// the capture loads. Every wait is bounded; each back-end is killed by PID when its test ends.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "captures/model/store.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;
using test::TempDir;
namespace stdfs = std::filesystem;

constexpr const char* kVirtiofsd = "/usr/lib/qemu/virtiofsd";
constexpr const char* kTestpmd = "/usr/bin/dpdk-testpmd";

struct Check {
  std::string verdict, reason;
};

// The checks of a `--format json` report by id; empty when the output is no report.
std::map<std::string, Check> checks_of(const std::string& out) {
  std::map<std::string, Check> checks;
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("checks")) return checks;
  for (const auto& c : j["checks"])
    checks[c["id"].get<std::string>()] = {c["verdict"].get<std::string>(),
                                          c["reason"].get<std::string>()};
  return checks;
}

std::string listing(const std::map<std::string, Check>& checks) {
  std::string text;
  for (const auto& [id, c] : checks)
    text += id + " " + c.verdict + (c.reason.empty() ? "" : " (" + c.reason + ")") + "\n";
  return text;
}

bool capture_loads(const std::string& path, DeviceKind device) {
  Store store(Store::Options{device});
  std::string warning, error;
  return load_capture(path, store, warning, error) && !store.sessions().empty();
}

// ---- fs: virtiofsd ----

// A shared directory and the command that serves it at `sock` (for --backend-command).
struct VirtiofsdSetup {
  stdfs::path share;
  std::string sock;
  std::string command;
};
VirtiofsdSetup virtiofsd_setup(const TempDir& dir) {
  VirtiofsdSetup v{stdfs::path(dir.path()) / "share", dir / "fs.sock", ""};
  stdfs::create_directory(v.share);
  std::ofstream(v.share / "known.txt") << "a file for the probe to read\n";
  v.command = std::string(kVirtiofsd) + " --socket-path=" + v.sock + " -o source=" +
              v.share.string() + " -o cache=none";
  return v;
}

TEST(RealExerciseFsNet, VirtiofsdPassesEveryFsCheck) {
  ASSERT_TRUE(stdfs::exists(kVirtiofsd)) << kVirtiofsd << " is missing (Debian qemu-system-common)";
  TempDir dir;
  const stdfs::path share = stdfs::path(dir.path()) / "share";
  stdfs::create_directory(share);
  std::string known;
  for (int i = 0; i < 3000; ++i) known += "vhostscope exercise line " + std::to_string(i) + "\n";
  std::ofstream(share / "known.txt") << known;  // ~80 KiB: several READs
  std::ofstream(share / "other.txt") << "another name READDIR must list\n";
  const std::string sock = dir / "fs.sock", capture = dir / "fs.pcap";

  // Its default sandbox (mount/pid/net namespaces) needs root, which the real-peer tests have.
  ChildProcess virtiofsd(
      {kVirtiofsd, "--socket-path=" + sock, "-o", "source=" + share.string(), "-o", "cache=none"},
      dir.path());
  ASSERT_TRUE(virtiofsd.started());
  ASSERT_TRUE(test::wait_for_path(sock, 10s)) << virtiofsd.stderr_text();

  const auto run = test::run_command(
      {test::vhostscope_binary(), "exercise", "--backend-connect", sock, "--device", "fs",
       "--shared-dir", share.string(), "-w", capture, "--format", "json"},
      dir.path(), 40s);
  const auto checks = checks_of(run.out);
  ASSERT_FALSE(checks.empty()) << run.out << run.err;
  for (const char* id :
       {"fs.init", "fs.lookup", "fs.getattr", "fs.open", "fs.read", "fs.read-compare", "fs.create",
        "fs.write", "fs.release", "fs.write-compare", "fs.readdir", "fs.unlink", "fs.forget"}) {
    ASSERT_TRUE(checks.count(id)) << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).verdict, "pass") << id << "\n" << listing(checks) << run.err;
  }
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  // The share is as it was: the known file untouched, the created one unlinked again.
  std::vector<std::string> names;
  for (const auto& e : stdfs::directory_iterator(share)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"known.txt", "other.txt"}));
  EXPECT_EQ(test::read_text_file(share / "known.txt"), known);
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Fs));
}

// QEMU 7.2's virtiofsd serves one connection and exits (status 0) when its front-end goes: with
// the engine owning its process, `reconnect` is reported unsupported saying so, not failed, and
// the run exits 0; a back-end killed by a signal there would fail it (a crash, not a design).
TEST(RealExerciseFsNet, VirtiofsdServingOneConnectionMakesReconnectUnsupported) {
  ASSERT_TRUE(stdfs::exists(kVirtiofsd)) << kVirtiofsd << " is missing (Debian qemu-system-common)";
  TempDir dir;
  const auto [share, sock, command] = virtiofsd_setup(dir);
  const std::string capture = dir / "fs.pcap";
  const auto run = test::run_command(
      {test::vhostscope_binary(), "exercise", "--backend-connect", sock, "--backend-command",
       command, "--device", "fs", "--shared-dir", share.string(), "--workload", "none",
       "--scenario", "reconnect", "-w", capture, "--format", "json"},
      dir.path(), 40s);
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("lifecycle.reconnect")) << run.out << run.err;
  EXPECT_EQ(checks.at("lifecycle.reconnect").verdict, "unsupported") << listing(checks);
  EXPECT_EQ(checks.at("lifecycle.reconnect").reason,
            "the back-end exits when its front-end disconnects (exit status 0): it serves one "
            "connection")
      << listing(checks);
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Fs));
}

// lifecycle.backend-crash on a device the engine does not resume writes for: requests are left
// in flight on both queues, virtiofsd is SIGKILLed and started again, the rings start over and
// the new process serves both queues.
TEST(RealExerciseFsNet, VirtiofsdKilledWithRequestsInFlightServesAgainAfterTheRestart) {
  ASSERT_TRUE(stdfs::exists(kVirtiofsd)) << kVirtiofsd << " is missing (Debian qemu-system-common)";
  TempDir dir;
  const auto [share, sock, command] = virtiofsd_setup(dir);
  const std::string capture = dir / "fs.pcap";
  const auto run = test::run_command(
      {test::vhostscope_binary(), "exercise", "--backend-connect", sock, "--backend-command",
       command, "--device", "fs", "--shared-dir", share.string(), "--workload", "none",
       "--scenario", "backend-crash", "-w", capture, "--format", "json"},
      dir.path(), 40s);
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("lifecycle.backend-crash")) << run.out << run.err;
  EXPECT_EQ(checks.at("lifecycle.backend-crash").verdict, "pass") << listing(checks);
  EXPECT_TRUE(std::regex_match(
      checks.at("lifecycle.backend-crash").reason,
      std::regex("in flight at the SIGKILL \\(queue 0: [0-8], queue 1: [0-8]\\); the engine "
                 "resumes writes in flight on blk split rings only, so the rings were reset; "
                 "after the restart I/O goes on")))
      << listing(checks);
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Fs));
}

// Every lifecycle scenario against virtiofsd but stop-restart (below): each passes or names what
// the back-end lacks. virtiofsd exits when its front-end goes, so reconnect is unsupported and
// the engine starts it again for backend-crash, which says so.
TEST(RealExerciseFsNet, VirtiofsdLifecycleScenariosPassOrNameWhatIsMissing) {
  ASSERT_TRUE(stdfs::exists(kVirtiofsd)) << kVirtiofsd << " is missing (Debian qemu-system-common)";
  TempDir dir;
  const auto [share, sock, command] = virtiofsd_setup(dir);
  const std::string capture = dir / "fs.pcap";
  std::vector<std::string> argv = {test::vhostscope_binary(), "exercise", "--backend-connect", sock,
                                   "--backend-command", command, "--device", "fs", "--shared-dir",
                                   share.string(), "--workload", "none", "-w", capture,
                                   "--format", "json"};
  for (const char* name : {"enable-toggle", "reset", "mem-hotplug", "dirty-log", "get-config",
                           "set-config", "reconnect", "backend-crash"})
    argv.insert(argv.end(), {"--scenario", name});
  const auto run = test::run_command(argv, dir.path(), 50s);
  const auto checks = checks_of(run.out);
  ASSERT_FALSE(checks.empty()) << run.out << run.err;
  for (const char* id : {"lifecycle.enable-toggle", "lifecycle.reset", "lifecycle.mem-hotplug",
                         "lifecycle.dirty-log", "lifecycle.backend-crash", "conformance.backend",
                         "conformance.frontend"}) {
    ASSERT_TRUE(checks.count(id)) << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).verdict, "pass") << id << "\n" << listing(checks) << run.err;
  }
  EXPECT_EQ(checks.at("lifecycle.backend-crash").reason.rfind(
                "the back-end, ended by an earlier scenario, was started again; in flight at the "
                "SIGKILL",
                0),
            0u)
      << listing(checks);
  const std::pair<const char*, const char*> unsupported[] = {
      {"lifecycle.get-config", "the back-end does not offer the CONFIG protocol feature"},
      {"lifecycle.set-config", "the back-end does not offer the CONFIG protocol feature"},
      {"lifecycle.reconnect",
       "the back-end exits when its front-end disconnects (exit status 0): it serves one "
       "connection"},
  };
  for (const auto& [id, reason] : unsupported) {
    ASSERT_TRUE(checks.count(id)) << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).verdict, "unsupported") << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).reason, reason) << id;
  }
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Fs));
}

// stop-restart against QEMU 7.2's virtiofsd passes, or (about one run in four here) fails on a
// race of that back-end: its worker completes requests after GET_VRING_BASE read the index, so
// the reply is behind the used ring. The engine must then name exactly that.
TEST(RealExerciseFsNet, VirtiofsdStopRestartPassesOrNamesTheStaleIndex) {
  ASSERT_TRUE(stdfs::exists(kVirtiofsd)) << kVirtiofsd << " is missing (Debian qemu-system-common)";
  TempDir dir;
  const auto [share, sock, command] = virtiofsd_setup(dir);
  const auto run = test::run_command(
      {test::vhostscope_binary(), "exercise", "--backend-connect", sock, "--backend-command",
       command, "--device", "fs", "--workload", "none", "--scenario", "stop-restart", "--format",
       "json"},
      dir.path(), 40s);
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("lifecycle.stop-restart")) << run.out << run.err;
  const Check& c = checks.at("lifecycle.stop-restart");
  if (c.verdict == "pass") {
    EXPECT_TRUE(std::regex_match(c.reason, std::regex("at GET_VRING_BASE queue 0: 8 in flight, "
                                                      "base [0-9]+; queue 1: 8 in flight, base "
                                                      "[0-9]+; each completed once after the "
                                                      "restart")))
        << c.reason;
    EXPECT_EQ(run.exit_code, 0) << listing(checks);
  } else {
    EXPECT_EQ(c.verdict, "fail") << listing(checks);
    EXPECT_TRUE(std::regex_match(
        c.reason, std::regex("queue [01]: GET_VRING_BASE returned [0-9]+, but the back-end had "
                             "already used up to idx [0-9]+ \\(used ring\\): a stale index, "
                             "restarting there would repeat [0-9]+ request\\(s\\)")))
        << c.reason;
    EXPECT_EQ(run.exit_code, 1) << listing(checks);
  }
}

// Negative control: the back-end does not come back (its command fails the second time), so the
// scenario fails saying the reconnect after the restart failed, within the connect timeout.
TEST(RealExerciseFsNet, ABackendThatDoesNotComeBackFailsTheCrashScenario) {
  ASSERT_TRUE(stdfs::exists(kVirtiofsd)) << kVirtiofsd << " is missing (Debian qemu-system-common)";
  TempDir dir;
  const auto setup = virtiofsd_setup(dir);
  const std::string marker = dir / "started";
  const std::string sock = setup.sock;
  const std::string command = "sh -c 'if [ -e " + marker + " ]; then exit 3; fi; touch " + marker +
                              "; exec " + setup.command + "'";
  const auto run = test::run_command(
      {test::vhostscope_binary(), "exercise", "--backend-connect", sock, "--backend-command",
       command, "--device", "fs", "--workload", "none", "--scenario", "backend-crash",
       "--connect-timeout", "3", "--format", "json"},
      dir.path(), 40s);
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("lifecycle.backend-crash")) << run.out << run.err;
  EXPECT_EQ(checks.at("lifecycle.backend-crash").verdict, "fail") << listing(checks);
  EXPECT_EQ(checks.at("lifecycle.backend-crash").reason.rfind("reconnecting after the restart: ", 0),
            0u)
      << listing(checks);
  EXPECT_EQ(run.exit_code, 1) << listing(checks) << run.err;
}

// ---- net: dpdk-testpmd ----

// testpmd: one vhost port with one queue pair, forwarded to itself (`loop`) in `mode`; no
// hugepages, no PCI, no shared config files; its two lcores float over both CPUs. `client`: the
// vhost port connects to `sock` (and retries until someone listens) instead of listening on it.
std::unique_ptr<ChildProcess> start_testpmd(const TempDir& dir, const std::string& sock,
                                            const std::string& mode, bool client = false) {
  auto p = std::make_unique<ChildProcess>(
      std::vector<std::string>{kTestpmd,
                               "--no-huge",
                               "--no-pci",
                               "-m",
                               "256",
                               "--no-shconf",
                               "--file-prefix=vhsex" + std::to_string(::getpid()),
                               "--lcores",
                               "0@(0-1),1@(0-1)",
                               "--vdev",
                               "net_vhost0,iface=" + sock + ",queues=1" +
                                   (client ? ",client=1" : ""),
                               "--",
                               "--forward-mode=" + mode,
                               "--rxq=1",
                               "--txq=1",
                               "--nb-cores=1",
                               "--port-topology=loop",
                               "--total-num-mbufs=8192",
                               "--auto-start",
                               "--stats-period=60"},
      dir.path());
  if (!client) {
    EXPECT_TRUE(test::wait_for_path(sock, 20s)) << p->stderr_text();
  }
  return p;
}

test::CommandResult exercise_net(const TempDir& dir, const std::string& sock,
                                 const std::string& capture, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {test::vhostscope_binary(),
                                   "exercise",
                                   "--backend-connect",
                                   sock,
                                   "--device",
                                   "net",
                                   "-w",
                                   capture,
                                   "--format",
                                   "json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::run_command(argv, dir.path(), 40s);
}

// The lifecycle scenarios testpmd supports, with frames and receive buffers in flight on the
// queue pair (proxy/exercise/net_probe), and those it lacks a feature for. dirty-log passes
// although DPDK answers SET_LOG_BASE with an empty payload where libvhost-user sends a u64: the
// spec gives that reply's payload as N/A (registry.hpp, ReplyRule::IfLogShmfd).
const std::vector<std::string> kNetScenarios = {"stop-restart", "enable-toggle", "reset",
                                                "reconnect",    "mem-hotplug",   "get-config",
                                                "dirty-log"};

void expect_net_passes(const std::string& mode, bool scenarios) {
  ASSERT_TRUE(stdfs::exists(kTestpmd)) << kTestpmd << " is missing (Debian dpdk)";
  TempDir dir;
  const std::string sock = dir / "net.sock", capture = dir / "net.pcap";
  auto testpmd = start_testpmd(dir, sock, mode);
  ASSERT_TRUE(testpmd->started());
  std::vector<std::string> extra;
  if (scenarios)
    for (const std::string& name : kNetScenarios) extra.insert(extra.end(), {"--scenario", name});
  const auto run = exercise_net(dir, sock, capture, extra);
  const auto checks = checks_of(run.out);
  ASSERT_FALSE(checks.empty()) << run.out << run.err << testpmd->stderr_text();
  std::vector<std::string> passing = {"net.tx-rx", "net.mrg-rxbuf", "conformance.backend"};
  if (scenarios)
    passing.insert(passing.end(), {"lifecycle.stop-restart", "lifecycle.enable-toggle",
                                   "lifecycle.reset", "lifecycle.reconnect",
                                   "lifecycle.dirty-log"});
  for (const std::string& id : passing) {
    ASSERT_TRUE(checks.count(id)) << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).verdict, "pass") << id << "\n" << listing(checks) << run.err;
  }
  if (scenarios) {
    EXPECT_EQ(checks.at("lifecycle.mem-hotplug").reason,
              "the back-end does not offer the CONFIGURE_MEM_SLOTS protocol feature");
    EXPECT_EQ(checks.at("lifecycle.get-config").reason,
              "the back-end does not offer the CONFIG protocol feature");
  }
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Net));
}

TEST(RealExerciseFsNet, TestpmdIoForwardingPassesEveryNetCheck) { expect_net_passes("io", false); }

// lifecycle.backend-crash against testpmd with frames and receive buffers in flight. DPDK does
// not bind over a socket file a killed process left, so the command removes it first, as an
// operator restarting it would.
TEST(RealExerciseFsNet, TestpmdKilledWithFramesInFlightServesAgainAfterTheRestart) {
  ASSERT_TRUE(stdfs::exists(kTestpmd)) << kTestpmd << " is missing (Debian dpdk)";
  TempDir dir;
  const std::string sock = dir / "net.sock", capture = dir / "net.pcap";
  const std::string command =
      "sh -c 'rm -f " + sock + "; exec " + kTestpmd +
      " --no-huge --no-pci -m 256 --no-shconf --file-prefix=vhscrash" + std::to_string(::getpid()) +
      " --lcores \"0@(0-1),1@(0-1)\" --vdev net_vhost0,iface=" + sock +
      ",queues=1 -- --forward-mode=io --rxq=1 --txq=1 --nb-cores=1 --port-topology=loop"
      " --total-num-mbufs=8192 --auto-start --stats-period=60 > " + (dir / "testpmd.log") +
      " 2>&1'";
  const auto run = exercise_net(dir, sock, capture,
                                {"--backend-command", command, "--connect-timeout", "20",
                                 "--workload", "none", "--scenario", "backend-crash"});
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("lifecycle.backend-crash"))
      << run.out << run.err << test::read_text_file(dir / "testpmd.log");
  EXPECT_EQ(checks.at("lifecycle.backend-crash").verdict, "pass") << listing(checks);
  EXPECT_TRUE(std::regex_match(checks.at("lifecycle.backend-crash").reason,
                               std::regex("in flight at the SIGKILL \\(queue 0: 8, queue 1: "
                                          "[0-4]\\); .*after the restart I/O goes on")))
      << listing(checks);
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Net));
}

// Split rings; the packed-ring run is RealExercisePacked.
TEST(RealExerciseFsNet, TestpmdMacswapPassesEveryNetCheckAndLifecycleScenario) {
  expect_net_passes("macswap", true);
}

// --backend-listen: the back-end connects (testpmd's vhost port in client mode, which retries
// until the socket exists), and every check passes as with --backend-connect.
TEST(RealExerciseFsNet, TestpmdConnectingToBackendListenPassesEveryNetCheck) {
  ASSERT_TRUE(stdfs::exists(kTestpmd)) << kTestpmd << " is missing (Debian dpdk)";
  TempDir dir;
  const std::string sock = dir / "net.sock", capture = dir / "net.pcap";
  auto testpmd = start_testpmd(dir, sock, "io", /*client=*/true);
  ASSERT_TRUE(testpmd->started());
  const auto run = test::run_command({test::vhostscope_binary(), "exercise", "--backend-listen",
                                      sock, "--device", "net", "-w", capture, "--format", "json",
                                      "--connect-timeout", "20"},
                                     dir.path(), 40s);
  const auto checks = checks_of(run.out);
  ASSERT_FALSE(checks.empty()) << run.out << run.err << testpmd->stderr_text();
  for (const char* id : {"protocol.setup", "net.tx-rx", "net.mrg-rxbuf"}) {
    ASSERT_TRUE(checks.count(id)) << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).verdict, "pass") << id << "\n" << listing(checks) << run.err;
  }
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Net));
}

// The net workload through `vhostscope record --interpose-notify` to testpmd: the ring follower
// runs at every kick and call on both queues (receive buffers long in flight, merged ones) and
// the capture must check clean: no false used-entry violation on a healthy DPDK back-end.
TEST(RealExerciseFsNet, TestpmdThroughTheRecorderWithInterposedNotificationsChecksClean) {
  ASSERT_TRUE(stdfs::exists(kTestpmd)) << kTestpmd << " is missing (Debian dpdk)";
  test::RecorderHarness rec;
  auto testpmd = start_testpmd(rec.dir, rec.backend_sock, "io");
  ASSERT_TRUE(testpmd->started());
  ASSERT_TRUE(rec.start({"--interpose-notify", "--device", "net"})) << rec.why;
  const auto run = test::run_command({test::vhostscope_binary(), "exercise", "--backend-connect",
                                      rec.frontend_sock, "--device", "net"},
                                     rec.dir.path(), 40s);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(rec.stop(), 0) << rec.stderr_text();
  const auto check =
      test::run_command({test::vhostscope_binary(), "check", rec.capture}, rec.dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  const auto summary = test::run_command(
      {test::vhostscope_binary(), "summary", "--check", rec.capture}, rec.dir.path());
  EXPECT_EQ(summary.exit_code, 0) << summary.out << summary.err;
}

// --bench: every frame size on the one queue pair, frames sent and back, none changed on the
// way; the JSON figure has every field, the text report a line per frame size. No speed is
// asserted (the machine is shared): only that frames moved and came back intact.
TEST(RealExerciseFsNet, TestpmdBenchReportsPacketsPerSecondWithNoMismatchedBytes) {
  ASSERT_TRUE(stdfs::exists(kTestpmd)) << kTestpmd << " is missing (Debian dpdk)";
  TempDir dir;
  const std::string sock = dir / "net.sock", capture = dir / "net.pcap";
  auto testpmd = start_testpmd(dir, sock, "io");
  ASSERT_TRUE(testpmd->started());
  const auto run =
      exercise_net(dir, sock, capture, {"--bench", "--bench-time", "0.5", "--workload", "none"});
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("bench")) << run.out << run.err << testpmd->stderr_text();
  EXPECT_EQ(checks.at("bench").verdict, "pass") << listing(checks) << run.err;
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
  const auto j = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_TRUE(j.contains("bench") && j["bench"].is_array()) << run.out;
  ASSERT_EQ(j["bench"].size(), 3u) << run.out;
  const uint32_t sizes[] = {64, 512, 1518};
  for (size_t i = 0; i < 3; ++i) {
    const auto& f = j["bench"][i];
    SCOPED_TRACE(f.dump());
    for (const char* field :
         {"queue_pair", "frame_size", "ring_bytes", "window", "sent", "received", "lost",
          "unexpected", "mismatched_frames", "mismatched_bytes", "seconds", "tx_pps", "rx_pps",
          "tx_gbit_per_s", "rx_gbit_per_s", "latency_us", "error"})
      EXPECT_TRUE(f.contains(field)) << field;
    EXPECT_EQ(f["queue_pair"], 0);
    EXPECT_EQ(f["frame_size"], sizes[i]);
    EXPECT_EQ(f["error"], "");
    EXPECT_GT(f["sent"].get<uint64_t>(), 0u);
    EXPECT_EQ(f["received"].get<uint64_t>() + f["lost"].get<uint64_t>(), f["sent"].get<uint64_t>());
    EXPECT_EQ(f["mismatched_bytes"], 0);
    EXPECT_EQ(f["unexpected"], 0);
    EXPECT_GT(f["tx_pps"].get<double>(), 0);
    EXPECT_GT(f["rx_pps"].get<double>(), 0);
    EXPECT_GT(f["rx_gbit_per_s"].get<double>(), 0);
    EXPECT_GE(f["latency_us"]["p99"].get<double>(), f["latency_us"]["p50"].get<double>());
  }
  EXPECT_TRUE(capture_loads(capture, DeviceKind::Net));

  // The text report against the same testpmd (its vhost port takes the next connection).
  const auto text =
      test::run_command({test::vhostscope_binary(), "exercise", "--backend-connect", sock,
                         "--device", "net", "--workload", "none", "--bench", "--bench-time", "0.2"},
                        dir.path(), 40s);
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  for (const char* line : {"bench: pair 0 frames   64 B", "bench: pair 0 frames  512 B",
                           "bench: pair 0 frames 1518 B"})
    EXPECT_NE(text.out.find(line), std::string::npos) << line << "\n" << text.out;
  EXPECT_NE(text.out.find(" 0 mismatched bytes"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("stopped:"), std::string::npos) << text.out;
}

TEST(RealExerciseFsNet, WithoutMergeableBuffersTheMrgCheckIsUnsupported) {
  ASSERT_TRUE(stdfs::exists(kTestpmd)) << kTestpmd << " is missing (Debian dpdk)";
  TempDir dir;
  const std::string sock = dir / "net.sock", capture = dir / "net.pcap";
  auto testpmd = start_testpmd(dir, sock, "io");
  ASSERT_TRUE(testpmd->started());
  // The engine's net default less MRG_RXBUF (bit 15): ring bits, MTU, MAC, STATUS.
  const uint64_t mask =
      (1ull << 28) | (1ull << 29) | (1ull << 32) | (1ull << 3) | (1ull << 5) | (1ull << 16);
  char hex[24];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(mask));
  const auto run = exercise_net(dir, sock, capture, {"--features", hex});
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("net.mrg-rxbuf")) << run.out << run.err;
  EXPECT_EQ(checks.at("net.tx-rx").verdict, "pass") << listing(checks);
  EXPECT_EQ(checks.at("net.mrg-rxbuf").verdict, "unsupported");
  EXPECT_EQ(checks.at("net.mrg-rxbuf").reason, "VIRTIO_NET_F_MRG_RXBUF was not negotiated");
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
}

}  // namespace
}  // namespace vhs
