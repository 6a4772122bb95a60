// The sample captures shipped in captures/samples/ (recorded from real QEMU and back-ends by
// scripts/make-sample-captures.sh) decode cleanly, and the hang capture shows its hang.
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/process.hpp"
#include "support/ring_states.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kGuestRam = uint64_t{256} << 20;  // -m 256 in scripts/run-real-peers.sh

std::string shipped(const std::string& name) {
  return (fs::path(VHS_SOURCE_DIR) / "captures" / "samples" / name).string();
}

// Loads a shipped capture; every record must be readable and every message known and complete.
void load_shipped(const std::string& name, Store& store) {
  const std::string path = shipped(name);
  ASSERT_TRUE(fs::exists(path)) << path << " missing: run scripts/make-sample-captures.sh";
  EXPECT_LT(fs::file_size(path), 32u * 1024) << "sample captures stay small";
  std::string warning, error;
  ASSERT_TRUE(load_capture(path, store, warning, error)) << error;
  EXPECT_EQ(warning, "");
  ASSERT_EQ(store.sessions().size(), 1u);
  size_t messages = 0;
  for (size_t i = 0; i < store.size(); ++i) {
    const StoreEntry& e = store.entry(i);
    EXPECT_NE(e.kind, RecordKind::Error) << "#" << i << ": " << store.text(i);
    if (!e.is_message()) continue;
    ++messages;
    EXPECT_TRUE(e.header_complete) << "#" << i;
    EXPECT_NE(e.info, nullptr) << "#" << i << " request " << e.header.request;
    EXPECT_EQ(e.record_flags, 0) << "#" << i;
  }
  EXPECT_GE(messages, 30u);
}

std::string findings_text(const Store& store) {
  std::string s;
  for (uint32_t i : store.flagged())
    for (const Finding& f : store.findings(i))
      s += "  #" + std::to_string(i) + " " + std::string(finding_info(f.code).id) + ": " +
           f.detail + "\n";
  return s;
}

const RequestInfo* req(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  EXPECT_NE(info, nullptr) << name;
  return info;
}

std::vector<size_t> requests_of(const Store& store, const RequestInfo* info) {
  std::vector<size_t> out;
  for (size_t i = 0; i < store.size(); ++i) {
    const StoreEntry& e = store.entry(i);
    if (e.is_message() && e.role == MessageRole::Request && e.info == info) out.push_back(i);
  }
  return out;
}

TEST(ShippedCaptures, BlkBootIsCleanAndComplete) {
  Store store;
  ASSERT_NO_FATAL_FAILURE(load_shipped("blk-boot.pcap", store));
  EXPECT_EQ(store.severity_counts().error, 0u) << findings_text(store);
  EXPECT_EQ(store.severity_counts().warning, 0u) << findings_text(store);
  // Not even info: every ring got its kick and call fds (no-kick-fd / no-call-fd), nothing stalled.
  EXPECT_EQ(store.severity_counts().info, 0u) << findings_text(store);

  const StoreSession& session = store.sessions()[0];
  EXPECT_TRUE(session.ended());
  const SessionState& st = session.state();
  EXPECT_EQ(st.device, DeviceKind::Blk) << "inferred from the GET_CONFIG size";
  ASSERT_TRUE(st.features.offered);
  for (unsigned bit : {2u, 6u, 9u})  // SEG_MAX, BLK_SIZE, FLUSH
    EXPECT_TRUE(st.features.offered_has(bit)) << feature_name(DeviceKind::Blk, bit);
  EXPECT_TRUE(st.features.acked_has(kFeatureVersion1));
  EXPECT_TRUE(st.protocol_features.acked_has(ProtocolFeature::CONFIGURE_MEM_SLOTS));
  EXPECT_TRUE(st.protocol_features.acked_has(ProtocolFeature::REPLY_ACK));
  ASSERT_TRUE(st.queue_num);
  EXPECT_EQ(*st.queue_num, 1u);

  // The 8 MiB image: capacity 16384 sectors in the config space.
  ASSERT_TRUE(st.config);
  ASSERT_GE(st.config->data.size(), 8u);
  uint64_t capacity = 0;
  std::memcpy(&capacity, st.config->data.data(), 8);
  EXPECT_EQ(capacity, 16384u);

  // RAM came as ADD_MEM_REG (CONFIGURE_MEM_SLOTS), a 256 MiB memfd at GPA 0.
  const auto adds = requests_of(store, req("ADD_MEM_REG"));
  ASSERT_GE(adds.size(), 1u);
  ASSERT_EQ(store.fds(adds[0]).size(), 1u);
  EXPECT_EQ(store.fds(adds[0])[0].kind, FdKind::Memfd);
  EXPECT_EQ(store.fds(adds[0])[0].size, kGuestRam);
  EXPECT_NE(store.entry(adds[0]).peer, kNoEntry) << "NEED_REPLY with REPLY_ACK: acked";
  ASSERT_EQ(st.regions.size(), 1u);
  EXPECT_EQ(st.regions[0].region.guest_phys_addr, 0u);
  EXPECT_EQ(st.regions[0].region.memory_size, kGuestRam);

  // The firmware and then Linux each start and stop the one queue.
  const auto kicks = requests_of(store, req("SET_VRING_KICK"));
  const auto stops = requests_of(store, req("GET_VRING_BASE"));
  EXPECT_GE(kicks.size(), 1u);
  EXPECT_EQ(stops.size(), kicks.size());
  for (size_t i : stops) EXPECT_NE(store.entry(i).peer, kNoEntry) << "#" << i;
  const VringState* v = st.vring(0);
  ASSERT_NE(v, nullptr);
  EXPECT_FALSE(v->started);
  ASSERT_TRUE(v->last_base);
  EXPECT_GT(*v->last_base, 0u) << "the guest's I/O moved the avail index";

  // The recorder's ring samples agree with the back-end: at the end every request the guest made
  // available was used, and the avail index is the last_avail_idx GET_VRING_BASE returned.
  auto ring = test::last_ring_state(store, 0);
  ASSERT_TRUE(ring.has_value());
  EXPECT_TRUE(ring->indices_ok);
  EXPECT_EQ(ring->size, 128u);
  EXPECT_EQ(ring->inflight, 0u);
  EXPECT_EQ(ring->avail_idx, ring->used_idx);
  EXPECT_EQ(ring->avail_idx, *v->last_base);
  EXPECT_TRUE(ring->faults.empty());
}

TEST(ShippedCaptures, VirtiofsSessionIsCleanAndComplete) {
  // virtiofsd does not offer CONFIG, so nothing in the session names the device: say it.
  Store store(Store::Options{DeviceKind::Fs});
  ASSERT_NO_FATAL_FAILURE(load_shipped("virtiofs-session.pcap", store));
  EXPECT_EQ(store.severity_counts().error, 0u) << findings_text(store);
  EXPECT_EQ(store.severity_counts().warning, 0u) << findings_text(store);
  // Not even info: every ring got its kick and call fds (no-kick-fd / no-call-fd), nothing stalled.
  EXPECT_EQ(store.severity_counts().info, 0u) << findings_text(store);

  const SessionState& st = store.sessions()[0].state();
  EXPECT_EQ(st.device, DeviceKind::Fs);
  ASSERT_TRUE(st.queue_num);
  EXPECT_EQ(*st.queue_num, 2u) << "hiprio + one request queue";
  EXPECT_TRUE(st.features.acked_has(kFeatureVersion1));
  ASSERT_EQ(st.regions.size(), 1u);
  EXPECT_EQ(st.regions[0].region.memory_size, kGuestRam);
  for (uint32_t q : {0u, 1u}) {
    const VringState* v = st.vring(q);
    ASSERT_NE(v, nullptr) << q;
    EXPECT_EQ(v->count_of(req("SET_VRING_KICK")), 1u) << q;
    EXPECT_EQ(v->count_of(req("GET_VRING_BASE")), 1u) << q;
    EXPECT_FALSE(v->started) << q;
  }
  // FUSE requests (INIT, LOOKUP, READ, WRITE, ...) went through the request queue.
  ASSERT_TRUE(st.vring(1)->last_base);
  EXPECT_GT(*st.vring(1)->last_base, 4u);
  for (uint32_t q : {0u, 1u}) {
    auto ring = test::last_ring_state(store, q);
    ASSERT_TRUE(ring.has_value()) << q;
    EXPECT_EQ(ring->inflight, 0u) << q;
    EXPECT_EQ(ring->avail_idx, *st.vring(q)->last_base) << q;
  }
}

// What a frozen back-end legitimately produces: the unanswered request, and, where ring health
// is analysed, the stalled queue (and suppressed notifications, where they are the cause).
bool is_hang_finding(FindingCode code) {
  return code == FindingCode::Unanswered || code == FindingCode::ReplyTimeout ||
         code == FindingCode::RingStalled || code == FindingCode::NotificationsSuppressed;
}

TEST(ShippedCaptures, BlkHangEndsWithGetVringBaseUnanswered) {
  Store store;
  ASSERT_NO_FATAL_FAILURE(load_shipped("blk-hang.pcap", store));

  // The last front-end request is the GET_VRING_BASE QEMU sent after `quit` while the back-end
  // was SIGSTOPped: no reply, and a finding that says it was still waiting.
  const auto stops = requests_of(store, req("GET_VRING_BASE"));
  ASSERT_GE(stops.size(), 1u);
  const size_t last = stops.back();
  EXPECT_EQ(store.entry(last).peer, kNoEntry);
  // The recorder closed the connection (kRecordClosedByProxy), not a peer: still unanswered.
  bool unanswered = false;
  for (const Finding& f : store.findings(last)) unanswered |= f.code == FindingCode::Unanswered;
  EXPECT_TRUE(unanswered) << findings_text(store);
  for (size_t i = last + 1; i < store.size(); ++i)
    EXPECT_FALSE(store.entry(i).is_message()) << "#" << i << " after the hung request";

  // Earlier stops were answered; the queue was running when the back-end froze.
  for (size_t i : stops) {
    if (i != last) {
      EXPECT_NE(store.entry(i).peer, kNoEntry) << "#" << i;
    }
  }
  const auto kicks = requests_of(store, req("SET_VRING_KICK"));
  ASSERT_FALSE(kicks.empty());
  EXPECT_LT(kicks.back(), last);
  if (stops.size() >= 2) {
    EXPECT_GT(kicks.back(), stops[stops.size() - 2]);
  }

  // The capture ends with work outstanding: the last ring sample has the guest's request in
  // flight, never used by the frozen back-end.
  auto ring = test::last_ring_state(store, 0);
  ASSERT_TRUE(ring.has_value());
  EXPECT_TRUE(ring->indices_ok);
  EXPECT_GE(ring->inflight, 1u);
  EXPECT_TRUE(ring->oldest.has_value());

  // The only Error findings are the ones the hang is meant to show.
  for (uint32_t i : store.flagged()) {
    for (const Finding& f : store.findings(i)) {
      if (f.severity() == Severity::Error) {
        EXPECT_TRUE(is_hang_finding(f.code)) << findings_text(store);
      }
    }
  }
}

// `vhostscope summary --check` is what a script would run: clean captures pass, the hang fails and
// names the request that was left waiting.
TEST(ShippedCaptures, SummaryCheckVerdicts) {
  test::TempDir dir;
  const auto summary = [&](const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {test::vhostscope_binary(), "summary", "--check"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(shipped(name));
    return test::run_command(argv, dir.path());
  };
  auto boot = summary("blk-boot.pcap");
  EXPECT_EQ(boot.exit_code, 0) << boot.out << boot.err;
  EXPECT_NE(boot.out.find("Device: blk"), std::string::npos) << boot.out;
  EXPECT_NE(boot.out.find("0 errors"), std::string::npos) << boot.out;

  auto fs_run = summary("virtiofs-session.pcap", {"--device", "fs"});
  EXPECT_EQ(fs_run.exit_code, 0) << fs_run.out << fs_run.err;
  EXPECT_NE(fs_run.out.find("Device: fs"), std::string::npos) << fs_run.out;

  auto hang = summary("blk-hang.pcap");
  EXPECT_EQ(hang.exit_code, 1) << hang.out << hang.err;
  EXPECT_NE(hang.out.find("unanswered"), std::string::npos) << hang.out;
  EXPECT_NE(hang.out.find("GET_VRING_BASE (index 0)"), std::string::npos) << hang.out;
}

}  // namespace
}  // namespace vhs
