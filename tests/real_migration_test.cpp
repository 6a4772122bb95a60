// Migration with dirty logging through the recorder: QEMU (TCG) <-> `vhostscope record` <->
// qemu-storage-daemon, the guest looping on direct I/O, then `migrate` to a file from QEMU's
// monitor. The front-end turns on dirty logging (spec "Migration": VHOST_F_LOG_ALL acked,
// SET_LOG_BASE with the log's shared memory, SET_VRING_ADDR with the LOG flag), the back-end
// logs its writes, and at the end QEMU stops the rings with GET_VRING_BASE. The capture must show
// each of those steps, and `summary --check` must pass: a migration is not a hang.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/real_guest.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {
namespace {

using std::chrono::milliseconds;

// `vhostscope dump -Y FILTER -c 1 CAPTURE`: the first matching record's line, "" if none.
std::string first_match(const std::string& capture, const std::string& filter,
                        const std::string& dir) {
  const CommandResult r =
      run_command({vhostscope_binary(), "dump", "-Y", filter, "-c", "1", capture}, dir);
  return r.exit_code == 0 ? r.out : "dump failed: " + r.err;
}

TEST(RealMigration, DirtyLogToFileIsRecordedAndCheckPasses) {
  TempDir dir;
  const std::string disk = dir / "disk.img", backend_sock = dir / "backend.sock",
                    proxy_sock = dir / "proxy.sock", capture = dir / "capture.pcap",
                    serial = dir / "serial.log", monitor = dir / "monitor.sock",
                    state = dir / "migration.bin";
  ASSERT_TRUE(make_blk_disk(disk));
  const std::string guest_error = build_guest(dir.path());
  ASSERT_EQ(guest_error, "");

  ChildProcess daemon(qsd_blk_argv(disk, backend_sock), dir.path());
  ASSERT_TRUE(daemon.started());
  ASSERT_TRUE(wait_for_path(backend_sock, milliseconds(10000))) << daemon.stderr_text();
  ChildProcess recorder({vhostscope_binary(), "record", "--frontend-listen", proxy_sock,
                         "--backend-connect", backend_sock, "-w", capture},
                        dir.path());
  ASSERT_TRUE(recorder.started());
  ASSERT_TRUE(wait_for_path(proxy_sock, milliseconds(10000))) << recorder.stderr_text();

  QemuBlkGuest vm;
  vm.chardev_socket = proxy_sock;
  vm.append =
      "vhs.test=hang panic=-1";  // the endless direct-I/O loop: the back-end writes while logging
  vm.serial_log = serial;
  vm.monitor = monitor;
  ChildProcess qemu(qemu_blk_argv(vm), dir.path());
  ASSERT_TRUE(qemu.started());
  auto alive = [&] { return qemu.running() && recorder.running() && daemon.running(); };
  auto logs = [&] {
    const std::string console = read_text_file(serial);
    return "\n--- serial (tail)\n" +
           console.substr(console.size() > 1500 ? console.size() - 1500 : 0) + "\n--- record\n" +
           recorder.stderr_text() + "\n--- qemu\n" + qemu.stderr_text() + "\n--- daemon\n" +
           daemon.stderr_text();
  };
  ASSERT_TRUE(wait_until(
      [&] {
        return read_text_file(serial).find("VHOSTSCOPE-GUEST: HANG-LOOP-RUNNING") !=
               std::string::npos;
      },
      alive, milliseconds(120000)))
      << "the guest never started its I/O loop" << logs();
  std::this_thread::sleep_for(milliseconds(500));

  std::string error;
  monitor_command(monitor, "migrate -d \"exec:cat > " + state + "\"", milliseconds(10000), error);
  ASSERT_EQ(error, "") << logs();
  std::string status;
  ASSERT_TRUE(wait_until(
      [&] {
        std::string e;
        status = monitor_command(monitor, "info migrate", milliseconds(5000), e);
        return status.find("Migration status: completed") != std::string::npos ||
               status.find("Migration status: failed") != std::string::npos;
      },
      alive, milliseconds(90000)))
      << "migration did not finish: " << status << logs();
  ASSERT_NE(status.find("Migration status: completed"), std::string::npos) << status << logs();
  EXPECT_GT(std::filesystem::file_size(state), 0u);

  qemu.send_signal(SIGKILL);
  ASSERT_TRUE(qemu.wait_exit(milliseconds(10000)).has_value());
  recorder.send_signal(SIGTERM);
  const auto rc = recorder.wait_exit(milliseconds(10000));
  ASSERT_TRUE(rc.has_value()) << logs();
  EXPECT_EQ(*rc, 0) << logs();

  // The dirty-log steps of spec "Migration", each decoded.
  EXPECT_NE(first_match(capture, "SET_FEATURES request features ~ LOG_ALL", dir.path()), "")
      << "LOG_ALL never acked";
  const std::string log_base = first_match(capture, "SET_LOG_BASE request", dir.path());
  EXPECT_NE(log_base, "") << "no SET_LOG_BASE";
  EXPECT_NE(first_match(capture, "SET_LOG_BASE reply", dir.path()), "")
      << "SET_LOG_BASE never answered (LOG_SHMFD: it must be)";
  EXPECT_NE(first_match(capture, "SET_VRING_ADDR vring.flags ~ LOG", dir.path()), "")
      << "no ring address with the LOG flag";
  EXPECT_NE(first_match(capture, "GET_VRING_BASE reply", dir.path()), "")
      << "the rings were never stopped";

  const CommandResult summary =
      run_command({vhostscope_binary(), "summary", "--check", capture}, dir.path());
  EXPECT_EQ(summary.exit_code, 0) << summary.out << summary.err;
  // A migration by QEMU breaks no conformance rule (QEMU's known deviations accepted).
  const CommandResult check =
      run_command({vhostscope_binary(), "check", "--profile", "qemu", capture}, dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

}  // namespace
}  // namespace vhs::test
