// `vhostscope exercise --backend-command ... --scenario backend-crash` against Debian's
// qemu-storage-daemon, whose libvhost-user implements INFLIGHT_SHMFD. The export sits on a
// throttled node (a throttle-group object with x-iops-write=4, a throttle filter over the file
// node), so the scenario's writes wait inside the daemon when it is SIGKILLed. With inflight
// tracking every write would complete once after the restart; Debian 12's daemon does not offer it,
// so the engine resubmits them itself and checks the restarted daemon serves them; negative
// control: a daemon that comes back read-only fails the scenario with the status of the
// resubmitted write; lifecycle.reconnect with the throttled writes in flight finds them drained
// by the daemon before it answers again. (The inflight path is tested against a scripted back-end
// in exercise_inflight_test.) The engine owns the daemon (and kills it by PID); every run is
// bounded.
#include <fcntl.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

constexpr const char* kQsd = "/usr/bin/qemu-storage-daemon";

bool make_image(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::ftruncate(fd, off_t{64} << 20) == 0;
  ::close(fd);
  return ok;
}

// The daemon's command line: writes throttled to 4 per second, reads not.
std::string qsd_command(const TempDir& dir, bool writable) {
  return std::string(kQsd) +
         " --object throttle-group,id=tg0,x-iops-write=4"
         " --blockdev driver=file,node-name=file0,filename=" +
         (dir / "disk.img") +
         " --blockdev driver=throttle,node-name=thr0,throttle-group=tg0,file=file0"
         " --export type=vhost-user-blk,id=exp0,node-name=thr0,num-queues=1,addr.type=unix,"
         "addr.path=" +
         (dir / "blk.sock") + (writable ? ",writable=on" : "");
}

test::CommandResult run_crash(const TempDir& dir, const std::string& command,
                              std::vector<std::string> extra = {},
                              const std::string& scenario = "backend-crash") {
  std::vector<std::string> argv = {test::vhostscope_binary(),
                                   "exercise",
                                   "--backend-connect",
                                   dir / "blk.sock",
                                   "--backend-command",
                                   command,
                                   "--connect-timeout",
                                   "10",
                                   "--workload",
                                   "none",
                                   "--scenario",
                                   scenario,
                                   "-w",
                                   dir / "crash.pcap"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::run_command(argv, dir.path(), 50s);
}

std::string line_of(const std::string& out, const std::string& start) {
  const size_t at = out.find(start);
  if (at == std::string::npos) return "";
  return out.substr(at, out.find('\n', at) - at);
}

// Debian 12's daemon (QEMU 7.2) does not offer INFLIGHT_SHMFD: its vhost-user-blk export adds
// only CONFIG to libvhost-user's protocol features. So the writes it had taken die with it, and
// the engine resets the rings and resubmits them, as a driver does after a device reset.
TEST(RealExerciseCrash, QsdComesBackAfterASigkillAndServesTheLostWrites) {
  TempDir dir;
  ASSERT_TRUE(make_image(dir / "disk.img"));
  const auto run = run_crash(dir, qsd_command(dir, true));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const std::string line = line_of(run.out, "lifecycle.backend-crash ");
  EXPECT_NE(line.find(" pass "), std::string::npos) << run.out;
  // The throttle held writes in the daemon when it died: some were lost and resubmitted.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      line, m,
      std::regex("8 writes in flight at the SIGKILL, ([0-9]+) completed before it; the back-end "
                 "does not offer INFLIGHT_SHMFD, so the rings were reset and the engine "
                 "resubmitted the ([0-9]+) not completed")))
      << line;
  EXPECT_GE(std::stoi(m[2].str()), 1) << line;
  EXPECT_EQ(std::stoi(m[1].str()) + std::stoi(m[2].str()), 8) << line;
  EXPECT_NE(line.find("the data read back and I/O goes on"), std::string::npos) << line;
  EXPECT_NE(line_of(run.out, "conformance.backend ").find(" pass"), std::string::npos) << run.out;

  // The capture shows the crash and the second connection, set up from the start.
  const auto dump =
      test::run_command({test::vhostscope_binary(), "dump", dir / "crash.pcap"}, dir.path());
  const size_t killed = dump.out.find("the back-end was killed (SIGKILL)");
  ASSERT_NE(killed, std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("fe connect", killed), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("GET_FEATURES", killed), std::string::npos) << dump.out;
}

TEST(RealExerciseCrash, DaemonThatComesBackReadOnlyFailsTheScenario) {
  TempDir dir;
  ASSERT_TRUE(make_image(dir / "disk.img"));
  // First start writable; every later start (after the SIGKILL) read-only.
  const std::string marker = dir / "started-once";
  const std::string command = "/bin/sh -c 'if [ -e " + marker + " ]; then exec " +
                              qsd_command(dir, false) + "; else touch " + marker + "; exec " +
                              qsd_command(dir, true) + "; fi'";
  const auto run = run_crash(dir, command);
  ASSERT_EQ(run.exit_code, 1) << run.out << run.err;
  const std::string line = line_of(run.out, "lifecycle.backend-crash ");
  EXPECT_NE(line.find("FAIL"), std::string::npos) << run.out;
  EXPECT_NE(line.find("a write resubmitted after the reset completed with status 1"),
            std::string::npos)
      << line;
}

// lifecycle.reconnect disconnects with the throttled writes in flight inside the daemon. What a
// front-end can rely on with this daemon: it answers the new connection only once the old
// session's writes are done (they complete into the used ring, ~2 s at 4 writes/s), so none is
// lost and the engine resubmits none; the data reads back.
TEST(RealExerciseCrash, QsdReconnectWithWritesInFlightDrainsThemFirst) {
  TempDir dir;
  ASSERT_TRUE(make_image(dir / "disk.img"));
  const auto run = run_crash(dir, qsd_command(dir, true), {}, "reconnect");
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  const std::string line = line_of(run.out, "lifecycle.reconnect ");
  EXPECT_NE(line.find(" pass "), std::string::npos) << run.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      line, m,
      std::regex("8 writes in flight at the disconnect, ([0-9]+) completed by the time the "
                 "back-end answered again; the back-end does not offer INFLIGHT_SHMFD, so the "
                 "rings were reset and the engine resubmitted the ([0-9]+) not completed")))
      << line;
  EXPECT_EQ(std::stoi(m[1].str()), 8) << line;
  EXPECT_NE(line.find("the data read back and I/O goes on"), std::string::npos) << line;
}

}  // namespace
}  // namespace vhs
