// The shared session trackers on their own: MemoryTableTracker (SET_MEM_TABLE / ADD_MEM_REG /
// REM_MEM_REG, fd pairing, overlaps, postcopy acknowledgements), VringTracker (ring states,
// notifiers, enable rules, resets) and DeviceInference (config shapes, net evidence; the weighing
// of evidence is in device_recognition_test.cpp).
#include <gtest/gtest.h>

#include <vector>

#include "decoders/session/device_inference.hpp"
#include "decoders/session/memory_table.hpp"
#include "decoders/session/vring_tracker.hpp"
#include "decoders/vhost_user/message.hpp"
#include "support/message_builder.hpp"

namespace vhs::test {
namespace {

DecodedMessage decoded(const Bytes& bytes, size_t fds = 0, uint64_t protocol_features = 0) {
  std::vector<FdInfo> infos(fds);
  DecodeContext ctx;
  ctx.protocol_features = protocol_features;
  ctx.protocol_features_known = true;
  return decode_message(Channel::Frontend, bytes, infos, ctx);
}

FdInfo memfd(std::string name) {
  FdInfo f;
  f.kind = FdKind::Memfd;
  f.name = std::move(name);
  return f;
}

Bytes single_region(const Region& r) {
  Bytes b(8, 0);
  Bytes t = mem_table(std::span<const Region>(&r, 1));
  b.insert(b.end(), t.begin() + 8, t.end());  // the region without the table header
  return b;
}

const Region kA{0x0, 0x10000, 0x7f0000000000, 0};
const Region kB{0x100000, 0x10000, 0x7f0000100000, 0x1000};

TEST(MemoryTableTracker, TablePairsFdsByRegionOrderAndReplaces) {
  MemoryTableTracker t;
  const Region two[] = {kA, kB};
  std::vector<FdInfo> fds = {memfd("memfd:a")};  // b came without its fd
  auto change = t.on_request(7, decoded(request("SET_MEM_TABLE", mem_table(two)), 1), fds);
  EXPECT_EQ(change.kind, MemoryTableChange::Kind::Replaced);
  ASSERT_EQ(change.installed.size(), 2u);
  EXPECT_EQ(change.installed[0].fd_index, std::optional<size_t>(0));
  EXPECT_EQ(change.installed[1].fd_index, std::nullopt);
  ASSERT_EQ(t.regions().size(), 2u);
  EXPECT_TRUE(t.regions()[0].has_fd);
  EXPECT_EQ(t.regions()[0].fd.name, "memfd:a");
  EXPECT_FALSE(t.regions()[1].has_fd);
  EXPECT_EQ(t.regions()[1].region.mmap_offset, 0x1000u);
  EXPECT_EQ(t.regions()[1].added_by, 7u);
  EXPECT_TRUE(change.overlaps.empty());

  const Region one[] = {kB};
  change = t.on_request(8, decoded(request("SET_MEM_TABLE", mem_table(one))), {});
  EXPECT_EQ(change.kind, MemoryTableChange::Kind::Replaced);
  ASSERT_EQ(t.regions().size(), 1u);
  EXPECT_EQ(t.regions()[0].region.guest_phys_addr, kB.guest_phys_addr);
}

TEST(MemoryTableTracker, AddThenRemoveMatchesGpaUvaSizeIgnoringOffset) {
  MemoryTableTracker t;
  std::vector<FdInfo> fd = {memfd("memfd:a")};
  auto change = t.on_request(1, decoded(request("ADD_MEM_REG", single_region(kA)), 1), fd);
  EXPECT_EQ(change.kind, MemoryTableChange::Kind::Added);
  ASSERT_EQ(change.installed.size(), 1u);
  EXPECT_EQ(change.installed[0].fd_index, std::optional<size_t>(0));
  t.on_request(2, decoded(request("ADD_MEM_REG", single_region(kB)), 1), fd);
  ASSERT_EQ(t.regions().size(), 2u);

  Region other_uva = kB;
  other_uva.userspace_addr += 0x1000;
  change = t.on_request(3, decoded(request("REM_MEM_REG", single_region(other_uva))), {});
  EXPECT_EQ(change.kind, MemoryTableChange::Kind::NotFound);
  EXPECT_EQ(change.regions_before, 2u);
  EXPECT_EQ(t.regions().size(), 2u);

  Region other_offset = kB;
  other_offset.mmap_offset = 0x9000;
  change = t.on_request(4, decoded(request("REM_MEM_REG", single_region(other_offset))), {});
  EXPECT_EQ(change.kind, MemoryTableChange::Kind::Removed);
  EXPECT_EQ(change.removed_index, 1u);
  ASSERT_EQ(t.regions().size(), 1u);
  EXPECT_EQ(t.regions()[0].region.guest_phys_addr, kA.guest_phys_addr);
}

TEST(MemoryTableTracker, ReportsOverlapsOfGuestAndUserRanges) {
  MemoryTableTracker t;
  Region gpa_clash = kB;
  gpa_clash.guest_phys_addr = kA.guest_phys_addr + 0x8000;
  const Region two[] = {kA, gpa_clash};
  auto change = t.on_request(1, decoded(request("SET_MEM_TABLE", mem_table(two))), {});
  ASSERT_EQ(change.overlaps.size(), 1u);
  EXPECT_TRUE(change.overlaps[0].guest_physical);
  EXPECT_EQ(change.overlaps[0].existing.guest_phys_addr, kA.guest_phys_addr);

  Region uva_clash = kB;
  uva_clash.guest_phys_addr = 0x900000;
  uva_clash.userspace_addr = kA.userspace_addr + 0x10;
  change = t.on_request(2, decoded(request("ADD_MEM_REG", single_region(uva_clash))), {});
  ASSERT_EQ(change.overlaps.size(), 1u);
  EXPECT_FALSE(change.overlaps[0].guest_physical);
}

TEST(MemoryTableTracker, PostcopyAcknowledgementsLeaveTheTable) {
  MemoryTableTracker t;
  const Region one[] = {kA};
  t.on_request(1, decoded(request("SET_MEM_TABLE", mem_table(one))), {});
  t.on_request(2, decoded(request("POSTCOPY_LISTEN")), {});
  EXPECT_TRUE(t.postcopy_listening());
  auto change = t.on_request(3, decoded(request("SET_MEM_TABLE", u64_payload(0))), {});
  EXPECT_EQ(change.kind, MemoryTableChange::Kind::None);
  change = t.on_request(4, decoded(request("ADD_MEM_REG", u64_payload(0))), {});
  EXPECT_EQ(change.kind, MemoryTableChange::Kind::None);
  EXPECT_EQ(t.regions().size(), 1u);
  t.on_request(5, decoded(request("POSTCOPY_END")), {});
  EXPECT_FALSE(t.postcopy_listening());
}

TEST(MemoryTableTracker, XenMmapRegionsAreFortyBytes) {
  Bytes payload = {1, 0, 0, 0, 0, 0, 0, 0};  // one region
  auto put64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) payload.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put64(0x40000000);
  put64(0x20000);
  put64(0x7f0000000000);
  put64(0x3000);
  put64(0x0000000700000001);  // flags 1, domid 7
  MemoryTableTracker t;
  const uint64_t xen = feature_mask(ProtocolFeature::XEN_MMAP);
  t.on_request(1, decoded(request("SET_MEM_TABLE", payload), 0, xen), {});
  ASSERT_EQ(t.regions().size(), 1u);
  EXPECT_EQ(t.regions()[0].region.memory_size, 0x20000u);
  EXPECT_EQ(t.regions()[0].region.mmap_offset, 0x3000u);
  EXPECT_EQ(t.regions()[0].region.xen_domid, 7u);
}

TEST(VringTracker, KickStartsGetVringBaseAndResetsStop) {
  VringTracker t;
  t.on_request(1, decoded(request("SET_VRING_NUM", vring_state(1, 256))), {});
  t.on_request(2, decoded(request("SET_VRING_BASE", vring_state(1, 5))), {});
  EXPECT_FALSE(t.any_started());
  std::vector<FdInfo> kick(1);
  auto u = t.on_request(3, decoded(request("SET_VRING_KICK", vring_index_fd(1)), 1), kick);
  EXPECT_TRUE(u.started);
  EXPECT_EQ(u.index, std::optional<uint32_t>(1));
  const VringState* v = t.vring(1);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->started);
  EXPECT_EQ(v->num, std::optional<uint32_t>(256));
  EXPECT_EQ(v->base, std::optional<uint32_t>(5));
  EXPECT_EQ(v->kick.state, NotifierSlot::State::Fd);
  EXPECT_EQ(v->kick.set_by, 3u);

  u = t.on_request(4, decoded(request("GET_VRING_BASE", vring_state(1, 0))), {});
  EXPECT_TRUE(u.stopped);
  EXPECT_FALSE(t.vring(1)->started);
  t.on_vring_base_reply(1, decoded(reply("GET_VRING_BASE", vring_state(1, 42))));
  EXPECT_EQ(t.vring(1)->last_base, std::optional<uint32_t>(42));

  t.on_request(5, decoded(request("SET_VRING_KICK", vring_index_fd(1, true))), {});
  EXPECT_TRUE(t.vring(1)->started);
  EXPECT_EQ(t.vring(1)->kick.state, NotifierSlot::State::NoFd);
  const uint64_t changes = t.notifier_changes();
  u = t.on_request(6, decoded(request("RESET_DEVICE")), {});
  EXPECT_TRUE(u.all_rings);
  EXPECT_FALSE(t.any_started());
  EXPECT_EQ(t.notifier_changes(), changes + 1);
  EXPECT_EQ(t.vring(1)->num, std::optional<uint32_t>(256));  // resets stop; setup stays known

  t.on_request(7, decoded(request("SET_VRING_KICK", vring_index_fd(1), false), 1), kick);
  t.on_request(8, decoded(request("RESET_OWNER")), {});
  EXPECT_FALSE(t.any_started());
  EXPECT_EQ(t.vring(1)->count_of(&vhs::request_info(FrontendRequest::SET_VRING_KICK)), 3u);
}

TEST(VringTracker, EnabledFollowsProtocolFeaturesBit) {
  VringTracker with;
  with.on_request(1, decoded(request("SET_FEATURES", u64_payload(1ull << 30))), {});
  with.on_request(2, decoded(request("SET_VRING_NUM", vring_state(0, 64))), {});
  EXPECT_FALSE(with.vring(0)->enabled);
  with.on_request(3, decoded(request("SET_VRING_ENABLE", vring_state(0, 1))), {});
  EXPECT_TRUE(with.vring(0)->enabled);
  EXPECT_EQ(with.features_acked(), std::optional<uint64_t>(1ull << 30));

  // Without PROTOCOL_FEATURES every ring is enabled at once, existing and new.
  VringTracker without;
  without.on_request(1, decoded(request("SET_VRING_NUM", vring_state(0, 64))), {});
  EXPECT_FALSE(without.vring(0)->enabled);
  without.on_request(2, decoded(request("SET_FEATURES", u64_payload(1ull << 32))), {});
  EXPECT_TRUE(without.vring(0)->enabled);
  without.on_request(3, decoded(request("SET_VRING_NUM", vring_state(3, 64))), {});
  EXPECT_TRUE(without.vring(3)->enabled);
}

TEST(VringTracker, HostileIndexIsNotTracked) {
  VringTracker t;
  auto u = t.on_request(1, decoded(request("SET_VRING_NUM", vring_state(5000, 64))), {});
  EXPECT_TRUE(u.untracked);
  EXPECT_TRUE(t.vrings().empty());
}

Bytes config_reply(std::vector<uint8_t> data) {
  Bytes b;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put32(0);
  put32(static_cast<uint32_t>(data.size()));
  put32(0);
  b.insert(b.end(), data.begin(), data.end());
  return reply("GET_CONFIG", b);
}

TEST(DeviceInference, ConfigShapesAndNetEvidence) {
  DeviceInference blk;
  EXPECT_TRUE(blk.on_reply(decoded(config_reply(std::vector<uint8_t>(24, 0)))));
  EXPECT_EQ(blk.kind(), DeviceKind::Blk);
  // Evidence is weighed: 24 zero bytes only have the size of a virtio_blk_config, and SEND_RARP
  // (only virtio-net front-ends send it) outweighs them.
  EXPECT_TRUE(blk.on_request(decoded(request("SEND_RARP", u64_payload(0)))));
  EXPECT_EQ(blk.kind(), DeviceKind::Net);

  std::vector<uint8_t> fs(40, 0);
  fs[0] = 'm';
  fs[1] = 'y';
  fs[36] = 1;  // one request queue
  DeviceInference f;
  f.on_reply(decoded(config_reply(fs)));
  EXPECT_EQ(f.kind(), DeviceKind::Fs);

  DeviceInference small;
  EXPECT_FALSE(small.on_reply(decoded(config_reply(std::vector<uint8_t>(8, 0)))));
  EXPECT_EQ(small.kind(), DeviceKind::Unknown);

  DeviceInference net;
  net.on_reply(
      decoded(reply("GET_PROTOCOL_FEATURES", u64_payload(feature_mask(ProtocolFeature::RARP)))));
  EXPECT_EQ(net.kind(), DeviceKind::Net);

  DeviceInference forced(DeviceKind::Blk);
  forced.on_request(decoded(request("NET_SET_MTU", u64_payload(1500))));
  EXPECT_EQ(forced.kind(), DeviceKind::Blk);
  forced.reset();
  EXPECT_EQ(forced.kind(), DeviceKind::Blk);
  net.reset();
  EXPECT_EQ(net.kind(), DeviceKind::Unknown);
}

}  // namespace
}  // namespace vhs::test
