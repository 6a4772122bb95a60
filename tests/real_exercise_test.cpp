// `vhostscope exercise` against Debian's qemu-storage-daemon (a raw image file made here): every
// check passes; negative controls: a read-only export fails the write check with a clear reason,
// and a back-end SIGSTOPped mid-I/O fails the run with "queue 0: no completion for N s" within
// the timeout while the capture shows the stalled ring. Every wait is bounded; the daemon is
// killed by PID (ChildProcess) when a test ends.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "support/process.hpp"
#include "support/ring_states.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;
using test::TempDir;

constexpr const char* kQsd = "/usr/bin/qemu-storage-daemon";
constexpr off_t kImageBytes = off_t{64} << 20;

bool make_image(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::ftruncate(fd, kImageBytes) == 0;
  ::close(fd);
  return ok;
}

struct Daemon {
  std::unique_ptr<ChildProcess> process;
  std::string socket;
};

// qemu-storage-daemon exporting a fresh raw image over vhost-user-blk at dir/blk.sock.
Daemon start_qsd(const TempDir& dir, bool writable, unsigned queues = 2) {
  Daemon d;
  d.socket = dir / "blk.sock";
  const std::string image = dir / "disk.img";
  EXPECT_TRUE(make_image(image));
  d.process = std::make_unique<ChildProcess>(
      std::vector<std::string>{
          kQsd, "--blockdev", "driver=file,node-name=file0,filename=" + image, "--export",
          "type=vhost-user-blk,id=exp0,node-name=file0,num-queues=" + std::to_string(queues) +
              ",addr.type=unix,addr.path=" + d.socket + (writable ? ",writable=on" : "")},
      dir.path());
  EXPECT_TRUE(test::wait_for_path(d.socket, 10s)) << d.process->stderr_text();
  return d;
}

std::vector<std::string> exercise_argv(const Daemon& d, const std::string& capture,
                                       std::vector<std::string> extra) {
  std::vector<std::string> argv = {test::vhostscope_binary(),
                                   "exercise",
                                   "--backend-connect",
                                   d.socket,
                                   "--device",
                                   "blk",
                                   "-w",
                                   capture};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

bool has_line(const std::string& out, const std::string& start, const std::string& contains) {
  size_t at = 0;
  while ((at = out.find(start, at)) != std::string::npos) {
    const size_t end = out.find('\n', at);
    if (out.substr(at, end - at).find(contains) != std::string::npos) return true;
    at = end;
  }
  return false;
}

TEST(RealExercise, QemuStorageDaemonPassesEveryCheck) {
  TempDir dir;
  Daemon qsd = start_qsd(dir, true);
  const std::string capture = dir / "ex.pcap";
  const auto run = test::run_command(
      exercise_argv(qsd, capture, {"--scenario", "all", "--queue-depth", "16"}), dir.path(), 40s);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("exercise: PASS:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(" 0 failed"), std::string::npos) << run.out;
  for (const char* id :
       {"protocol.setup", "blk.get-id", "blk.read", "blk.write-read", "blk.flush",
        "blk.last-sector", "blk.past-end", "blk.queue-depth", "lifecycle.stop-restart",
        "lifecycle.enable-toggle", "lifecycle.get-config", "lifecycle.set-config",
        "lifecycle.mem-hotplug",
        "lifecycle.reset", "lifecycle.reconnect", "lifecycle.dirty-log", "blk.write-zeroes",
        "blk.discard", "conformance.backend", "conformance.frontend"})
    EXPECT_TRUE(has_line(run.out, std::string(id) + " ", "pass")) << id << "\n" << run.out;

  // The capture opens like a recorded one: the rules and the summary agree it is clean.
  const auto check = test::run_command({test::vhostscope_binary(), "check", capture}, dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  const auto summary =
      test::run_command({test::vhostscope_binary(), "summary", "--check", capture}, dir.path());
  EXPECT_EQ(summary.exit_code, 0) << summary.out << summary.err;
  Store store(Store::Options{DeviceKind::Blk});
  std::string warning, error;
  ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
  ASSERT_GE(store.sessions().size(), 1u);
  auto ring = test::last_ring_state(store, 0);
  ASSERT_TRUE(ring.has_value());
  EXPECT_TRUE(ring->indices_ok);
  EXPECT_TRUE(ring->faults.empty());
}

// --indirect: every request (a header, data and a status byte) goes in an indirect table; the
// daemon serves them all, including the lifecycle scenarios that restart and reset the rings.
TEST(RealExercise, QemuStorageDaemonPassesWithIndirectDescriptors) {
  TempDir dir;
  Daemon qsd = start_qsd(dir, true);
  const auto run = test::run_command(
      exercise_argv(qsd, dir / "indirect.pcap",
                    {"--indirect", "--scenario", "stop-restart", "--scenario", "reset"}),
      dir.path(), 40s);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  for (const char* id : {"blk.write-read", "blk.queue-depth", "lifecycle.stop-restart",
                         "lifecycle.reset", "conformance.backend"})
    EXPECT_TRUE(has_line(run.out, std::string(id) + " ", "pass")) << id << "\n" << run.out;
}

TEST(RealExercise, ReadOnlyExportFailsTheWriteCheck) {
  TempDir dir;
  Daemon qsd = start_qsd(dir, false, 1);
  const auto run = test::run_command(exercise_argv(qsd, dir / "ro.pcap", {}), dir.path(), 30s);
  ASSERT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_TRUE(has_line(run.out, "blk.write-read ", "FAIL")) << run.out;
  EXPECT_TRUE(has_line(run.out, "blk.write-read ",
                       "status IOERR (the device offers RO: it is "
                       "read-only)"))
      << run.out;
  EXPECT_TRUE(has_line(run.out, "blk.read ", "pass")) << run.out;
  EXPECT_NE(run.out.find("exercise: FAIL:"), std::string::npos) << run.out;
}

TEST(RealExercise, StoppedBackendFailsWithNoCompletionWithinTheTimeout) {
  TempDir dir;
  Daemon qsd = start_qsd(dir, true, 1);
  const std::string capture = dir / "stop.pcap";
  ChildProcess ex(exercise_argv(qsd, capture, {"--timeout", "2", "--duration", "30"}), dir.path());
  ASSERT_TRUE(ex.started());
  std::this_thread::sleep_for(1500ms);  // set-up and the first checks are done by then
  qsd.process->send_signal(SIGSTOP);
  const auto stopped = std::chrono::steady_clock::now();
  const auto rc = ex.wait_exit(15s);
  const auto took = std::chrono::steady_clock::now() - stopped;
  qsd.process->send_signal(SIGCONT);
  ASSERT_TRUE(rc.has_value()) << "exercise did not end";
  EXPECT_EQ(*rc, 1) << ex.stdout_text() << ex.stderr_text();
  EXPECT_LT(took, 8s);
  const std::string out = ex.stdout_text();
  EXPECT_TRUE(has_line(out, "blk.queue-depth ", "queue 0: no completion for 2.0 s")) << out;

  // The capture shows the stalled ring: work in flight, and summary --check says so.
  Store store(Store::Options{DeviceKind::Blk});
  std::string warning, error;
  ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
  auto ring = test::last_ring_state(store, 0);
  ASSERT_TRUE(ring.has_value());
  EXPECT_GE(ring->inflight, 1u);
  const auto summary =
      test::run_command({test::vhostscope_binary(), "summary", "--check", capture}, dir.path());
  EXPECT_EQ(summary.exit_code, 1) << summary.out << summary.err;
  EXPECT_NE(summary.out.find("stalled"), std::string::npos) << summary.out;
}

TEST(RealExercise, JsonAndJunitReportsNameEveryCheck) {
  TempDir dir;
  Daemon qsd = start_qsd(dir, true, 1);
  const auto json = test::run_command(
      exercise_argv(qsd, dir / "j.pcap", {"--workload", "none", "--format", "json"}), dir.path(),
      20s);
  ASSERT_EQ(json.exit_code, 0) << json.out << json.err;
  EXPECT_NE(json.out.find("\"type\":\"exercise\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("{\"id\":\"protocol.setup\","), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"verdict\":\"pass\""), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("blk.read"), std::string::npos) << "--workload none ran I/O checks";

  // A read-only export: JUnit marks the write check failed with its reason.
  TempDir ro_dir;
  Daemon ro = start_qsd(ro_dir, false, 1);
  const std::string xml = ro_dir / "ex.xml";
  const auto junit = test::run_command(
      exercise_argv(ro, ro_dir / "r.pcap", {"--format", "junit", "-o", xml}), ro_dir.path(), 20s);
  EXPECT_EQ(junit.exit_code, 1) << junit.out << junit.err;
  const std::string text = test::read_text_file(xml);
  EXPECT_NE(text.find("<testcase classname=\"vhostscope exercise blk\" name=\"blk.write-read\">\n"
                      "      <failure message=\"write of 8192 bytes"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("name=\"blk.read\">\n    </testcase>"), std::string::npos) << text;
}

TEST(RealExercise, NoBackendCannotRun) {
  TempDir dir;
  const auto run = test::run_command({test::vhostscope_binary(), "exercise", "--backend-connect",
                                      dir / "missing.sock", "--connect-timeout", "0.2"},
                                     dir.path());
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("connect to back-end"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace vhs
