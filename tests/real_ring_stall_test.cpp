// A ring hang with real peers, seen live and cleared: QEMU (TCG) <-> `vhostscope record --status`
// <-> qemu-storage-daemon (vhost-user-blk). The test guest (scripts/build-guest.sh, scenario
// "hang") loops on direct I/O; the test SIGSTOPs the daemon, waits until the recorder's status
// lines report queue 0 stalled with its oldest blk request named, SIGCONTs the daemon and waits
// until the stall is reported ended. The capture must then show the same episode (the Store's
// RingTimeline): raised, ended, a later ring state with nothing in flight, no current stall in
// `vhostscope summary`. Every wait is bounded; every process is killed by PID when the test ends.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "app/common/summary_format.hpp"
#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path guest_dir() {
  if (const char* env = std::getenv("VHS_GUEST_DIR"); env && *env) return env;
  return fs::path(VHS_BINARY_DIR) / "guest";
}

// The raw disk: sector 0 holds the pattern the guest's hang scenario checks before its I/O loop
// ("VHS-HOST sector 000000" padded with dots to 511 bytes and a newline, as run-real-peers.sh
// writes it).
bool make_disk(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string sector = "VHS-HOST sector 000000";
  sector.resize(511, '.');
  sector += '\n';
  out << sector;
  out.seekp((8 << 20) - 1);
  out.put('\0');
  return static_cast<bool>(out);
}

// Polls `ok` every 50 ms until it holds or `timeout` passes; also stops early when `alive` fails.
template <typename Ok, typename Alive>
bool wait_until(Ok ok, Alive alive, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (ok()) return true;
    if (!alive()) return ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}

// The first line of `text` containing `needle` (without its newline); "" if none.
std::string line_with(const std::string& text, const std::string& needle, size_t from = 0) {
  const size_t at = text.find(needle, from);
  if (at == std::string::npos) return {};
  const size_t begin = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
  const size_t end = text.find('\n', at);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

TEST(RealRingStall, StoppedBackendStallsQueueThenDrainsAfterContinue) {
  TempDir dir;  // short path: unix sockets live here too
  const std::string disk = dir / "disk.img", backend_sock = dir / "backend.sock",
                    proxy_sock = dir / "proxy.sock", capture = dir / "capture.pcap",
                    serial = dir / "serial.log";
  ASSERT_TRUE(make_disk(disk));

  // The guest kernel and initramfs (cached after the first build).
  CommandResult guest = run_command(
      {"/bin/bash", std::string(VHS_SOURCE_DIR) + "/scripts/build-guest.sh", guest_dir().string()},
      dir.path(), std::chrono::milliseconds(280000));
  ASSERT_EQ(guest.exit_code, 0) << "cannot build the test guest: " << guest.err;

  ChildProcess daemon({"/usr/bin/qemu-storage-daemon", "--blockdev",
                       "driver=file,node-name=file0,filename=" + disk, "--export",
                       "type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=" +
                           backend_sock + ",writable=on"},
                      dir.path());
  ASSERT_TRUE(daemon.started());
  // Whatever happens below, a stopped daemon must not outlive the test stopped (the
  // ChildProcess destructors then SIGKILL everything by PID).
  struct Continue {
    ChildProcess& p;
    ~Continue() { p.send_signal(SIGCONT); }
  } continue_daemon{daemon};
  ASSERT_TRUE(wait_for_path(backend_sock, std::chrono::milliseconds(10000)))
      << daemon.stderr_text();

  // Ring sampling is on by default (50 ms); --status adds the live hang lines every second.
  ChildProcess recorder({vhostscope_binary(), "record", "--frontend-listen", proxy_sock,
                         "--backend-connect", backend_sock, "-w", capture, "--status"},
                        dir.path());
  ASSERT_TRUE(recorder.started());
  ASSERT_TRUE(wait_for_path(proxy_sock, std::chrono::milliseconds(10000)))
      << recorder.stderr_text();

  ChildProcess qemu({"/usr/bin/qemu-system-x86_64",
                     "-machine",
                     "q35",
                     "-accel",
                     "tcg",
                     "-m",
                     "256",
                     "-smp",
                     "1",
                     "-object",
                     "memory-backend-memfd,id=mem,size=256M,share=on",
                     "-numa",
                     "node,memdev=mem",
                     "-chardev",
                     "socket,id=c0,path=" + proxy_sock,
                     "-device",
                     "vhost-user-blk-pci,chardev=c0,num-queues=1",
                     "-kernel",
                     (guest_dir() / "vmlinuz").string(),
                     "-initrd",
                     (guest_dir() / "initramfs.cpio.gz").string(),
                     "-append",
                     "console=ttyS0 vhs.test=hang panic=-1",
                     "-nodefaults",
                     "-display",
                     "none",
                     "-serial",
                     "file:" + serial,
                     "-no-reboot"},
                    dir.path());
  ASSERT_TRUE(qemu.started());
  auto all_alive = [&] { return qemu.running() && recorder.running() && daemon.running(); };
  auto logs = [&] {
    const std::string console = read_text_file(serial);
    const std::string status = recorder.stderr_text();
    return "\n--- serial (tail)\n" +
           console.substr(console.size() > 1500 ? console.size() - 1500 : 0) +
           "\n--- record stderr (tail)\n" +
           status.substr(status.size() > 4000 ? status.size() - 4000 : 0) + "\n--- qemu\n" +
           qemu.stderr_text() + "\n--- daemon\n" + daemon.stderr_text();
  };

  // The guest boots (about 10 s under TCG) and starts its I/O loop.
  ASSERT_TRUE(wait_until(
      [&] {
        return read_text_file(serial).find("VHOSTSCOPE-GUEST: HANG-LOOP-RUNNING") !=
               std::string::npos;
      },
      all_alive, std::chrono::milliseconds(120000)))
      << "the guest never started its I/O loop" << logs();
  ASSERT_EQ(read_text_file(serial).find("VHOSTSCOPE-GUEST: FAIL"), std::string::npos) << logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // I/O flowing through the ring

  // Freeze the back-end: the request in flight stays there, the used index stops.
  const size_t before_stop = recorder.stderr_text().size();
  daemon.send_signal(SIGSTOP);
  const std::string stall_needle = "status s1 ring-stalled q0: queue 0: ";
  ASSERT_TRUE(wait_until(
      [&] { return recorder.stderr_text().find(stall_needle, before_stop) != std::string::npos; },
      all_alive, std::chrono::milliseconds(8000)))
      << "no live stall report" << logs();
  const std::string stalled = line_with(recorder.stderr_text(), stall_needle, before_stop);
  // "queue 0: 1 buffer in flight, used idx 812 unchanged for 1.02 s; oldest head 5: READ sector 0
  // len 4096 — still stalled, 1.40 s": the count, and the blk request by name.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      stalled, m, std::regex(R"(queue 0: (\d+) buffers? in flight, used idx (\d+) unchanged)")))
      << stalled;
  EXPECT_GE(std::stoul(m[1].str()), 1u) << stalled;
  EXPECT_TRUE(
      std::regex_search(stalled, std::regex(R"(oldest head \d+: (READ|WRITE) sector \d+ len \d+)")))
      << stalled;
  EXPECT_NE(stalled.find("— still stalled"), std::string::npos) << stalled;

  // Let it go: the back-end catches up, the recorder reports the stall ended.
  const size_t before_cont = recorder.stderr_text().size();
  daemon.send_signal(SIGCONT);
  const std::string ended_needle = "status s1 ring-stalled ended q0: queue 0: ";
  ASSERT_TRUE(wait_until(
      [&] { return recorder.stderr_text().find(ended_needle, before_cont) != std::string::npos; },
      all_alive, std::chrono::milliseconds(8000)))
      << "no live report of the stall ending" << logs();
  const std::string ended = line_with(recorder.stderr_text(), ended_needle, before_cont);
  EXPECT_TRUE(std::regex_search(
      ended, std::regex(R"(— stalled \d+\.\d\d s, (drained|used idx moved to \d+))")))
      << ended;
  // Ring states with nothing in flight come in once the loop runs again (records flush in 15 ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(600));

  // Stop the guest, then the recorder (SIGTERM flushes and closes the capture).
  qemu.send_signal(SIGKILL);
  ASSERT_TRUE(qemu.wait_exit(std::chrono::milliseconds(10000)).has_value());
  recorder.send_signal(SIGTERM);
  const auto rc = recorder.wait_exit(std::chrono::milliseconds(10000));
  ASSERT_TRUE(rc.has_value()) << "vhostscope record did not stop" << logs();
  EXPECT_EQ(*rc, 0) << logs();

  // Offline, from the capture alone: the same episode, raised and ended.
  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
  const StoreSession* session = nullptr;
  for (const StoreSession& s : store.sessions())
    if (!s.rings.empty()) session = &s;
  ASSERT_NE(session, nullptr) << "no ring state recorded";
  const RingEpisode* stall = nullptr;
  for (const RingEpisode& e : session->rings.episodes())
    if (e.finding.code == FindingCode::RingStalled && e.queue == 0 &&
        episode_duration(e, 0) >= 1'000'000'000)
      stall = &e;
  ASSERT_NE(stall, nullptr) << format_ring_block(store, *session);
  EXPECT_FALSE(stall->active()) << describe_episode(*stall, session->rings.now_ns());
  EXPECT_FALSE(session->rings.any_active()) << format_ring_block(store, *session);
  // The snapshot the finding is on: in-flight work with the oldest blk request decoded.
  ASSERT_LT(stall->entry, store.size());
  auto frozen = decode_ring_snapshot(store.bytes(stall->entry));
  ASSERT_TRUE(frozen.has_value());
  EXPECT_EQ(frozen->queue, 0u);
  EXPECT_GE(frozen->inflight, 1u);
  ASSERT_TRUE(frozen->oldest.has_value());
  EXPECT_EQ(frozen->oldest->device, DeviceKind::Blk);
  EXPECT_TRUE(frozen->oldest->detail_ok);
  EXPECT_TRUE(frozen->oldest->op == 0 || frozen->oldest->op == 1)
      << "blk type " << frozen->oldest->op;
  // After the stall ended, the ring drained at least once: used == avail.
  bool drained = false;
  for (size_t i = stall->entry + 1; i < store.size() && !drained; ++i) {
    if (store.entry(i).kind != RecordKind::RingState ||
        store.entry(i).timestamp_ns < *stall->ended_ns)
      continue;
    auto s = decode_ring_snapshot(store.bytes(i));
    drained =
        s && s->queue == 0 && s->indices_ok && s->inflight == 0 && s->avail_idx == s->used_idx;
  }
  EXPECT_TRUE(drained) << format_ring_block(store, *session);

  CommandResult summary = run_command({vhostscope_binary(), "summary", capture}, dir.path());
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("ENDED ring-stalled"), std::string::npos) << summary.out;
  EXPECT_EQ(summary.out.find("NOW   ring-stalled"), std::string::npos) << summary.out;
}

}  // namespace
}  // namespace vhs::test
