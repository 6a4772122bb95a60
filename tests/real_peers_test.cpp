// End to end with real peers: QEMU (TCG) <-> vhostscope record <-> qemu-storage-daemon / virtiofsd,
// driven by scripts/run-real-peers.sh; asserts on the guest's verdict and on the decoded capture.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "app/common/check_session.hpp"
#include "captures/model/store.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/ring_states.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kGuestRam = uint64_t{256} << 20;  // -m 256 in scripts/run-real-peers.sh
constexpr int kRunnerTimeoutS = 270;  // below ctest's 300 s; the runner bounds its own steps

struct RunResult {
  int exit_code = -1;
  bool timed_out = false;
  std::string output;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the runner in its own process group with output to `log`. On timeout: SIGTERM to the runner
// (its trap stops what it started, by PID), then SIGKILL to the group it leads.
RunResult run_runner(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  RunResult result;
  pid_t pid = ::fork();
  if (pid < 0) {
    result.output = "fork failed";
    return result;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);

  auto wait_until = [&](std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  auto now = std::chrono::steady_clock::now;
  if (!wait_until(now() + std::chrono::seconds(kRunnerTimeoutS))) {
    result.timed_out = true;
    ::kill(pid, SIGTERM);
    if (!wait_until(now() + std::chrono::seconds(20))) {
      ::kill(-pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
  result.output = read_file(log);
  return result;
}

fs::path guest_dir() {
  if (const char* env = std::getenv("VHS_GUEST_DIR"); env && *env) return env;
  return fs::path(VHS_BINARY_DIR) / "guest";
}

size_t notify_records(const Store& store) {
  size_t n = 0;
  for (size_t i = 0; i < store.size(); ++i) n += store.kind(i) == RecordKind::Notify ? 1 : 0;
  return n;
}

// Runs one scenario into <build>/real-peers/<folder>/ and returns that folder.
fs::path run_scenario(const std::string& scenario, RunResult& run,
                      const std::vector<std::string>& options = {},
                      const std::string& folder = "") {
  fs::path out = fs::path(VHS_BINARY_DIR) / "real-peers" / (folder.empty() ? scenario : folder);
  fs::create_directories(out);
  std::vector<std::string> argv = {
      "/bin/bash",    std::string(VHS_SOURCE_DIR) + "/scripts/run-real-peers.sh",
      "--vhostscope", std::string(VHS_BINARY_DIR) + "/vhostscope",
      "--guest",      guest_dir().string()};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(scenario);
  argv.push_back(out.string());
  run = run_runner(argv, out / "runner.log");
  return out;
}

std::string logs_of(const fs::path& out) {
  std::string s;
  for (const char* name : {"runner.log", "proxy.log", "bridge.log", "backend.log", "qemu.log"}) {
    std::string text = read_file(out / name);
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    s += std::string("--- ") + name + "\n" + text + "\n";
  }
  return s;
}

const RequestInfo* req(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  EXPECT_NE(info, nullptr) << "registry has no " << name;
  return info;
}

bool is_request(const StoreEntry& e, const RequestInfo* info) {
  return e.is_message() && e.role == MessageRole::Request && e.info == info;
}

// Front-end channel request names in capture order (for messages and for order checks).
std::vector<std::string> frontend_requests(const Store& store) {
  std::vector<std::string> names;
  for (size_t i = 0; i < store.size(); ++i) {
    const StoreEntry& e = store.entry(i);
    if (e.is_message() && e.channel == Channel::Frontend && e.role == MessageRole::Request)
      names.emplace_back(e.info ? e.info->name : "UNKNOWN");
  }
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// True when `want` appears in `seq` in this order (other requests may come between).
bool in_order(const std::vector<std::string>& seq, const std::vector<std::string>& want) {
  size_t at = 0;
  for (const auto& name : seq)
    if (at < want.size() && name == want[at]) ++at;
  return at == want.size();
}

std::string findings_text(const Store& store, Severity at_least) {
  std::string s;
  for (uint32_t i : store.flagged()) {
    for (const Finding& f : store.findings(i)) {
      if (f.severity() < at_least) continue;
      const StoreEntry& e = store.entry(i);
      s += "  #" + std::to_string(i) + " " + std::string(e.info ? e.info->name : "-") + ": " +
           std::string(finding_info(f.code).id) + ": " + f.detail + "\n";
    }
  }
  return s;
}

// Loads OUTDIR/capture.pcap; fails the test with the reason when it cannot.
bool load(const fs::path& out, Store& store) {
  std::string warning, error;
  bool ok = load_capture((out / "capture.pcap").string(), store, warning, error);
  EXPECT_TRUE(ok) << error;
  EXPECT_EQ(warning, "") << "capture should end cleanly";
  return ok;
}

// Checks shared by the healthy scenarios: one session, ordered startup, every required reply
// paired, memory regions from memfds covering the guest RAM, rings started and stopped, and no
// Error findings.
void check_healthy_session(const Store& store, DeviceKind device, uint32_t queues) {
  // QEMU connects once per boot. In --frontend-connect mode vhostscope connects again while a
  // powered-off QEMU is still exiting; that session ends at once without a message.
  std::vector<const StoreSession*> active;
  for (const StoreSession& s : store.sessions())
    if (s.state().messages > 0) active.push_back(&s);
  ASSERT_EQ(active.size(), 1u);
  ASSERT_LE(store.sessions().size(), 2u);
  const StoreSession& session = *active[0];
  const SessionState& st = session.state();
  const std::vector<std::string> seq = frontend_requests(store);
  SCOPED_TRACE("front-end requests: " + join(seq));

  // Startup (vhost_dev_init, then vhost_dev_start) in order.
  EXPECT_TRUE(
      in_order(seq, {"GET_FEATURES", "GET_PROTOCOL_FEATURES", "SET_PROTOCOL_FEATURES", "SET_OWNER",
                     "GET_FEATURES", "SET_FEATURES", "SET_VRING_NUM", "SET_VRING_BASE",
                     "SET_VRING_ADDR", "SET_VRING_KICK", "GET_VRING_BASE"}));
  ASSERT_FALSE(seq.empty());
  EXPECT_EQ(seq.front(), "GET_FEATURES");

  // Every request with an intrinsic reply, or NEED_REPLY with REPLY_ACK, got exactly its answer.
  size_t replies = 0;
  for (size_t i = 0; i < store.size(); ++i) {
    const StoreEntry& e = store.entry(i);
    if (!e.is_message() || e.role != MessageRole::Request) continue;
    if (e.expects != ReplyExpectation::Reply && e.expects != ReplyExpectation::Ack) continue;
    ASSERT_NE(e.peer, kNoEntry) << "request #" << i << " " << (e.info ? e.info->name : "?")
                                << " has no reply";
    const StoreEntry& r = store.entry(e.peer);
    EXPECT_EQ(r.peer, i);
    EXPECT_EQ(r.header.request, e.header.request);
    EXPECT_EQ(r.header.flags, kProtocolVersion | kFlagReply) << "reply flags must be exactly 0x5";
    EXPECT_EQ(r.role, e.expects == ReplyExpectation::Reply ? MessageRole::Reply : MessageRole::Ack);
    ++replies;
  }
  EXPECT_GE(replies, 5u);

  // Feature negotiation decoded.
  EXPECT_EQ(st.device, device);
  ASSERT_TRUE(st.features.offered.has_value());
  ASSERT_TRUE(st.features.acked.has_value());
  EXPECT_TRUE(st.features.offered_has(kFeatureVersion1));
  EXPECT_TRUE(st.features.offered_has(kFeatureProtocolFeatures));
  EXPECT_TRUE(st.features.acked_has(kFeatureVersion1));
  EXPECT_TRUE(st.features.acked_has(kFeatureProtocolFeatures));
  ASSERT_TRUE(st.protocol_features.offered.has_value());
  ASSERT_TRUE(st.protocol_features.acked.has_value());
  EXPECT_EQ(*st.protocol_features.acked & ~*st.protocol_features.offered, 0u)
      << "QEMU acks a subset of the offered protocol features";

  // Memory: QEMU sends guest RAM as regions of the memfd backend, either all at once
  // (SET_MEM_TABLE) or one per ADD_MEM_REG when CONFIGURE_MEM_SLOTS is negotiated.
  const RequestInfo* set_mem_table = req("SET_MEM_TABLE");
  const RequestInfo* add_mem_reg = req("ADD_MEM_REG");
  size_t memory_fds = 0;
  for (size_t i = 0; i < store.size(); ++i) {
    const StoreEntry& e = store.entry(i);
    if (!is_request(e, set_mem_table) && !is_request(e, add_mem_reg)) continue;
    ASSERT_GE(store.fds(i).size(), 1u);
    for (const FdInfo& fd : store.fds(i)) {
      EXPECT_EQ(fd.kind, FdKind::Memfd) << fd.name;
      EXPECT_EQ(fd.size, kGuestRam) << "the memfd is the whole memory backend";
      ++memory_fds;
    }
  }
  EXPECT_GE(memory_fds, 1u);
  ASSERT_FALSE(st.regions.empty());
  uint64_t total = 0, end = 0;
  for (const MemRegionState& r : st.regions) {
    EXPECT_TRUE(r.has_fd);
    EXPECT_EQ(r.fd.kind, FdKind::Memfd);
    EXPECT_LE(r.region.mmap_offset + r.region.memory_size, kGuestRam);
    total += r.region.memory_size;
    end = std::max(end, r.region.guest_phys_addr + r.region.memory_size);
  }
  // The legacy VGA/BIOS hole below 1 MiB is not guest RAM in the flat view, so the regions cover
  // the RAM up to at most that hole.
  EXPECT_EQ(end, kGuestRam);
  EXPECT_LE(total, kGuestRam);
  EXPECT_GE(total, kGuestRam - (uint64_t{1} << 20));

  // Each ring was started (SET_VRING_KICK with an eventfd, SET_VRING_ENABLE 1) and stopped
  // (SET_VRING_ENABLE 0, GET_VRING_BASE + reply), as often as the device was started.
  const RequestInfo* kick = req("SET_VRING_KICK");
  const RequestInfo* enable = req("SET_VRING_ENABLE");
  const RequestInfo* get_base = req("GET_VRING_BASE");
  ASSERT_GE(st.vrings.size(), queues);
  for (uint32_t q = 0; q < queues; ++q) {
    const VringState* v = st.vring(q);
    ASSERT_NE(v, nullptr) << "vring " << q;
    EXPECT_GE(v->count_of(kick), 1u) << "vring " << q;
    EXPECT_EQ(v->count_of(get_base), v->count_of(kick)) << "vring " << q << ": every start stops";
    EXPECT_EQ(v->count_of(enable), 2 * v->count_of(kick)) << "vring " << q;
    EXPECT_FALSE(v->started) << "vring " << q << " stopped at power-off";
    EXPECT_FALSE(v->enabled) << "vring " << q << " disabled at power-off";
    EXPECT_TRUE(v->last_base.has_value()) << "vring " << q;
    ASSERT_TRUE(v->num.has_value());
    EXPECT_GT(*v->num, 0u);
    EXPECT_EQ(v->kick.state, NotifierSlot::State::Fd);
    EXPECT_EQ(v->kick.fd.kind, FdKind::Eventfd);

    // The recorder's ring samples (--sample-interval) agree with the back-end's last_avail_idx,
    // and nothing was left in flight at power-off.
    auto ring = test::last_ring_state(store, q);
    ASSERT_TRUE(ring.has_value()) << "vring " << q << ": no RingState record";
    EXPECT_TRUE(ring->indices_ok) << "vring " << q;
    EXPECT_EQ(ring->size, *v->num) << "vring " << q;
    EXPECT_EQ(ring->inflight, 0u) << "vring " << q;
    if (v->last_base) {
      EXPECT_EQ(ring->avail_idx, *v->last_base) << "vring " << q;
    }
    EXPECT_TRUE(ring->faults.empty()) << "vring " << q;
  }

  EXPECT_EQ(store.severity_counts().error, 0u) << findings_text(store, Severity::Error);

  // Real QEMU with a real back-end breaks no conformance rule once QEMU's known deviations are
  // accepted (what `vhostscope check --profile qemu` reports).
  for (const StoreSession* s : active) {
    for (const Violation& v : check_store_session(store, *s).violations) {
      const Rule& rule = rule_info(v.rule);
      EXPECT_FALSE(rule_applies(rule, Profile::Qemu))
          << rule.id << " #" << v.message + 1 << ": " << v.observed;
    }
  }
}

TEST(RealPeers, BlkBoot) {
  RunResult run;
  fs::path out = run_scenario("blk", run);
  ASSERT_FALSE(run.timed_out) << logs_of(out);
  ASSERT_EQ(run.exit_code, 0) << logs_of(out);
  EXPECT_NE(run.output.find("run-real-peers: PASS blk"), std::string::npos) << run.output;
  EXPECT_NE(read_file(out / "serial.log").find("VHOSTSCOPE-GUEST: PASS"), std::string::npos);

  Store store;
  ASSERT_TRUE(load(out, store));
  check_healthy_session(store, DeviceKind::Blk, 1);
  const SessionState& st = store.sessions()[0].state();

  // virtio-blk bits qemu-storage-daemon offers, by name from the feature table.
  for (unsigned bit : {2u /* SEG_MAX */, 6u /* BLK_SIZE */, 9u /* FLUSH */}) {
    EXPECT_TRUE(st.features.offered_has(bit)) << feature_name(DeviceKind::Blk, bit);
  }
  EXPECT_EQ(feature_name(DeviceKind::Blk, 2), "SEG_MAX");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 6), "BLK_SIZE");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 9), "FLUSH");
  const std::string offered = describe_features(*st.features.offered, DeviceKind::Blk);
  EXPECT_NE(offered.find("SEG_MAX"), std::string::npos) << offered;
  EXPECT_NE(offered.find("FLUSH"), std::string::npos) << offered;

  // QEMU 7.2 + qemu-storage-daemon: CONFIG and CONFIGURE_MEM_SLOTS negotiated, so the config
  // space was read (8 MiB image = 16384 sectors) and RAM arrived by ADD_MEM_REG.
  EXPECT_TRUE(st.protocol_features.acked_has(ProtocolFeature::CONFIG));
  ASSERT_TRUE(st.config.has_value());
  ASSERT_GE(st.config->data.size(), 8u);
  uint64_t capacity = 0;
  std::memcpy(&capacity, st.config->data.data(), 8);
  EXPECT_EQ(capacity, 16384u);
  if (st.protocol_features.acked_has(ProtocolFeature::CONFIGURE_MEM_SLOTS)) {
    EXPECT_TRUE(st.max_mem_slots.has_value());
  }
}

TEST(RealPeers, VirtiofsSession) {
  RunResult run;
  fs::path out = run_scenario("fs", run);
  ASSERT_FALSE(run.timed_out) << logs_of(out);
  ASSERT_EQ(run.exit_code, 0) << logs_of(out);
  EXPECT_NE(run.output.find("run-real-peers: PASS fs"), std::string::npos) << run.output;
  EXPECT_EQ(read_file(out / "share" / "guest.txt"), "vhostscope virtiofs guest file\n");

  Store store(Store::Options{DeviceKind::Fs});
  ASSERT_TRUE(load(out, store));
  // virtio-fs: queue 0 = hiprio, queue 1 = the request queue.
  check_healthy_session(store, DeviceKind::Fs, 2);
}

// With every kick and call relayed by vhostscope, the ring follower runs at each of them: on a
// healthy device it must stay silent (no used-not-in-flight, no used-len-beyond-chain), and the
// guest must not notice the extra hop.
TEST(RealPeers, BlkBootWithInterposedNotifications) {
  RunResult run;
  fs::path out = run_scenario("blk", run, {"--interpose-notify"}, "blk-interposed");
  ASSERT_FALSE(run.timed_out) << logs_of(out);
  ASSERT_EQ(run.exit_code, 0) << logs_of(out);
  EXPECT_NE(run.output.find("run-real-peers: PASS blk"), std::string::npos) << run.output;
  Store store;
  ASSERT_TRUE(load(out, store));
  check_healthy_session(store, DeviceKind::Blk, 1);
  EXPECT_GT(notify_records(store), 0u);
}

TEST(RealPeers, VirtiofsSessionWithInterposedNotifications) {
  RunResult run;
  fs::path out = run_scenario("fs", run, {"--interpose-notify"}, "fs-interposed");
  ASSERT_FALSE(run.timed_out) << logs_of(out);
  ASSERT_EQ(run.exit_code, 0) << logs_of(out);
  EXPECT_NE(run.output.find("run-real-peers: PASS fs"), std::string::npos) << run.output;
  Store store(Store::Options{DeviceKind::Fs});
  ASSERT_TRUE(load(out, store));
  check_healthy_session(store, DeviceKind::Fs, 2);
  EXPECT_GT(notify_records(store), 0u);
}

TEST(RealPeers, BlkHangLeavesGetVringBaseUnanswered) {
  RunResult run;
  fs::path out = run_scenario("hang", run);
  ASSERT_FALSE(run.timed_out) << logs_of(out);
  ASSERT_EQ(run.exit_code, 0) << logs_of(out);
  EXPECT_NE(run.output.find("run-real-peers: PASS hang"), std::string::npos) << run.output;

  Store store;
  ASSERT_TRUE(load(out, store));
  ASSERT_EQ(store.sessions().size(), 1u);
  const std::vector<std::string> seq = frontend_requests(store);
  SCOPED_TRACE("front-end requests: " + join(seq));
  EXPECT_TRUE(in_order(seq, {"GET_FEATURES", "SET_OWNER", "SET_VRING_KICK", "GET_VRING_BASE"}));

  // The last GET_VRING_BASE (sent after QMP quit, with the back-end stopped) has no reply and
  // carries the finding that says so.
  const RequestInfo* get_base = req("GET_VRING_BASE");
  size_t last = SIZE_MAX;
  for (size_t i = 0; i < store.size(); ++i)
    if (is_request(store.entry(i), get_base)) last = i;
  ASSERT_NE(last, SIZE_MAX);
  EXPECT_EQ(store.entry(last).peer, kNoEntry);
  // The recorder, not a peer, closed the connection (kRecordClosedByProxy): still unanswered.
  bool unanswered = false;
  for (const Finding& f : store.findings(last)) unanswered |= f.code == FindingCode::Unanswered;
  EXPECT_TRUE(unanswered) << findings_text(store, Severity::Info);
  // Work was outstanding when the back-end froze: the guest's request stays in flight.
  auto ring = test::last_ring_state(store, 0);
  ASSERT_TRUE(ring.has_value()) << "no RingState record";
  EXPECT_TRUE(ring->indices_ok);
  EXPECT_GE(ring->inflight, 1u);
  EXPECT_TRUE(ring->oldest.has_value());

  // Nothing else is wrong with the session: only what a frozen back-end produces (the
  // unanswered request; a stalled ring where ring health is analysed).
  for (uint32_t i : store.flagged()) {
    for (const Finding& f : store.findings(i)) {
      if (f.severity() != Severity::Error) continue;
      EXPECT_TRUE(f.code == FindingCode::Unanswered || f.code == FindingCode::ReplyTimeout ||
                  f.code == FindingCode::RingStalled ||
                  f.code == FindingCode::NotificationsSuppressed)
          << findings_text(store, Severity::Error);
    }
  }
}

// The other topology: QEMU listens (server=on) and vhostscope connects to it; vhostscope listens
// for a back-end that connects as a client. Neither installed back-end can connect, so the runner
// puts a second vhostscope in that role, relaying to qemu-storage-daemon. Both captures must hold
// the same bytes: relaying is byte-exact in both directions.
TEST(RealPeers, BlkBootClientMode) {
  RunResult run;
  fs::path out = run_scenario("blk", run, {"--client-mode"}, "blk-client-mode");
  ASSERT_FALSE(run.timed_out) << logs_of(out);
  ASSERT_EQ(run.exit_code, 0) << logs_of(out);
  EXPECT_NE(run.output.find("run-real-peers: PASS blk"), std::string::npos) << run.output;

  Store store;
  ASSERT_TRUE(load(out, store));
  check_healthy_session(store, DeviceKind::Blk, 1);

  Store bridge;
  std::string warning, error;
  ASSERT_TRUE(load_capture((out / "bridge.pcap").string(), bridge, warning, error)) << error;
  ASSERT_GE(bridge.sessions().size(), 1u);
  const uint32_t first_session = bridge.sessions()[0].id;
  for (Direction dir : {Direction::ToBackend, Direction::ToFrontend}) {
    std::vector<std::vector<uint8_t>> outer, inner;
    for (size_t i = 0; i < store.size(); ++i)
      if (store.entry(i).is_message() && store.entry(i).direction == dir)
        outer.emplace_back(store.bytes(i).begin(), store.bytes(i).end());
    for (size_t i = 0; i < bridge.size(); ++i)
      if (bridge.entry(i).is_message() && bridge.entry(i).direction == dir &&
          bridge.entry(i).session == first_session)
        inner.emplace_back(bridge.bytes(i).begin(), bridge.bytes(i).end());
    EXPECT_GE(outer.size(), 10u);
    EXPECT_EQ(outer, inner) << (dir == Direction::ToBackend ? "to back-end" : "to front-end");
  }
}

}  // namespace
}  // namespace vhs
