// Back-end outages with real peers: QEMU (TCG) <-> `vhostscope record` <-> qemu-storage-daemon
// (vhost-user-blk), the guest in its I/O loop (scripts/guest/init, scenario "hang" with a line
// per pass). A daemon killed mid-I/O must fail `summary --check` with backend-gone-in-flight
// naming the queue and a request; a QEMU with `reconnect=1` must come back from an outage longer
// than --connect-timeout through the recorder as it does without it (its connects refused while
// the daemon is down, the guest's I/O going on once it is back), recorded as a second session.
// Every wait is bounded; every process is killed by PID when the test ends.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "support/process.hpp"
#include "support/real_guest.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr const char* kPass = "VHOSTSCOPE-GUEST: IO-PASS ";

// One rig: the daemon (restartable), the recorder (optional), QEMU.
struct OutageRig {
  TempDir dir;  // short path: unix sockets live here too
  const std::string disk = dir / "disk.img", backend_sock = dir / "backend.sock",
                    proxy_sock = dir / "proxy.sock", capture = dir / "capture.pcap",
                    serial = dir / "serial.log";
  std::unique_ptr<ChildProcess> daemon, recorder, qemu;
  int daemon_starts = 0;

  std::string set_up() {
    if (std::string why = build_guest(dir.path()); !why.empty()) return why;
    if (!make_blk_disk(disk)) return "cannot write " + disk;
    return start_daemon();
  }

  // The daemon's socket file outlives a killed daemon: removed first, as a service manager would.
  std::string start_daemon() {
    fs::remove(backend_sock);
    const std::string log_dir = dir / ("daemon" + std::to_string(++daemon_starts));
    fs::create_directories(log_dir);
    daemon = std::make_unique<ChildProcess>(qsd_blk_argv(disk, backend_sock), log_dir);
    if (!daemon->started()) return "cannot start qemu-storage-daemon";
    if (!wait_for_path(backend_sock, milliseconds(10000)))
      return "qemu-storage-daemon did not listen: " + daemon->stderr_text();
    return {};
  }

  std::string start_recorder(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {vhostscope_binary(),
                                     "record",
                                     "--frontend-listen",
                                     proxy_sock,
                                     "--backend-connect",
                                     backend_sock,
                                     "-w",
                                     capture};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string log_dir = dir / "recorder";
    fs::create_directories(log_dir);
    recorder = std::make_unique<ChildProcess>(argv, log_dir);
    if (!recorder->started()) return "cannot start vhostscope record";
    if (!wait_for_path(proxy_sock, milliseconds(10000)))
      return "the recorder did not listen: " + recorder->stderr_text();
    return {};
  }

  std::string start_qemu(const std::string& socket, const std::string& chardev_extra) {
    QemuBlkGuest g;
    g.chardev_socket = socket;
    g.chardev_extra = chardev_extra;
    g.append = "vhs.test=hang vhs.progress=1 panic=-1";
    g.serial_log = serial;
    const std::string log_dir = dir / "qemu";
    fs::create_directories(log_dir);
    qemu = std::make_unique<ChildProcess>(qemu_blk_argv(g), log_dir);
    return qemu->started() ? std::string() : "cannot start qemu-system-x86_64";
  }

  size_t passes() const { return count_of(read_text_file(serial), kPass); }
  bool qemu_alive() { return qemu && qemu->running(); }
  std::string recorder_log() const { return recorder ? recorder->stderr_text() : ""; }

  // The guest is in its I/O loop and has finished a few passes.
  bool wait_for_io(size_t passes_wanted, milliseconds timeout) {
    return wait_until([&] { return passes() >= passes_wanted; }, [&] { return qemu_alive(); },
                      timeout);
  }

  void kill_daemon() {
    daemon->send_signal(SIGKILL);
    daemon->wait_exit(milliseconds(10000));
  }

  std::string logs() const {
    const std::string console = read_text_file(serial);
    const std::string rec = recorder_log();
    return "\n--- serial (tail)\n" +
           console.substr(console.size() > 1500 ? console.size() - 1500 : 0) +
           "\n--- record stderr (tail)\n" + rec.substr(rec.size() > 4000 ? rec.size() - 4000 : 0) +
           "\n--- qemu\n" + (qemu ? qemu->stderr_text() : "") + "\n--- daemon\n" +
           (daemon ? daemon->stderr_text() : "");
  }

  // QEMU killed, the recorder stopped with SIGTERM (flushes and closes the capture): its exit code.
  std::optional<int> stop() {
    if (qemu) {
      qemu->send_signal(SIGKILL);
      qemu->wait_exit(milliseconds(10000));
    }
    if (!recorder) return 0;
    recorder->send_signal(SIGTERM);
    return recorder->wait_exit(milliseconds(10000));
  }
};

const StoreSession* session_with_id(const Store& store, uint32_t id) {
  for (const StoreSession& s : store.sessions())
    if (s.id == id) return &s;
  return nullptr;
}

size_t message_count(const Store& store, const StoreSession& s) {
  size_t n = 0;
  for (size_t i = s.first_entry; i <= s.last_entry && i < store.size(); ++i)
    if (store.entry(i).session == s.id && store.entry(i).kind == RecordKind::Message) ++n;
  return n;
}

TEST(RealOutage, BackendKilledMidIoFailsTheCheckNamingTheQueueAndARequest) {
  OutageRig rig;
  ASSERT_EQ(rig.set_up(), "");
  ASSERT_EQ(rig.start_recorder(), "");
  ASSERT_EQ(rig.start_qemu(rig.proxy_sock, ""), "");
  ASSERT_TRUE(rig.wait_for_io(3, milliseconds(120000)))
      << "the guest's I/O loop never ran" << rig.logs();

  // Under TCG the guest spends most of a loop between requests, so a bare SIGKILL often lands
  // when nothing is in flight (and then nothing is lost). Stopping the daemon first for less than
  // the 1 s stall threshold leaves the guest's next request in the ring; the kill then lands
  // with it in flight, as a crash under load does.
  rig.daemon->send_signal(SIGSTOP);
  std::this_thread::sleep_for(milliseconds(300));
  rig.kill_daemon();
  ASSERT_TRUE(rig.recorder->wait_for_stderr("session 1 ended: back-end closed the connection",
                                            milliseconds(10000)))
      << rig.logs();
  // The back-end is gone: the recorder's socket refuses the front-end from now on.
  EXPECT_TRUE(
      rig.recorder->wait_for_stderr("refuses connections until it is back", milliseconds(5000)))
      << rig.logs();
  const auto rc = rig.stop();
  ASSERT_TRUE(rc.has_value()) << "vhostscope record did not stop" << rig.logs();
  EXPECT_EQ(*rc, 0) << rig.logs();
  EXPECT_FALSE(fs::exists(rig.proxy_sock)) << "the recorder's socket file outlived it";

  CommandResult summary =
      run_command({vhostscope_binary(), "summary", "--check", rig.capture}, rig.dir.path());
  EXPECT_EQ(summary.exit_code, 1) << summary.out << summary.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      summary.out, m,
      std::regex(
          R"(the back-end disconnected with (\d+) requests? in flight on queue 0 \(avail idx (\d+), used idx (\d+))")))
      << summary.out;
  EXPECT_GE(std::stoul(m[1].str()), 1u);
  EXPECT_NE(summary.out.find("backend-gone-in-flight"), std::string::npos) << summary.out;
  EXPECT_TRUE(std::regex_search(
      summary.out,
      std::regex(
          R"(in flight on queue 0 [^\n]*; oldest head \d+: (READ|WRITE) sector \d+ len \d+)")))
      << summary.out;

  CommandResult report = run_command({vhostscope_binary(), "report", rig.capture}, rig.dir.path());
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("backend-gone-in-flight"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("in flight on queue 0"), std::string::npos) << report.out;

  // The ring's last state stays what `rings` shows at the end: the request still in flight.
  CommandResult rings = run_command({vhostscope_binary(), "rings", rig.capture}, rig.dir.path());
  ASSERT_EQ(rings.exit_code, 0) << rings.err;
  const size_t at_end = rings.out.find("Rings: 1 queue sampled");
  ASSERT_NE(at_end, std::string::npos) << rings.out;
  const std::string last = rings.out.substr(at_end);
  ASSERT_TRUE(std::regex_search(last, m, std::regex(R"(q0 split size \d+ [^\n]*inflight (\d+))")))
      << last;
  EXPECT_GE(std::stoul(m[1].str()), 1u) << last;
}

TEST(RealOutage, ReconnectingQemuComesBackFromALongOutageThroughTheRecorder) {
  OutageRig rig;
  ASSERT_EQ(rig.set_up(), "");
  ASSERT_EQ(rig.start_recorder({"--connect-timeout", "1"}), "");
  ASSERT_EQ(rig.start_qemu(rig.proxy_sock, ",reconnect=1"), "");
  ASSERT_TRUE(rig.wait_for_io(3, milliseconds(120000)))
      << "the guest's I/O loop never ran" << rig.logs();

  // Down for 4 s, four times the connect timeout and several of QEMU's reconnect attempts.
  rig.kill_daemon();
  ASSERT_TRUE(
      rig.recorder->wait_for_stderr("refuses connections until it is back", milliseconds(10000)))
      << rig.logs();
  std::this_thread::sleep_for(milliseconds(4000));
  ASSERT_TRUE(rig.qemu_alive()) << rig.logs();
  // QEMU met what it meets without the recorder: refused connects, not a hung first request.
  EXPECT_NE(rig.qemu->stderr_text().find("Connection refused"), std::string::npos) << rig.logs();
  EXPECT_EQ(rig.qemu->stderr_text().find("Protocol error"), std::string::npos) << rig.logs();
  const size_t before = rig.passes();

  ASSERT_EQ(rig.start_daemon(), "");
  EXPECT_TRUE(wait_until([&] { return rig.passes() >= before + 5; },
                         [&] { return rig.qemu_alive(); }, milliseconds(60000)))
      << "the guest's I/O did not resume after the back-end came back (" << before << " passes)"
      << rig.logs();
  EXPECT_TRUE(rig.recorder->wait_for_stderr("session 2: front-end", milliseconds(5000)))
      << rig.logs();
  const auto rc = rig.stop();
  ASSERT_TRUE(rc.has_value()) << "vhostscope record did not stop" << rig.logs();
  EXPECT_EQ(*rc, 0) << rig.logs();

  // The capture: the first session ended by the back-end, and the refusal recorded in it when the
  // recorder found the back-end gone; QEMU's refused connects never reached the recorder, so its
  // reconnect is session 2.
  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(rig.capture, store, warning, error)) << error;
  ASSERT_EQ(store.sessions().size(), 2u) << rig.logs();
  const StoreSession* first = session_with_id(store, 1);
  const StoreSession* second = session_with_id(store, 2);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_NE(first->disconnect_entry, kNoEntry);
  const StoreEntry& gone = store.entry(first->disconnect_entry);
  EXPECT_EQ(gone.direction, Direction::ToFrontend) << "the back-end closed session 1";
  EXPECT_EQ(store.text(first->disconnect_entry), "back-end closed the connection");
  std::optional<size_t> refusal;
  for (size_t i = first->disconnect_entry; i < store.size(); ++i)
    if (store.entry(i).session == 1 && store.entry(i).kind == RecordKind::Error) refusal = i;
  ASSERT_TRUE(refusal.has_value()) << "no record of the refusal in session 1";
  EXPECT_NE(store.text(*refusal).find("unreachable (Connection refused) after it closed the "
                                      "session: the front-end socket refuses connections until "
                                      "it is back"),
            std::string_view::npos)
      << store.text(*refusal);
  EXPECT_LT(store.entry(*refusal).timestamp_ns - gone.timestamp_ns, 1'000'000'000u)
      << "recorded when it was found, not later";
  ASSERT_NE(second->connect_entry, kNoEntry);
  const std::string_view back = store.text(second->connect_entry);
  EXPECT_TRUE(std::regex_search(std::string(back),
                                std::regex(R"(when it came back \(unreachable for \d+\.\d s\))")))
      << back;
  EXPECT_GT(second->connect_entry, first->disconnect_entry);
  EXPECT_GE(store.entry(second->connect_entry).timestamp_ns - gone.timestamp_ns, 3'500'000'000u)
      << "session 2 began only once the back-end was back";
  EXPECT_GT(message_count(store, *second), 20u) << "the reconnected session relays the start-up";
  // The healthy session passes the check.
  CommandResult check = run_command(
      {vhostscope_binary(), "summary", "--check", "--session", "2", rig.capture}, rig.dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// The same outage without vhostscope: what the recorder must not change.
TEST(RealOutage, ReconnectingQemuComesBackFromALongOutageDirectly) {
  OutageRig rig;
  ASSERT_EQ(rig.set_up(), "");
  ASSERT_EQ(rig.start_qemu(rig.backend_sock, ",reconnect=1"), "");
  ASSERT_TRUE(rig.wait_for_io(3, milliseconds(120000)))
      << "the guest's I/O loop never ran" << rig.logs();
  rig.kill_daemon();
  std::this_thread::sleep_for(milliseconds(4000));
  ASSERT_TRUE(rig.qemu_alive()) << rig.logs();
  EXPECT_NE(rig.qemu->stderr_text().find("Connection refused"), std::string::npos) << rig.logs();
  const size_t before = rig.passes();
  ASSERT_EQ(rig.start_daemon(), "");
  EXPECT_TRUE(wait_until([&] { return rig.passes() >= before + 5; },
                         [&] { return rig.qemu_alive(); }, milliseconds(60000)))
      << "the guest's I/O did not resume (" << before << " passes)" << rig.logs();
  rig.stop();
}

}  // namespace
}  // namespace vhs::test
