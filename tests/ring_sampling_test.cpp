// Live ring sampling through the real `vhostscope record`: the test is both peers. As the
// front-end it lays out a split virtqueue in memfd guest memory, sends the memory table and vring
// setup, and publishes virtio-blk READ chains; as the back-end it completes one. The capture's
// RingState records must follow the in-flight set, `vhostscope rings` must name the oldest
// in-flight READ, and the proxy must have mapped guest memory read-only and never written it.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/virtio/ring_snapshot.hpp"
#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

constexpr uint64_t kFileSize = 0x20000;
constexpr uint64_t kRegionOffset = 0x10000;  // the region starts 64 KiB into the memfd
constexpr uint64_t kRegionSize = 0x10000;
constexpr uint64_t kGpa = 0x40000000;
constexpr uint64_t kUva = 0x7f0000000000;
constexpr uint16_t kQueueSize = 16;  // three 3-descriptor chains at heads 0, 3, 6
constexpr uint64_t kDesc = 0x0, kAvail = 0x200, kUsed = 0x400, kBuffers = 0x1000;  // region offsets

struct Guest {
  UniqueFd fd;
  uint8_t* base = nullptr;  // the whole file, read-write (we are the guest and the device)
  uint8_t* region() const { return base + kRegionOffset; }
  void put16(uint64_t off, uint16_t v) { std::memcpy(region() + off, &v, 2); }
  void put32(uint64_t off, uint32_t v) { std::memcpy(region() + off, &v, 4); }
  void put64(uint64_t off, uint64_t v) { std::memcpy(region() + off, &v, 8); }
  void desc(uint16_t i, uint64_t off, uint32_t len, uint16_t flags, uint16_t next) {
    put64(kDesc + 16u * i, kGpa + off);
    put32(kDesc + 16u * i + 8, len);
    put16(kDesc + 16u * i + 12, flags);
    put16(kDesc + 16u * i + 14, next);
  }
  // A virtio-blk READ of `sector` as a 3-descriptor chain starting at `head`.
  void blk_read(uint16_t head, uint64_t sector) {
    const uint64_t hdr = kBuffers + 0x400u * head;
    put32(hdr, 0);  // VIRTIO_BLK_T_IN
    put32(hdr + 4, 0);
    put64(hdr + 8, sector);
    desc(head, hdr, 16, 1, static_cast<uint16_t>(head + 1));
    desc(static_cast<uint16_t>(head + 1), hdr + 0x20, 512, 1 | 2, static_cast<uint16_t>(head + 2));
    desc(static_cast<uint16_t>(head + 2), hdr + 0x300, 1, 2, 0);
  }
  uint64_t checksum() const {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < kFileSize; ++i) h = (h ^ base[i]) * 1099511628211ull;
    return h;
  }
};

Guest make_guest() {
  Guest g;
  g.fd = make_memfd("vhs-ring-guest", kFileSize);
  void* p = ::mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, g.fd.get(), 0);
  if (p != MAP_FAILED) g.base = static_cast<uint8_t*>(p);
  return g;
}

// Sends from the front-end and receives the relayed copy on the back-end side.
void relay(int fe, int be, const Bytes& msg, std::vector<int> fds = {}) {
  ASSERT_EQ(send_message(fe, msg, fds), IoStatus::Ok);
  ReceivedMessage got;
  ASSERT_EQ(recv_message(be, got, Millis(5000)), IoStatus::Ok);
  ASSERT_EQ(got.bytes, msg);
  ASSERT_EQ(got.fds.size(), fds.size());
}

std::vector<RingSnapshot> ring_states(const CaptureContents& c) {
  std::vector<RingSnapshot> out;
  for (const Record* r : c.of_kind(RecordKind::RingState)) {
    auto s = decode_ring_snapshot(r->bytes);
    EXPECT_TRUE(s.has_value());
    if (s) out.push_back(*s);
  }
  return out;
}

// The recorder's mappings of our memfd, from /proc/<pid>/maps ("r--s ... /memfd:vhs-ring-guest").
std::vector<std::string> memfd_mappings(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::vector<std::string> out;
  for (std::string line; std::getline(maps, line);)
    if (line.find("memfd:vhs-ring-guest") != std::string::npos) out.push_back(line);
  return out;
}

bool wait_until(const std::function<bool()>& ok, Millis timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(Millis(10));
  }
  return ok();
}

TEST(RingSampling, SplitRingInFlightBlkReadsThroughRecord) {
  Guest g = make_guest();
  ASSERT_NE(g.base, nullptr);
  RecorderHarness h;
  UniqueFd be_listen = listen_on(h.backend_sock);
  ASSERT_TRUE(be_listen);
  ASSERT_TRUE(h.start({"--sample-interval", "10", "--device", "blk", "--status"})) << h.why;
  UniqueFd fe = connect_to(h.frontend_sock, Millis(5000));
  ASSERT_TRUE(fe);
  UniqueFd be = accept_from(be_listen.get(), Millis(5000));
  ASSERT_TRUE(be);

  relay(fe.get(), be.get(), request("SET_FEATURES", u64_payload(1ull << 32)));
  Region region{kGpa, kRegionSize, kUva, kRegionOffset};
  relay(fe.get(), be.get(),
        request("SET_MEM_TABLE", mem_table(std::span<const Region>(&region, 1))), {g.fd.get()});
  relay(fe.get(), be.get(), request("SET_VRING_NUM", vring_state(0, kQueueSize)));
  relay(fe.get(), be.get(),
        request("SET_VRING_ADDR", vring_addr(0, 0, kUva + kDesc, kUva + kUsed, kUva + kAvail, 0)));
  relay(fe.get(), be.get(), request("SET_VRING_BASE", vring_state(0, 0)));
  UniqueFd kick = make_eventfd();
  relay(fe.get(), be.get(), request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});

  // The recorder maps the region read-only and shared, at the region's file offset.
  std::vector<std::string> maps;
  ASSERT_TRUE(
      wait_until([&] { return !(maps = memfd_mappings(h.proc->pid())).empty(); }, Millis(5000)));
  for (const std::string& m : maps) {
    EXPECT_NE(m.find(" r--s "), std::string::npos) << m;
    EXPECT_NE(m.find(" 00010000 "), std::string::npos) << m;  // mmap offset 0x10000
  }

  // The guest publishes three READs (heads 0, 3, 6); the device then completes head 0.
  g.blk_read(0, 100);
  g.blk_read(3, 200);
  g.blk_read(6, 300);
  g.put16(kAvail + 4, 0);
  g.put16(kAvail + 6, 3);
  g.put16(kAvail + 8, 6);
  g.put16(kAvail + 2, 3);
  std::this_thread::sleep_for(Millis(300));
  g.put32(kUsed + 4, 0);
  g.put32(kUsed + 8, 513);
  g.put16(kUsed + 2, 1);
  const uint64_t sum = g.checksum();
  std::this_thread::sleep_for(Millis(1300));  // > 1 s: the remaining two are a stall
  ASSERT_TRUE(h.proc->wait_for_stderr("status s1 q0", Millis(3000))) << h.stderr_text();
  // --status runs the Store's hang rules on the wall clock: the frozen ring is reported live.
  EXPECT_TRUE(h.proc->wait_for_stderr(
      "status s1 ring-stalled q0: queue 0: 2 buffers in flight, used idx 1", Millis(3000)))
      << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("oldest head 3: READ sector 200 len 512 — still stalled"),
            std::string::npos)
      << h.stderr_text();

  fe.reset();
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();
  EXPECT_EQ(g.checksum(), sum) << "the proxy wrote guest memory";

  CaptureContents c = read_capture(h.capture);
  ASSERT_TRUE(c.opened) << c.error;
  std::vector<RingSnapshot> states = ring_states(c);
  ASSERT_GE(states.size(), 3u);
  // At the kick: empty ring, with the base from SET_VRING_BASE.
  EXPECT_EQ(states.front().inflight, 0u);
  EXPECT_EQ(states.front().vring_base, std::optional<uint32_t>(0));
  // Only changes are recorded: consecutive records differ.
  for (size_t i = 1; i < states.size(); ++i) EXPECT_FALSE(states[i] == states[i - 1]) << i;
  auto three = std::find_if(states.begin(), states.end(),
                            [](const RingSnapshot& s) { return s.inflight == 3; });
  ASSERT_NE(three, states.end());
  EXPECT_EQ(three->heads, (std::vector<uint16_t>{0, 3, 6}));
  const RingSnapshot& last = states.back();
  EXPECT_EQ(last.queue, 0u);
  EXPECT_EQ(last.size, kQueueSize);
  EXPECT_EQ(last.avail_idx, 3);
  EXPECT_EQ(last.used_idx, 1);
  EXPECT_EQ(last.inflight, 2u);
  EXPECT_EQ(last.heads, (std::vector<uint16_t>{3, 6}));
  ASSERT_TRUE(last.oldest.has_value());
  EXPECT_TRUE(last.faults.empty());

  CommandResult rings = run_command({vhostscope_binary(), "rings", h.capture}, h.dir.path());
  ASSERT_EQ(rings.exit_code, 0) << rings.err;
  EXPECT_NE(rings.out.find("READ sector 200"), std::string::npos) << rings.out;
  EXPECT_NE(rings.out.find("NOW   ring-stalled since"), std::string::npos) << rings.out;
  EXPECT_NE(rings.out.find(": queue 0: 2 buffers in flight, used idx 1"), std::string::npos)
      << rings.out;
  CommandResult summary = run_command({vhostscope_binary(), "summary", h.capture}, h.dir.path());
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("oldest head 3: READ sector 200 len 512 — still stalled"),
            std::string::npos)
      << summary.out;

  CommandResult memmap = run_command({vhostscope_binary(), "memmap", h.capture}, h.dir.path());
  ASSERT_EQ(memmap.exit_code, 0) << memmap.err;
  EXPECT_NE(memmap.out.find("region 0: gpa 0x40000000-0x40010000 uva 0x7f0000000000 size 0x10000 "
                            "offset 0x10000 fd memfd:vhs-ring-guest"),
            std::string::npos)
      << memmap.out;
  EXPECT_NE(memmap.out.find("used uva 0x7f0000000400 = gpa 0x40000400 (region 0 +0x400)"),
            std::string::npos)
      << memmap.out;
}

TEST(RingSampling, UnmappedRingAddressIsAnErrorRecordNotACrash) {
  Guest g = make_guest();
  ASSERT_NE(g.base, nullptr);
  RecorderHarness h;
  UniqueFd be_listen = listen_on(h.backend_sock);
  ASSERT_TRUE(h.start({})) << h.why;  // sampling is on by default
  UniqueFd fe = connect_to(h.frontend_sock, Millis(5000));
  UniqueFd be = accept_from(be_listen.get(), Millis(5000));
  ASSERT_TRUE(fe && be);
  Region region{kGpa, kRegionSize, kUva, kRegionOffset};
  relay(fe.get(), be.get(),
        request("SET_MEM_TABLE", mem_table(std::span<const Region>(&region, 1))), {g.fd.get()});
  relay(fe.get(), be.get(), request("SET_VRING_NUM", vring_state(0, kQueueSize)));
  // The used ring lies outside every region.
  relay(fe.get(), be.get(),
        request("SET_VRING_ADDR", vring_addr(0, 0, kUva + kDesc, 0x1000, kUva + kAvail, 0)));
  UniqueFd kick = make_eventfd();
  relay(fe.get(), be.get(), request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});
  std::this_thread::sleep_for(Millis(100));
  fe.reset();
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();

  CaptureContents c = read_capture(h.capture);
  ASSERT_TRUE(c.opened) << c.error;
  bool error_named = false;
  for (const Record* r : c.of_kind(RecordKind::Error))
    error_named |= r->text().find("vring 0: ring not readable") != std::string_view::npos;
  EXPECT_TRUE(error_named);
  std::vector<RingSnapshot> states = ring_states(c);
  ASSERT_EQ(states.size(), 1u);  // unreadable and unchanging: recorded once
  ASSERT_FALSE(states[0].faults.empty());
  EXPECT_EQ(states[0].faults[0].kind, RingFaultKind::PartUnmapped);
  EXPECT_EQ(states[0].faults[0].value, 0x1000u);
}

// A region that claims more bytes than its file has: the proxy must not touch the missing tail
// (that would be SIGBUS on a shared mapping); a ring there is unreadable, not a crash.
TEST(RingSampling, RegionPastEndOfFileIsUnreadableNotSigbus) {
  Guest g = make_guest();
  ASSERT_NE(g.base, nullptr);
  RecorderHarness h;
  UniqueFd be_listen = listen_on(h.backend_sock);
  ASSERT_TRUE(h.start({"--sample-interval", "10"})) << h.why;
  UniqueFd fe = connect_to(h.frontend_sock, Millis(5000));
  UniqueFd be = accept_from(be_listen.get(), Millis(5000));
  ASSERT_TRUE(fe && be);
  // File offset 0x18000 + size 0x10000 > file size 0x20000: only the first 0x8000 bytes exist.
  Region region{kGpa, kRegionSize, kUva, 0x18000};
  relay(fe.get(), be.get(),
        request("SET_MEM_TABLE", mem_table(std::span<const Region>(&region, 1))), {g.fd.get()});
  relay(fe.get(), be.get(), request("SET_VRING_NUM", vring_state(0, kQueueSize)));
  relay(
      fe.get(), be.get(),
      request("SET_VRING_ADDR", vring_addr(0, 0, kUva + 0x9000, kUva + 0x9400, kUva + 0x9200, 0)));
  UniqueFd kick = make_eventfd();
  relay(fe.get(), be.get(), request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});
  std::this_thread::sleep_for(Millis(100));
  ASSERT_TRUE(h.proc->running());
  fe.reset();
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();
  std::vector<RingSnapshot> states = ring_states(read_capture(h.capture));
  ASSERT_EQ(states.size(), 1u);
  ASSERT_FALSE(states[0].faults.empty());
  EXPECT_EQ(states[0].faults[0].kind, RingFaultKind::PartUnreadable);
}

// --sample-interval 0 turns sampling off: guest memory is not mapped, no RingState is written.
TEST(RingSampling, IntervalZeroMapsNothingAndRecordsNoRingState) {
  Guest g = make_guest();
  ASSERT_NE(g.base, nullptr);
  RecorderHarness h;
  UniqueFd be_listen = listen_on(h.backend_sock);
  ASSERT_TRUE(h.start({"--sample-interval", "0"})) << h.why;
  UniqueFd fe = connect_to(h.frontend_sock, Millis(5000));
  UniqueFd be = accept_from(be_listen.get(), Millis(5000));
  ASSERT_TRUE(fe && be);
  Region region{kGpa, kRegionSize, kUva, kRegionOffset};
  relay(fe.get(), be.get(),
        request("SET_MEM_TABLE", mem_table(std::span<const Region>(&region, 1))), {g.fd.get()});
  relay(fe.get(), be.get(), request("SET_VRING_NUM", vring_state(0, kQueueSize)));
  relay(fe.get(), be.get(),
        request("SET_VRING_ADDR", vring_addr(0, 0, kUva + kDesc, kUva + kUsed, kUva + kAvail, 0)));
  UniqueFd kick = make_eventfd();
  relay(fe.get(), be.get(), request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});
  g.blk_read(0, 100);
  g.put16(kAvail + 4, 0);
  g.put16(kAvail + 2, 1);
  std::this_thread::sleep_for(Millis(150));
  EXPECT_TRUE(memfd_mappings(h.proc->pid()).empty());
  fe.reset();
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();
  CaptureContents c = read_capture(h.capture);
  ASSERT_TRUE(c.opened) << c.error;
  EXPECT_FALSE(c.of_kind(RecordKind::Message).empty());
  EXPECT_TRUE(c.of_kind(RecordKind::RingState).empty());
}

}  // namespace
}  // namespace vhs::test
