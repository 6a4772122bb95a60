// virtio-net with real peers: QEMU (TCG, virtio-net-pci with 2 queue pairs) <-> `vhostscope record
// --status` <-> DPDK's testpmd (vhost PMD, macswap: every frame goes back to the guest). The test
// guest (scripts/build-guest.sh, scenario "net") sends ARP frames and checks they come back, leaves
// its receive queue idle with buffers posted for 12 s, sends again, then keeps sending while the
// test SIGSTOPs testpmd. Asserted: frames were relayed both ways; a copy of the capture taken after
// the idle stretch passes `summary --check` with no ring-stalled finding (receive buffers waiting
// for traffic are idle, the unused disabled queue pair is no hang) and shows net detail; once
// testpmd is frozen the transmit queue is reported stalled, live and in the capture, and no other
// queue is. Once with split rings, once with packed rings. Every wait is bounded; every process
// is killed by PID when the test ends.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
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
using std::chrono::milliseconds;

constexpr const char* kTestpmd = "/usr/bin/dpdk-testpmd";
constexpr uint64_t kIdleSeconds = 12;  // the guest's idle stretch (vhs.idle=)

fs::path guest_dir() {
  if (const char* env = std::getenv("VHS_GUEST_DIR"); env && *env) return env;
  return fs::path(VHS_BINARY_DIR) / "guest";
}

// Polls `ok` every 50 ms until it holds or `timeout` passes; also stops early when `alive` fails.
template <typename Ok, typename Alive>
bool wait_until(Ok ok, Alive alive, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (ok()) return true;
    if (!alive()) return ok();
    std::this_thread::sleep_for(milliseconds(50));
  }
  return ok();
}

// The first line of `text` containing `needle` at or after `from` (without its newline).
std::string line_with(const std::string& text, const std::string& needle, size_t from = 0) {
  const size_t at = text.find(needle, from);
  if (at == std::string::npos) return {};
  const size_t nl = text.rfind('\n', at);
  const size_t begin = nl == std::string::npos ? 0 : nl + 1;
  const size_t end = text.find('\n', at);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// The longest time queue `queue` kept one ring state with buffers in flight (the sampler records
// only changes, so the gap to the queue's next record, or to the capture's end).
uint64_t longest_unchanged_with_buffers(const Store& store, uint32_t queue) {
  uint64_t longest = 0, since = 0;
  bool holding = false;
  for (size_t i = 0; i < store.size(); ++i) {
    if (store.entry(i).kind != RecordKind::RingState) continue;
    auto s = decode_ring_snapshot(store.bytes(i));
    if (!s || s->queue != queue) continue;
    const uint64_t t = store.entry(i).timestamp_ns;
    if (holding) longest = std::max(longest, t - since);
    holding = s->indices_ok && s->inflight > 0;
    since = t;
  }
  if (holding) longest = std::max(longest, store.last_timestamp() - since);
  return longest;
}

void run_net_scenario(bool packed) {
  ASSERT_TRUE(fs::exists(kTestpmd))
      << kTestpmd << " is missing (Debian dpdk-dev: scripts/setup.sh)";
  TempDir dir;  // short path: unix sockets live here too
  const std::string backend_sock = dir / "backend.sock", proxy_sock = dir / "proxy.sock",
                    capture = dir / "capture.pcap", healthy = dir / "healthy.pcap",
                    serial = dir / "serial.log";

  CommandResult guest = run_command(
      {"/bin/bash", std::string(VHS_SOURCE_DIR) + "/scripts/build-guest.sh", guest_dir().string()},
      dir.path(), milliseconds(280000));
  ASSERT_EQ(guest.exit_code, 0) << "cannot build the test guest: " << guest.err;

  // testpmd: no hugepages, no PCI, no shared config files; its two lcores float over both CPUs
  // (the forwarding one polls). One vhost port with 2 queue pairs, forwarded to itself with the
  // MAC addresses swapped.
  ChildProcess testpmd({kTestpmd,
                        "--no-huge",
                        "--no-pci",
                        "-m",
                        "256",
                        "--no-shconf",
                        "--file-prefix=vhs" + std::to_string(::getpid()),
                        "--lcores",
                        "0@(0-1),1@(0-1)",
                        "--vdev",
                        "net_vhost0,iface=" + backend_sock + ",queues=2",
                        "--",
                        "--forward-mode=macswap",
                        "--rxq=2",
                        "--txq=2",
                        "--nb-cores=1",
                        "--port-topology=loop",
                        "--total-num-mbufs=8192",
                        "--auto-start",
                        "--stats-period=60"},
                       dir.path());
  ASSERT_TRUE(testpmd.started());
  // A frozen testpmd must not outlive the test frozen (the destructors then SIGKILL by PID).
  struct Continue {
    ChildProcess& p;
    ~Continue() { p.send_signal(SIGCONT); }
  } continue_testpmd{testpmd};
  ASSERT_TRUE(wait_for_path(backend_sock, milliseconds(20000))) << testpmd.stderr_text();

  ChildProcess recorder({vhostscope_binary(), "record", "--frontend-listen", proxy_sock,
                         "--backend-connect", backend_sock, "-w", capture, "--status"},
                        dir.path());
  ASSERT_TRUE(recorder.started());
  ASSERT_TRUE(wait_for_path(proxy_sock, milliseconds(10000))) << recorder.stderr_text();

  // MSI-X off (vectors=0): QEMU 7.2 under TCG crashes in msix_set_vector_notifiers with it.
  std::string nic = "virtio-net-pci,netdev=n0,mq=on,vectors=0";
  if (packed) nic += ",packed=on";
  ChildProcess qemu(
      {"/usr/bin/qemu-system-x86_64",
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
       "-netdev",
       "vhost-user,id=n0,chardev=c0,queues=2",
       "-device",
       nic,
       "-kernel",
       (guest_dir() / "vmlinuz").string(),
       "-initrd",
       (guest_dir() / "initramfs.cpio.gz").string(),
       "-append",
       "console=ttyS0 vhs.test=net vhs.idle=" + std::to_string(kIdleSeconds) + " panic=-1",
       "-nodefaults",
       "-display",
       "none",
       "-serial",
       "file:" + serial,
       "-no-reboot"},
      dir.path());
  ASSERT_TRUE(qemu.started());
  auto all_alive = [&] { return qemu.running() && recorder.running() && testpmd.running(); };
  auto logs = [&] {
    const std::string console = read_text_file(serial);
    const std::string status = recorder.stderr_text();
    const std::string pmd = testpmd.stdout_text();
    return "\n--- serial (tail)\n" +
           console.substr(console.size() > 2000 ? console.size() - 2000 : 0) +
           "\n--- record stderr (tail)\n" +
           status.substr(status.size() > 4000 ? status.size() - 4000 : 0) + "\n--- qemu\n" +
           qemu.stderr_text() + "\n--- testpmd (tail)\n" +
           pmd.substr(pmd.size() > 1500 ? pmd.size() - 1500 : 0) + testpmd.stderr_text();
  };
  auto guest_says = [&](const std::string& what) {
    return read_text_file(serial).find("VHOSTSCOPE-GUEST: " + what) != std::string::npos;
  };

  // Boot (about 10-30 s under TCG), then frames out and back through the proxy.
  ASSERT_TRUE(wait_until([&] { return guest_says("NET-REPLIES") || guest_says("FAIL"); }, all_alive,
                         milliseconds(150000)))
      << "the guest never reported its frames" << logs();
  ASSERT_FALSE(guest_says("FAIL")) << logs();

  // The idle stretch, then frames again (their ring states close the stretch in the capture).
  ASSERT_TRUE(wait_until([&] { return guest_says("NET-IDLE-DONE") || guest_says("FAIL"); },
                         all_alive, milliseconds((kIdleSeconds + 40) * 1000)))
      << "the guest never finished its idle stretch" << logs();
  ASSERT_FALSE(guest_says("FAIL")) << logs();
  std::this_thread::sleep_for(milliseconds(300));  // records flush every 15 ms
  fs::copy_file(capture, healthy, fs::copy_options::overwrite_existing);
  const size_t healthy_status_end = recorder.stderr_text().size();
  EXPECT_EQ(recorder.stderr_text().find("ring-stalled"), std::string::npos)
      << "live stall report on a healthy net device" << logs();

  // The healthy capture: net device, idle receive queue for the whole stretch, no stall, and
  // `summary --check` passes (a copy taken mid-recording may end in a cut record: a warning).
  {
    Store store;
    std::string warning, error;
    ASSERT_TRUE(load_capture(healthy, store, warning, error)) << error;
    ASSERT_FALSE(store.sessions().empty());
    const StoreSession& s = store.sessions().back();
    EXPECT_EQ(s.state().device, DeviceKind::Net);
    EXPECT_GE(longest_unchanged_with_buffers(store, 0), (kIdleSeconds - 2) * 1'000'000'000)
        << format_ring_block(store, s);
    bool packed_seen = false, split_seen = false;
    for (size_t i = 0; i < store.size(); ++i) {
      if (store.entry(i).kind != RecordKind::RingState) continue;
      auto snap = decode_ring_snapshot(store.bytes(i));
      if (!snap) continue;
      (snap->type == RingType::Packed ? packed_seen : split_seen) = true;
    }
    EXPECT_EQ(packed_seen, packed) << format_ring_block(store, s);
    EXPECT_EQ(split_seen, !packed) << format_ring_block(store, s);
    for (const RingEpisode& e : s.rings.episodes())
      EXPECT_NE(e.finding.code, FindingCode::RingStalled) << describe_episode(e, 0);
  }
  CommandResult check = run_command({vhostscope_binary(), "summary", "--check", healthy},
                                    dir.path(), milliseconds(30000));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out.find("ring-stalled"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("Device: net"), std::string::npos) << check.out;
  // QEMU and DPDK's vhost library keep every conformance rule (QEMU's deviations accepted).
  CommandResult conformance =
      run_command({vhostscope_binary(), "check", "--profile", "qemu", healthy}, dir.path(),
                  milliseconds(30000));
  EXPECT_EQ(conformance.exit_code, 0) << conformance.out << conformance.err;
  // Ring states show what the buffers are: empty receive buffers on queue 0.
  CommandResult rings =
      run_command({vhostscope_binary(), "rings", healthy}, dir.path(), milliseconds(30000));
  EXPECT_EQ(rings.exit_code, 0) << rings.err;
  EXPECT_TRUE(std::regex_search(
      rings.out,
      std::regex(R"(q0 .*oldest head \d+: RX buffer \d+ bytes, empty until a packet arrives)")))
      << rings.out;

  // Freeze the back-end while the guest sends: the transmit queue (1) stalls, named with its
  // oldest frame.
  ASSERT_TRUE(wait_until([&] { return guest_says("NET-SENDING"); }, all_alive, milliseconds(20000)))
      << logs();
  std::this_thread::sleep_for(milliseconds(500));
  const size_t before_stop = recorder.stderr_text().size();
  testpmd.send_signal(SIGSTOP);
  const std::string stall_needle = "ring-stalled q1: queue 1: ";
  ASSERT_TRUE(wait_until(
      [&] { return recorder.stderr_text().find(stall_needle, before_stop) != std::string::npos; },
      [&] { return qemu.running() && recorder.running(); }, milliseconds(15000)))
      << "no live transmit stall report" << logs();
  const std::string stalled = line_with(recorder.stderr_text(), stall_needle, before_stop);
  EXPECT_TRUE(std::regex_search(
      stalled,
      std::regex(R"(queue 1: \d+ buffers? in flight, .*oldest head \d+: TX \d+ bytes ARP)")))
      << stalled;
  // No receive queue and no queue of the idle pair is called stalled, before or after.
  for (const char* q : {"ring-stalled q0:", "ring-stalled q2:", "ring-stalled q3:"})
    EXPECT_EQ(recorder.stderr_text().find(q, healthy_status_end), std::string::npos) << q << logs();

  qemu.send_signal(SIGKILL);
  ASSERT_TRUE(qemu.wait_exit(milliseconds(10000)).has_value());
  recorder.send_signal(SIGTERM);
  const auto rc = recorder.wait_exit(milliseconds(10000));
  ASSERT_TRUE(rc.has_value()) << "vhostscope record did not stop" << logs();
  EXPECT_EQ(*rc, 0) << logs();

  // The whole capture: the stall on the transmit queue fails the check, and names the queue.
  CommandResult broken = run_command({vhostscope_binary(), "summary", "--check", capture},
                                     dir.path(), milliseconds(30000));
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_NE(broken.out.find("ring-stalled"), std::string::npos) << broken.out;
  const std::string first = line_with(broken.out, "first: queue 1: ");
  EXPECT_TRUE(std::regex_search(first, std::regex(R"(queue 1: \d+ buffers? in flight)")))
      << broken.out;
  for (const char* q : {"first: queue 0:", "first: queue 2:", "first: queue 3:"})
    EXPECT_EQ(broken.out.find(q), std::string::npos) << q << broken.out;
}

TEST(RealNet, SplitRingsTwoQueuePairsIdleThenTransmitStall) { run_net_scenario(false); }

TEST(RealNet, PackedRingsIdleThenTransmitStall) { run_net_scenario(true); }

}  // namespace
}  // namespace vhs::test
