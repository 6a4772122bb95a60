// The memory table, the started rings and the device kind are followed by one set of trackers
// (decoders/session): the session analyser (through the Store), the proxy's RingSampler (with real
// memfds it maps) and `vhostscope memmap` (reading the Store) must agree on them after every
// message of the same session, and on the values the protocol says.
#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "proxy/ring_sampler.hpp"
#include "support/capture_write.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

constexpr uint64_t kRegionSize = 0x10000;
constexpr uint64_t kVirtioProtocolFeatures = 1ull << 30;
constexpr uint64_t kVersion1 = 1ull << 32;

struct GuestRegion {
  uint64_t gpa, uva, offset;
};
// Three memfd-backed regions: a and b come in SET_MEM_TABLE, c with ADD_MEM_REG.
constexpr GuestRegion kA{0x0, 0x7f0000000000, 0};
constexpr GuestRegion kB{0x100000, 0x7f0000100000, 0x1000};
constexpr GuestRegion kC{0x200000, 0x7f0000200000, 0};

void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A region description: 32 bytes, or 40 with XEN_MMAP (flags u32, domid u32 after mmap_offset).
void put_region(Bytes& b, const GuestRegion& r, bool xen, uint64_t offset_override = UINT64_MAX) {
  put64(b, r.gpa);
  put64(b, kRegionSize);
  put64(b, r.uva);
  put64(b, offset_override == UINT64_MAX ? r.offset : offset_override);
  if (xen) {
    put32(b, 0);  // XEN_MMAP_FOREIGN
    put32(b, 0);
  }
}
Bytes table_payload(std::initializer_list<GuestRegion> regions, bool xen) {
  Bytes b;
  put32(b, static_cast<uint32_t>(regions.size()));
  put32(b, 0);
  for (const GuestRegion& r : regions) put_region(b, r, xen);
  return b;
}
Bytes single_region_payload(const GuestRegion& r, bool xen, uint64_t offset_override = UINT64_MAX) {
  Bytes b;
  put64(b, 0);
  put_region(b, r, xen, offset_override);
  return b;
}
// A GET_CONFIG reply carrying a 24-byte virtio_blk_config prefix (capacity 2048 sectors).
Bytes blk_config_payload() {
  Bytes b;
  put32(b, 0);   // offset
  put32(b, 24);  // size
  put32(b, 0);   // flags
  put64(b, 2048);
  for (int i = 0; i < 16; ++i) b.push_back(0);
  return b;
}

class Outputs final : public RingSampler::Output {
 public:
  void ring_state(std::span<const uint8_t>) override { ++states; }
  void ring_error(std::string_view text) override { errors.emplace_back(text); }
  int states = 0;
  std::vector<std::string> errors;
};

using RegionKey = std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>;  // gpa, size, uva, offset
RegionKey key(const MemRegionValue& r) {
  return {r.guest_phys_addr, r.memory_size, r.userspace_addr, r.mmap_offset};
}
RegionKey key(const GuestRegion& r) { return {r.gpa, kRegionSize, r.uva, r.offset}; }

std::set<uint32_t> started_of(const std::vector<VringState>& vrings) {
  std::set<uint32_t> s;
  for (const VringState& v : vrings)
    if (v.started) s.insert(v.index);
  return s;
}

// One session fed to the Store and the RingSampler side by side, message by message.
class Session {
 public:
  Session() {
    records_.add(RecordKind::Connect, Direction::ToBackend, Bytes{'c'});
    store_.append(records_.records().back());
    memfds_.push_back(make_memfd("agree-a", 0x20000));
    memfds_.push_back(make_memfd("agree-b", 0x20000));
    memfds_.push_back(make_memfd("agree-c", 0x20000));
    kick_ = make_eventfd();
  }

  // Sends a front-end request with the given fds (memfd indices, or -1 for the kick eventfd).
  void request(std::string_view name, const Bytes& payload, std::vector<int> which = {}) {
    feed(Direction::ToBackend, vhs::test::request(name, payload), which);
  }
  void reply(std::string_view name, const Bytes& payload) {
    feed(Direction::ToFrontend, vhs::test::reply(name, payload), {});
  }

  const SessionState& analysed() const { return store_.sessions().back().state(); }
  const RingSampler& sampler() const { return sampler_; }
  const std::vector<Record>& records() const { return records_.records(); }
  const Outputs& outputs() const { return out_; }

  // The three consumers agree; `where` names the message just fed.
  void expect_agreement(const std::string& where) const {
    const SessionState& st = analysed();
    std::vector<RegionKey> analyser, tracker, mapped;
    for (const MemRegionState& r : st.regions) analyser.push_back(key(r.region));
    for (const MemRegionState& r : sampler_.memory_table().regions())
      tracker.push_back(key(r.region));
    for (const MemRegionValue& r : sampler_.memory().map().regions()) mapped.push_back(key(r));
    EXPECT_EQ(analyser, tracker) << where;
    EXPECT_EQ(analyser, mapped) << where;
    const size_t backed = static_cast<size_t>(std::count_if(
        st.regions.begin(), st.regions.end(), [](const MemRegionState& r) { return r.has_fd; }));
    EXPECT_EQ(sampler_.memory().mapped_count(), backed) << where;
    EXPECT_EQ(started_of(st.vrings), started_of(sampler_.vrings().vrings())) << where;
    EXPECT_EQ(st.device, sampler_.device()) << where;
  }

 private:
  void feed(Direction direction, const Bytes& bytes, const std::vector<int>& which) {
    std::vector<int> fds;
    std::vector<FdInfo> infos;
    for (int w : which) {
      FdInfo info;
      if (w < 0) {
        fds.push_back(kick_.get());
        info.kind = FdKind::Eventfd;
        info.name = "anon_inode:[eventfd]";
      } else {
        fds.push_back(memfds_[static_cast<size_t>(w)].get());
        info.kind = FdKind::Memfd;
        info.name = fmt::format("memfd:agree-{}", static_cast<char>('a' + w));
        info.size = 0x20000;
      }
      infos.push_back(info);
    }
    records_.add(RecordKind::Message, direction, bytes, infos);
    store_.append(records_.records().back());
    sampler_.on_message(direction, bytes, fds, out_);
  }

  RecordList records_;
  Store store_;
  RingSampler sampler_;
  Outputs out_;
  std::vector<UniqueFd> memfds_;
  UniqueFd kick_;
};

// The memmap lines the analysed state should produce (what the command printed before it read
// the Store: region lines with the backing fd's name, vring lines translated through the table).
std::string memmap_regions_of(const SessionState& st) {
  std::string out;
  for (size_t i = 0; i < st.regions.size(); ++i) {
    const MemRegionValue& g = st.regions[i].region;
    out += fmt::format(
        "  region {}: gpa 0x{:x}-0x{:x} uva 0x{:x} size 0x{:x} offset 0x{:x} fd {}\n", i,
        g.guest_phys_addr, g.guest_phys_addr + g.memory_size, g.userspace_addr, g.memory_size,
        g.mmap_offset, st.regions[i].has_fd ? st.regions[i].fd.name : "no fd");
  }
  return out;
}

void run_session(bool xen) {
  Session s;
  const uint64_t protocol = feature_mask(ProtocolFeature::CONFIGURE_MEM_SLOTS) |
                            feature_mask(ProtocolFeature::RESET_DEVICE) |
                            feature_mask(ProtocolFeature::CONFIG) |
                            (xen ? feature_mask(ProtocolFeature::XEN_MMAP) : 0);
  s.request("GET_FEATURES", {});
  s.reply("GET_FEATURES", u64_payload(kVersion1 | kVirtioProtocolFeatures));
  s.request("SET_FEATURES", u64_payload(kVersion1 | kVirtioProtocolFeatures));
  s.request("GET_PROTOCOL_FEATURES", {});
  s.reply("GET_PROTOCOL_FEATURES", u64_payload(protocol));
  s.request("SET_PROTOCOL_FEATURES", u64_payload(protocol));
  s.expect_agreement("negotiation");
  EXPECT_EQ(s.analysed().device, DeviceKind::Unknown);

  s.request("SET_MEM_TABLE", table_payload({kA, kB}, xen), {0, 1});
  s.expect_agreement("SET_MEM_TABLE");
  ASSERT_EQ(s.analysed().regions.size(), 2u);
  EXPECT_EQ(key(s.analysed().regions[1].region), key(kB));
  s.request("ADD_MEM_REG", single_region_payload(kC, xen), {2});
  s.expect_agreement("ADD_MEM_REG");
  // REM_MEM_REG names a by GPA, UVA and size; its mmap offset is ignored.
  s.request("REM_MEM_REG", single_region_payload(kA, xen, 0x5000));
  s.expect_agreement("REM_MEM_REG");
  ASSERT_EQ(s.analysed().regions.size(), 2u);
  EXPECT_EQ(key(s.analysed().regions[0].region), key(kB));
  EXPECT_EQ(key(s.analysed().regions[1].region), key(kC));
  EXPECT_EQ(s.sampler().memory().mapped_count(), 2u);

  s.request("GET_CONFIG", blk_config_payload());
  s.reply("GET_CONFIG", blk_config_payload());
  s.expect_agreement("GET_CONFIG");
  EXPECT_EQ(s.analysed().device, DeviceKind::Blk);

  // Rings 0 and 1 in region b (queue size 16: desc +0, avail +0x200, used +0x400 per ring).
  for (uint32_t q = 0; q < 2; ++q) {
    const uint64_t at = kB.uva + 0x1000 * q;
    s.request("SET_VRING_NUM", vring_state(q, 16));
    s.request("SET_VRING_ADDR", vring_addr(q, 0, at, at + 0x400, at + 0x200, 0));
    s.request("SET_VRING_BASE", vring_state(q, 0));
    s.expect_agreement(fmt::format("vring {} set up", q));
    EXPECT_TRUE(started_of(s.analysed().vrings).count(q) == 0) << q;
    s.request("SET_VRING_KICK", vring_index_fd(static_cast<uint8_t>(q)), {-1});
    s.expect_agreement(fmt::format("vring {} kicked", q));
  }
  EXPECT_EQ(started_of(s.analysed().vrings), (std::set<uint32_t>{0, 1}));
  EXPECT_TRUE(s.sampler().any_started());

  s.request("GET_VRING_BASE", vring_state(0, 0));
  s.expect_agreement("GET_VRING_BASE");
  s.reply("GET_VRING_BASE", vring_state(0, 0));
  s.expect_agreement("GET_VRING_BASE reply");
  EXPECT_EQ(started_of(s.analysed().vrings), (std::set<uint32_t>{1}));
  ASSERT_NE(s.analysed().vring(0), nullptr);
  EXPECT_EQ(s.analysed().vring(0)->last_base, std::optional<uint32_t>(0));
  EXPECT_EQ(s.sampler().vrings().vring(0)->last_base, std::optional<uint32_t>(0));

  s.request("RESET_DEVICE", {});
  s.expect_agreement("RESET_DEVICE");
  EXPECT_TRUE(started_of(s.analysed().vrings).empty());
  EXPECT_FALSE(s.sampler().any_started());

  s.request("SET_VRING_KICK", vring_index_fd(1), {-1});
  s.expect_agreement("vring 1 kicked again");
  EXPECT_EQ(started_of(s.analysed().vrings), (std::set<uint32_t>{1}));
  EXPECT_TRUE(s.outputs().errors.empty()) << s.outputs().errors.front();
  EXPECT_GT(s.outputs().states, 0);

  // memmap reads the same analysis from the capture file.
  TempDir dir;
  const std::string capture = write_capture(dir, "agree.pcap", s.records());
  CommandResult memmap = run_command({vhostscope_binary(), "memmap", capture}, dir.path());
  ASSERT_EQ(memmap.exit_code, 0) << memmap.err;
  const std::string expected =
      "Session 1: 2 regions\n" + memmap_regions_of(s.analysed()) +
      "  vring 0: desc uva 0x7f0000100000 = gpa 0x100000 (region 0 +0x0)\n"
      "           avail uva 0x7f0000100200 = gpa 0x100200 (region 0 +0x200)\n"
      "           used uva 0x7f0000100400 = gpa 0x100400 (region 0 +0x400)\n"
      "  vring 1: desc uva 0x7f0000101000 = gpa 0x101000 (region 0 +0x1000)\n"
      "           avail uva 0x7f0000101200 = gpa 0x101200 (region 0 +0x1200)\n"
      "           used uva 0x7f0000101400 = gpa 0x101400 (region 0 +0x1400)\n";
  EXPECT_EQ(memmap.out, expected);
  EXPECT_NE(memmap.out.find("region 0: gpa 0x100000-0x110000 uva 0x7f0000100000 size 0x10000 "
                            "offset 0x1000 fd memfd:agree-b\n"),
            std::string::npos)
      << memmap.out;
  EXPECT_NE(memmap.out.find("region 1: gpa 0x200000-0x210000 uva 0x7f0000200000 size 0x10000 "
                            "offset 0x0 fd memfd:agree-c\n"),
            std::string::npos)
      << memmap.out;
}

TEST(TrackersAgree, AnalyserSamplerAndMemmapFollowOneSession) { run_session(false); }

TEST(TrackersAgree, XenMmapRegionsOfFortyBytes) { run_session(true); }

}  // namespace
}  // namespace vhs::test
