// `vhostscope exercise --ring packed` against real back-ends: DPDK's dpdk-testpmd (vhost PMD, no
// hugepages, no PCI), whose vhost library drives packed virtqueues, forwards every frame back and
// every net check and lifecycle scenario passes or is reported unsupported naming
// the feature, with the capture's
// ring states sampled as packed rings; qemu-storage-daemon (libvhost-user, split rings only) gets
// protocol.setup reported unsupported naming the missing feature, exit 0. Every wait is bounded;
// each back-end is killed by PID when its test ends.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "captures/model/store.hpp"
#include "support/process.hpp"
#include "support/ring_states.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;
using test::TempDir;
namespace stdfs = std::filesystem;

constexpr const char* kTestpmd = "/usr/bin/dpdk-testpmd";
constexpr const char* kQsd = "/usr/bin/qemu-storage-daemon";

struct Check {
  std::string verdict, reason;
};

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

// testpmd: one vhost port with one queue pair forwarded to itself in io mode (as
// real_exercise_fs_net_test.cpp starts it).
std::unique_ptr<ChildProcess> start_testpmd(const TempDir& dir, const std::string& sock) {
  auto p = std::make_unique<ChildProcess>(
      std::vector<std::string>{kTestpmd,
                               "--no-huge",
                               "--no-pci",
                               "-m",
                               "256",
                               "--no-shconf",
                               "--file-prefix=vhspk" + std::to_string(::getpid()),
                               "--lcores",
                               "0@(0-1),1@(0-1)",
                               "--vdev",
                               "net_vhost0,iface=" + sock + ",queues=1",
                               "--",
                               "--forward-mode=io",
                               "--rxq=1",
                               "--txq=1",
                               "--nb-cores=1",
                               "--port-topology=loop",
                               "--total-num-mbufs=8192",
                               "--auto-start",
                               "--stats-period=60"},
      dir.path());
  EXPECT_TRUE(test::wait_for_path(sock, 20s)) << p->stderr_text();
  return p;
}

TEST(RealExercisePacked, TestpmdPassesEveryNetCheckAndScenarioOnPackedRings) {
  ASSERT_TRUE(stdfs::exists(kTestpmd)) << kTestpmd << " is missing (Debian dpdk)";
  TempDir dir;
  const std::string sock = dir / "net.sock", capture = dir / "net.pcap";
  auto testpmd = start_testpmd(dir, sock);
  ASSERT_TRUE(testpmd->started());
  // Every lifecycle scenario.
  std::vector<std::string> argv = {test::vhostscope_binary(), "exercise", "--backend-connect", sock,
                                   "--device", "net", "--ring", "packed", "--queue-size", "64",
                                   "-w", capture, "--format", "json"};
  for (const char* name : {"stop-restart", "enable-toggle", "reset", "reconnect", "mem-hotplug",
                           "get-config", "set-config", "dirty-log", "backend-crash"})
    argv.insert(argv.end(), {"--scenario", name});
  const auto run = test::run_command(argv, dir.path(), 50s);
  const auto checks = checks_of(run.out);
  ASSERT_FALSE(checks.empty()) << run.out << run.err << testpmd->stderr_text();
  // stop-restart carries receive buffers and frames in flight on the queue pair across
  // GET_VRING_BASE/SET_VRING_BASE (proxy/exercise/net_probe).
  for (const char* id : {"protocol.setup", "net.tx-rx", "net.mrg-rxbuf", "lifecycle.stop-restart",
                         "lifecycle.enable-toggle", "lifecycle.reset", "lifecycle.reconnect",
                         "lifecycle.dirty-log", "conformance.backend", "conformance.frontend"}) {
    ASSERT_TRUE(checks.count(id)) << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).verdict, "pass") << id << "\n" << listing(checks) << run.err;
  }
  // The others say what is missing.
  const std::pair<const char*, const char*> unsupported[] = {
      {"lifecycle.mem-hotplug",
       "the back-end does not offer the CONFIGURE_MEM_SLOTS protocol feature"},
      {"lifecycle.get-config", "the back-end does not offer the CONFIG protocol feature"},
      {"lifecycle.set-config", "the back-end does not offer the CONFIG protocol feature"},
      {"lifecycle.backend-crash",
       "needs --backend-command to restart the back-end (the engine must own its process)"},
  };
  for (const auto& [id, reason] : unsupported) {
    ASSERT_TRUE(checks.count(id)) << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).verdict, "unsupported") << id << "\n" << listing(checks);
    EXPECT_EQ(checks.at(id).reason, reason) << id;
  }
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;

  // The recorded ring states are packed-ring samples, every one of them.
  Store store(Store::Options{DeviceKind::Net});
  std::string warning, error;
  ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
  for (uint32_t q : {0u, 1u}) {
    const auto last = test::last_ring_state(store, q);
    ASSERT_TRUE(last) << "queue " << q;
    EXPECT_EQ(last->type, RingType::Packed) << "queue " << q;
    EXPECT_EQ(last->size, 64) << "queue " << q;
    EXPECT_TRUE(last->faults.empty()) << "queue " << q;
  }
}

// libvhost-user (qemu-storage-daemon) offers split rings only: the run is not failed but reports
// what is missing.
TEST(RealExercisePacked, QemuStorageDaemonReportsPackedRingsUnsupported) {
  ASSERT_TRUE(stdfs::exists(kQsd)) << kQsd << " is missing (Debian qemu-system-common)";
  TempDir dir;
  const std::string sock = dir / "blk.sock", image = dir / "disk.img";
  {
    const int fd = ::open(image.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, off_t{16} << 20), 0);
    ::close(fd);
  }
  ChildProcess qsd({kQsd, "--blockdev", "driver=file,node-name=file0,filename=" + image,
                    "--export",
                    "type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path=" + sock},
                   dir.path());
  ASSERT_TRUE(test::wait_for_path(sock, 10s)) << qsd.stderr_text();
  const auto run = test::run_command({test::vhostscope_binary(), "exercise", "--backend-connect",
                                      sock, "--device", "blk", "--ring", "packed", "--format",
                                      "json"},
                                     dir.path(), 30s);
  const auto checks = checks_of(run.out);
  ASSERT_TRUE(checks.count("protocol.setup")) << run.out << run.err;
  EXPECT_EQ(checks.at("protocol.setup").verdict, "unsupported") << listing(checks);
  EXPECT_EQ(checks.at("protocol.setup").reason,
            "the back-end does not offer VIRTIO_F_RING_PACKED (bit 34)");
  EXPECT_EQ(run.exit_code, 0) << listing(checks) << run.err;
}

}  // namespace
}  // namespace vhs
