// Replay towards a real QEMU (issue 6): `vhostscope replay captures/samples/blk-boot.pcap
// --frontend-listen` plays the recorded qemu-storage-daemon, and QEMU (TCG, vhost-user-blk-pci)
// completes its control-plane start against the recorded replies: negotiation, memory table, vring
// set-up up to SET_VRING_KICK and SET_VRING_ENABLE. The first start of the device is SeaBIOS
// probing the disk, half a second after QEMU starts, so no guest kernel is needed. Replay against
// real qemu-storage-daemons (fresh, read-only) is in replay_test.cpp.
//
// A `vhostscope record` sits between QEMU and the replay: its capture is flushed as it goes, so
// the test sees when the vrings are started, then kills QEMU by PID. The replay then reports the
// front-end's disconnect where the recording went on (the kernel's re-initialisation) and nothing
// before it.
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"

namespace vhs::test {
namespace {

constexpr const char* kQemu = "/usr/bin/qemu-system-x86_64";

// The front-end's SET_VRING_ENABLE index 0 num 1 (the last step of the start) in a capture.
bool vring_enabled(const CaptureContents& c) {
  for (const Record* r : c.messages(Channel::Frontend, Direction::ToBackend))
    if (r->bytes == request("SET_VRING_ENABLE", vring_state(0, 1))) return true;
  return false;
}

size_t count_requests(const CaptureContents& c, std::string_view name) {
  size_t n = 0;
  for (const Record* r : c.messages(Channel::Frontend, Direction::ToBackend))
    if (r->bytes.size() >= 12 && r->bytes[0] == request_number(name) && (r->bytes[4] & 0x4) == 0)
      ++n;
  return n;
}

TEST(RealReplay, QemuStartsTheVringsAgainstTheRecordedBackend) {
  const std::string capture = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-boot.pcap";
  if (::access(kQemu, X_OK) != 0) GTEST_SKIP() << kQemu << " is not installed";
  RecorderHarness rec;  // QEMU -> rec.frontend_sock -> record -> rec.backend_sock = the replay
  const std::string replay_capture = rec.dir / "replay.pcap";
  ChildProcess replay({vhostscope_binary(), "replay", capture, "--frontend-listen",
                       rec.backend_sock, "-w", replay_capture, "--timeout", "2"},
                      rec.dir.path());
  ASSERT_TRUE(wait_for_path(rec.backend_sock, Millis(10000))) << replay.stderr_text();
  ASSERT_TRUE(rec.start({"--sample-interval", "0"})) << rec.why;

  ChildProcess qemu({kQemu,
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
                     "socket,id=c0,path=" + rec.frontend_sock,
                     "-device",
                     "vhost-user-blk-pci,chardev=c0,num-queues=1",
                     "-display",
                     "none",
                     "-serial",
                     "none",
                     "-monitor",
                     "none",
                     "-nodefaults"},
                    rec.dir.path());
  ASSERT_TRUE(qemu.started());

  // Bounded wait for the start to show up in the recorder's capture (flushed every 15 ms).
  bool started = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!started && std::chrono::steady_clock::now() < deadline && qemu.running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CaptureContents live = read_capture(rec.capture);
    started = live.opened && vring_enabled(live);
  }
  EXPECT_TRUE(started) << "QEMU did not get as far as SET_VRING_ENABLE; qemu: "
                       << qemu.stderr_text() << "\nreplay: " << replay.stderr_text();
  qemu.send_signal(SIGKILL);
  EXPECT_TRUE(qemu.wait_exit(Millis(5000)).has_value());

  // The replay ends at the disconnect: the recording goes on with the kernel's SET_VRING_ENABLE 0
  // (record #34), nothing before it diverged.
  std::optional<int> rc = replay.wait_exit(Millis(15000));
  ASSERT_TRUE(rc.has_value()) << "replay did not end after QEMU was gone";
  EXPECT_EQ(*rc, 1) << replay.stdout_text() << replay.stderr_text();
  const std::string out = replay.stdout_text();
  EXPECT_NE(out.find("replay: DIVERGED: 1 divergence (1 disconnect)"), std::string::npos) << out;
  const size_t at = out.find("divergence: #");
  ASSERT_NE(at, std::string::npos) << out;
  const int first = std::stoi(out.substr(at + 13));
  EXPECT_GE(first, 34) << "diverged before the vrings were started:\n" << out;
  EXPECT_NE(out.find("disconnect: the front-end closed the connection"), std::string::npos) << out;
  EXPECT_EQ(rec.stop(), 0) << rec.stderr_text();

  // The replay's own capture holds the whole start, with the recorded answers.
  CaptureContents c = read_capture(replay_capture);
  ASSERT_TRUE(c.opened) << c.error;
  EXPECT_TRUE(vring_enabled(c));
  EXPECT_EQ(count_requests(c, "SET_VRING_KICK"), 1u);
  EXPECT_EQ(count_requests(c, "ADD_MEM_REG"), 1u);
  EXPECT_EQ(count_requests(c, "SET_OWNER"), 1u);
  auto answers = c.messages(Channel::Frontend, Direction::ToFrontend);
  ASSERT_FALSE(answers.empty());
  // The first answer is the recorded GET_FEATURES reply, byte for byte.
  EXPECT_EQ(answers[0]->bytes, reply("GET_FEATURES", u64_payload(0x175007e46ull)));
  for (const Record* r : c.messages(Channel::Frontend, Direction::ToBackend)) {
    if (r->bytes.size() >= 12 && r->bytes[0] == request_number("SET_VRING_KICK")) {
      ASSERT_EQ(r->fds.size(), 1u);
      EXPECT_EQ(r->fds[0].kind, FdKind::Eventfd);
    }
  }
}

}  // namespace
}  // namespace vhs::test
