// A front-end that shrinks a memory region's file under a running ring, through the real
// `vhostscope record`: the test is both peers. It sets a memfd region, starts a virtio-blk ring in
// it, then ftruncate's the memfd (to 0, and to half the region) and keeps sending messages. The
// recorder must not die of SIGBUS: later messages relay byte-exact, the ring's next samples carry
// PartUnreadable faults, the capture names the finding region-beyond-fd, the session's fds are
// closed when it ends and the next session relays. Also: a region larger than its fd at map time,
// and the finding at ingest for records built by hand.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

constexpr uint64_t kFileSize = 0x20000;
constexpr uint64_t kRegionOffset = 0x10000;  // the region is the second half of the memfd
constexpr uint64_t kRegionSize = 0x10000;
constexpr uint64_t kGpa = 0x40000000;
constexpr uint64_t kUva = 0x7f0000000000;
constexpr uint16_t kQueueSize = 16;
// The ring and its buffers sit in the upper half of the region: shrinking the file to half the
// region takes them away, as shrinking it to nothing does.
constexpr uint64_t kDesc = 0x9000, kAvail = 0x9200, kUsed = 0x9400, kBuffers = 0xa000;
constexpr Millis kLong{5000};

struct Guest {
  UniqueFd fd = make_memfd("vhs-shrink-guest", kFileSize);
  uint8_t* base = nullptr;

  Guest() {
    void* p = ::mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p != MAP_FAILED) base = static_cast<uint8_t*>(p);
  }
  ~Guest() {
    if (base != nullptr) ::munmap(base, kFileSize);
  }
  uint8_t* region() const { return base + kRegionOffset; }
  template <typename T>
  void put(uint64_t off, T v) {
    std::memcpy(region() + off, &v, sizeof v);
  }
  // One virtio-blk READ chain (header, data, status) at head 0, published in the avail ring.
  void publish_read() {
    put<uint32_t>(kBuffers, 0);
    put<uint64_t>(kBuffers + 8, 77);
    auto desc = [&](uint16_t i, uint64_t off, uint32_t len, uint16_t flags, uint16_t next) {
      put<uint64_t>(kDesc + 16u * i, kGpa + off);
      put<uint32_t>(kDesc + 16u * i + 8, len);
      put<uint16_t>(kDesc + 16u * i + 12, flags);
      put<uint16_t>(kDesc + 16u * i + 14, next);
    };
    desc(0, kBuffers, 16, 1, 1);
    desc(1, kBuffers + 0x100, 512, 1 | 2, 2);
    desc(2, kBuffers + 0x300, 1, 2, 0);
    put<uint16_t>(kAvail + 4, 0);
    put<uint16_t>(kAvail + 2, 1);
  }
  void truncate(uint64_t size) {
    // Our own view of the pages goes first: we are about to take them away.
    ::munmap(base, kFileSize);
    base = nullptr;
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
  }
};

// Sends from one peer and receives the relayed copy on the other, byte for byte.
void relay(int from, int to, const Bytes& msg, std::vector<int> fds = {}) {
  ASSERT_EQ(send_message(from, msg, fds), IoStatus::Ok);
  ReceivedMessage got;
  ASSERT_EQ(recv_message(to, got, kLong), IoStatus::Ok);
  ASSERT_EQ(got.bytes, msg);
  ASSERT_EQ(got.fds.size(), fds.size());
}

struct Peers {
  UniqueFd fe, be;
};

Peers connect_peers(RecorderHarness& h, int be_listen) {
  Peers p;
  p.fe = connect_to(h.frontend_sock, kLong);
  p.be = accept_from(be_listen, kLong);
  return p;
}

// Memory table and a started split ring 0 at the region offsets above.
void start_ring(const Peers& p, const Guest& g, const Region& region) {
  relay(p.fe.get(), p.be.get(), request("SET_FEATURES", u64_payload(1ull << 32)));
  relay(p.fe.get(), p.be.get(),
        request("SET_MEM_TABLE", mem_table(std::span<const Region>(&region, 1))), {g.fd.get()});
  relay(p.fe.get(), p.be.get(), request("SET_VRING_NUM", vring_state(0, kQueueSize)));
  relay(p.fe.get(), p.be.get(),
        request("SET_VRING_ADDR", vring_addr(0, 0, kUva + kDesc, kUva + kUsed, kUva + kAvail, 0)));
  relay(p.fe.get(), p.be.get(), request("SET_VRING_BASE", vring_state(0, 0)));
  UniqueFd kick = make_eventfd();
  relay(p.fe.get(), p.be.get(), request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});
}

// A session that only asks GET_FEATURES: the recorder still relays after the bad one.
void expect_next_session_relays(RecorderHarness& h, int be_listen) {
  Peers p = connect_peers(h, be_listen);
  ASSERT_TRUE(p.fe && p.be);
  relay(p.fe.get(), p.be.get(), request("GET_FEATURES"));
  relay(p.be.get(), p.fe.get(), reply("GET_FEATURES", u64_payload(0x1234)));
  p.fe.reset();
  EXPECT_TRUE(wait_closed(p.be.get(), kLong));
}

std::vector<const Finding*> findings_named(const Store& store, std::string_view id,
                                           uint32_t session) {
  std::vector<const Finding*> out;
  for (size_t i = 0; i < store.size(); ++i) {
    if (store.entry(i).session != session) continue;
    for (const Finding& f : store.findings(i))
      if (finding_info(f.code).id == id) out.push_back(&f);
  }
  return out;
}

struct ShrinkCase {
  const char* name;
  uint64_t truncate_to;   // new file size
  uint64_t backed_after;  // region bytes the file still holds
};

class ShrinkWhileSampling : public ::testing::TestWithParam<ShrinkCase> {};

TEST_P(ShrinkWhileSampling, RecorderSurvivesRelaysOnAndNamesTheFinding) {
  const ShrinkCase c = GetParam();
  Guest g;
  ASSERT_NE(g.base, nullptr);
  RecorderHarness h;
  UniqueFd be_listen = listen_on(h.backend_sock);
  ASSERT_TRUE(be_listen);
  ASSERT_TRUE(h.start({"--sample-interval", "10", "--device", "blk"})) << h.why;
  {
    Peers p = connect_peers(h, be_listen.get());
    ASSERT_TRUE(p.fe && p.be);
    const Region region{kGpa, kRegionSize, kUva, kRegionOffset};
    start_ring(p, g, region);
    g.publish_read();
    std::this_thread::sleep_for(Millis(100));  // sampled while whole: one READ in flight

    g.truncate(c.truncate_to);
    std::this_thread::sleep_for(Millis(200));  // ~20 timer samples of the vanished ring
    ASSERT_TRUE(h.proc->running()) << "the recorder died: " << h.stderr_text();

    // The session goes on, byte-exact both ways, including a message that resamples the ring
    // and a ring stop with its reply.
    relay(p.fe.get(), p.be.get(), request("SET_VRING_BASE", vring_state(0, 0)));
    UniqueFd call = make_eventfd();
    relay(p.fe.get(), p.be.get(), request("SET_VRING_CALL", vring_index_fd(0)), {call.get()});
    relay(p.fe.get(), p.be.get(), request("GET_VRING_BASE", vring_state(0, 0)));
    relay(p.be.get(), p.fe.get(), reply("GET_VRING_BASE", vring_state(0, 1)));
    relay(p.fe.get(), p.be.get(), request("GET_FEATURES"));
    relay(p.be.get(), p.fe.get(), reply("GET_FEATURES", u64_payload(1ull << 32)));
    ASSERT_TRUE(h.proc->running()) << h.stderr_text();
    p.fe.reset();
    EXPECT_TRUE(wait_closed(p.be.get(), kLong));
  }
  // The session's mappings and fd duplicates are gone with it.
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, kLong), h.idle_fds) << "fd leak";
  expect_next_session_relays(h, be_listen.get());
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, kLong), h.idle_fds);
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("now extends past the end of its fd"), std::string::npos)
      << h.stderr_text();

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  EXPECT_EQ(cap.warning, "");
  // One flagged Error record per shrink, saying what is left.
  std::vector<const Record*> shrinks;
  for (const Record* r : cap.of_kind(RecordKind::Error))
    if (r->flags & kRecordRegionBeyondFd) shrinks.push_back(r);
  ASSERT_EQ(shrinks.size(), 1u);
  EXPECT_EQ(shrinks[0]->session, 1u);
  const std::string text(shrinks[0]->text());
  EXPECT_NE(text.find("memory region 0 (GPA 0x40000000 size 0x10000, fd offset 0x10000)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(fmt::format("the file shrank to {:#x} bytes, {:#x} of the region's bytes "
                                  "remain",
                                  c.truncate_to, c.backed_after)),
            std::string::npos)
      << text;

  // The ring was readable before and reads as the unreadable part after: the ring fault path.
  std::vector<RingSnapshot> states;
  for (const Record* r : cap.of_kind(RecordKind::RingState))
    if (auto s = decode_ring_snapshot(r->bytes)) states.push_back(*s);
  ASSERT_GE(states.size(), 2u);
  EXPECT_TRUE(states.front().faults.empty());
  const bool had_inflight = std::any_of(states.begin(), states.end(), [](const RingSnapshot& s) {
    return s.faults.empty() && s.inflight == 1;
  });
  EXPECT_TRUE(had_inflight);
  ASSERT_FALSE(states.back().faults.empty());
  EXPECT_EQ(states.back().faults[0].kind, RingFaultKind::PartUnreadable);
  EXPECT_FALSE(states.back().indices_ok);

  // Session 2 came through whole.
  size_t s2 = 0;
  for (const Record& r : cap.records) s2 += r.session == 2 && r.kind == RecordKind::Message;
  EXPECT_EQ(s2, 2u);

  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(h.capture, store, warning, error)) << error;
  EXPECT_EQ(findings_named(store, "region-beyond-fd", 1).size(), 1u);
  EXPECT_FALSE(findings_named(store, "ring-address-unmapped", 1).empty());
  EXPECT_TRUE(findings_named(store, "relay-failed", 1).empty()) << "nothing failed to relay";
  CommandResult summary = run_command({vhostscope_binary(), "summary", h.capture}, h.dir.path());
  EXPECT_NE(summary.out.find("error   region-beyond-fd x1: #"), std::string::npos) << summary.out;
  EXPECT_NE(summary.out.find("first: memory region 0 (GPA 0x40000000 size 0x10000"),
            std::string::npos)
      << summary.out;
}

INSTANTIATE_TEST_SUITE_P(Shrink, ShrinkWhileSampling,
                         ::testing::Values(ShrinkCase{"ToZero", 0, 0},
                                           ShrinkCase{"ToHalfTheRegion", 0x18000, 0x8000}),
                         [](const auto& info) { return std::string(info.param.name); });

// The region asks for more than the file has from the start: the analyser names it at
// SET_MEM_TABLE, the ring in the missing tail is unreadable, nothing faults, nothing shrank.
TEST(RegionBeyondFd, RegionLargerThanItsFileAtMapTime) {
  Guest g;
  ASSERT_NE(g.base, nullptr);
  RecorderHarness h;
  UniqueFd be_listen = listen_on(h.backend_sock);
  ASSERT_TRUE(h.start({"--sample-interval", "10", "--device", "blk"})) << h.why;
  {
    Peers p = connect_peers(h, be_listen.get());
    ASSERT_TRUE(p.fe && p.be);
    // File offset 0x18000 + size 0x10000 > file size 0x20000: the region's upper half, where
    // the ring is, does not exist.
    const Region region{kGpa, kRegionSize, kUva, 0x18000};
    start_ring(p, g, region);
    std::this_thread::sleep_for(Millis(100));
    relay(p.fe.get(), p.be.get(), request("GET_FEATURES"));
    relay(p.be.get(), p.fe.get(), reply("GET_FEATURES", u64_payload(1ull << 32)));
    ASSERT_TRUE(h.proc->running()) << h.stderr_text();
    p.fe.reset();
    EXPECT_TRUE(wait_closed(p.be.get(), kLong));
  }
  EXPECT_EQ(h.proc->wait_for_fd_count(h.idle_fds, kLong), h.idle_fds) << "fd leak";
  expect_next_session_relays(h, be_listen.get());
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();

  CaptureContents cap = read_capture(h.capture);
  ASSERT_TRUE(cap.opened) << cap.error;
  for (const Record* r : cap.of_kind(RecordKind::Error))
    EXPECT_EQ(r->flags & kRecordRegionBeyondFd, 0) << "the file never shrank: " << r->text();
  std::vector<RingSnapshot> states;
  for (const Record* r : cap.of_kind(RecordKind::RingState))
    if (auto s = decode_ring_snapshot(r->bytes)) states.push_back(*s);
  // At the kick (with the base from SET_VRING_BASE), then once without it: unchanging after.
  ASSERT_EQ(states.size(), 2u);
  for (const RingSnapshot& s : states) {
    ASSERT_FALSE(s.faults.empty());
    EXPECT_EQ(s.faults[0].kind, RingFaultKind::PartUnreadable);
  }

  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(h.capture, store, warning, error)) << error;
  std::vector<const Finding*> found = findings_named(store, "region-beyond-fd", 1);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->detail,
            "region GPA 0x40000000+0x10000 maps fd offset 0x18000+0x10000, but its fd "
            "memfd:vhs-shrink-guest holds only 0x20000 bytes");
  EXPECT_EQ(found[0]->severity(), Severity::Error);
}

// ---- the finding at ingest, from records built by hand ----

Record message_record(uint32_t session, Bytes bytes, std::vector<FdInfo> fds) {
  Record r;
  r.kind = RecordKind::Message;
  r.session = session;
  r.bytes = std::move(bytes);
  r.fds = std::move(fds);
  return r;
}

Bytes add_mem_reg(const Region& r) {
  Bytes payload(8,
                0);  // padding before the single region (spec "Single memory region description")
  const Bytes table = mem_table(std::span<const Region>(&r, 1));
  payload.insert(payload.end(), table.begin() + 8, table.end());
  return request("ADD_MEM_REG", payload);
}

std::vector<std::string> region_findings(const Store& store) {
  std::vector<std::string> out;
  for (size_t i = 0; i < store.size(); ++i)
    for (const Finding& f : store.findings(i))
      if (f.code == FindingCode::RegionBeyondFd) out.push_back(f.detail);
  return out;
}

TEST(RegionBeyondFd, AnalyserComparesEachRegionWithItsFdSize) {
  const Region fits{0x0, 0x10000, 0x1000000, 0x10000};
  const Region past{0x10000, 0x10000, 0x2000000, 0x18000};
  const FdInfo memfd{FdKind::Memfd, 1, 0x20000, "memfd:ram"};
  const FdInfo file{FdKind::File, 2, 0x1000, "/dev/hugepages/x"};
  const FdInfo device{FdKind::Other, 3, 0, "/dev/dax0.0"};  // no meaningful size
  Store store;
  const Region both[] = {fits, past};
  store.append(message_record(1, request("SET_MEM_TABLE", mem_table(both)), {memfd, memfd}));
  store.append(message_record(1, add_mem_reg(fits), {file}));
  store.append(message_record(1, add_mem_reg(past), {device}));
  store.append(message_record(1, add_mem_reg(past), {memfd}));
  EXPECT_EQ(region_findings(store),
            (std::vector<std::string>{
                "region GPA 0x10000+0x10000 maps fd offset 0x18000+0x10000, but its fd memfd:ram "
                "holds only 0x20000 bytes",
                "region GPA 0x0+0x10000 maps fd offset 0x10000+0x10000, but its fd "
                "/dev/hugepages/x holds only 0x1000 bytes",
                "region GPA 0x10000+0x10000 maps fd offset 0x18000+0x10000, but its fd memfd:ram "
                "holds only 0x20000 bytes"}));
  for (const Finding& f : store.findings(2))
    EXPECT_NE(f.code, FindingCode::RegionBeyondFd) << "a device's size means nothing";
}

TEST(RegionBeyondFd, FlaggedErrorRecordIsTheFindingOthersStayRelayFailed) {
  Store store;
  Record shrank;
  shrank.kind = RecordKind::Error;
  shrank.session = 1;
  shrank.flags = kRecordRegionBeyondFd;
  const std::string text = "memory region 0 now extends past the end of its fd";
  shrank.bytes.assign(text.begin(), text.end());
  Record failed = shrank;
  failed.flags = 0;
  store.append(shrank);
  store.append(failed);
  ASSERT_EQ(store.findings(0).size(), 1u);
  EXPECT_EQ(store.findings(0)[0].code, FindingCode::RegionBeyondFd);
  EXPECT_EQ(store.findings(0)[0].detail, text);
  ASSERT_EQ(store.findings(1).size(), 1u);
  EXPECT_EQ(store.findings(1)[0].code, FindingCode::RelayFailed);
  EXPECT_EQ(finding_info(FindingCode::RegionBeyondFd).id, "region-beyond-fd");
  EXPECT_EQ(finding_info(FindingCode::RegionBeyondFd).severity, Severity::Error);
}

}  // namespace
}  // namespace vhs::test
