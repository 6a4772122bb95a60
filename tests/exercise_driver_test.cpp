// The exercise engine's split-ring driver against an in-process fake device that reads the
// avail ring and writes the used ring in guest memory directly: chains come back with the bytes
// the device wrote, and a device that breaks the used ring (an id never made available, a second
// completion of one chain, a length beyond the writable bytes, no completion at all) is caught
// with a precise message. Also: the message builder writes what the decoder reads.
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "decoders/vhost_user/message.hpp"
#include "proxy/exercise/engine.hpp"
#include "proxy/exercise/frontend_link.hpp"
#include "proxy/exercise/guest_ram.hpp"
#include "proxy/exercise/message_build.hpp"
#include "proxy/exercise/split_driver.hpp"

namespace vhs::exercise {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kDataGpa = uint64_t{1} << 30;

// A device that works the split ring through the front-end's own mapping (UVA == our pointer).
class FakeDevice {
 public:
  explicit FakeDevice(const SplitQueueSetup& s) : s_(s) {}

  uint8_t* desc(uint16_t i) const {
    return reinterpret_cast<uint8_t*>(s_.addr.desc_user_addr) + 16 * uint64_t{i};
  }
  uint16_t avail_idx() const {
    uint16_t v;
    std::memcpy(&v, reinterpret_cast<uint8_t*>(s_.addr.avail_user_addr) + 2, 2);
    return v;
  }
  // The next head the driver made available.
  uint16_t pop() {
    uint16_t head;
    std::memcpy(&head,
                reinterpret_cast<uint8_t*>(s_.addr.avail_user_addr) + 4 + 2 * (next_ % s_.size), 2);
    ++next_;
    return head;
  }
  // Fills the first writable descriptor of `head`'s chain with `bytes` (through the ram).
  void fill(GuestRam& ram, uint16_t head, const std::string& bytes) {
    uint16_t i = head;
    while (true) {
      uint64_t addr;
      uint16_t flags, next;
      std::memcpy(&addr, desc(i), 8);
      std::memcpy(&flags, desc(i) + 12, 2);
      std::memcpy(&next, desc(i) + 14, 2);
      if (flags & 2) {
        ram.write(addr, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                 bytes.size()));
        return;
      }
      if (!(flags & 1)) return;
      i = next;
    }
  }
  void push(uint32_t id, uint32_t len) {
    auto* used = reinterpret_cast<uint8_t*>(s_.addr.used_user_addr);
    uint16_t idx;
    std::memcpy(&idx, used + 2, 2);
    std::memcpy(used + 4 + 8 * (idx % s_.size), &id, 4);
    std::memcpy(used + 4 + 8 * (idx % s_.size) + 4, &len, 4);
    ++idx;
    std::memcpy(used + 2, &idx, 2);
    const uint64_t one = 1;
    ASSERT_EQ(::write(s_.call_fd, &one, 8), 8);
  }

 private:
  SplitQueueSetup s_;
  uint16_t next_ = 0;
};

struct Rig {
  GuestRam ram;
  FrontendLink link{nullptr, 1000ms};
  std::unique_ptr<SplitDriver> driver;

  explicit Rig(uint16_t size = 16, bool indirect = false) {
    std::string error;
    EXPECT_TRUE(ram.add_region(0, 2 << 20, "test-rings", error)) << error;
    EXPECT_TRUE(ram.add_region(kDataGpa, 2 << 20, "test-data", error)) << error;
    driver = std::make_unique<SplitDriver>(ram, link, DeviceKind::Blk, uint64_t{1} << 32, indirect);
    Arena rings(0, 2 << 20);
    EXPECT_TRUE(driver->add_queue(size, rings, Arena(kDataGpa, 2 << 20), error)) << error;
  }
};

ChainRequest chain(const std::string& out, uint32_t in) {
  return ChainRequest{{std::vector<uint8_t>(out.begin(), out.end())}, {in}};
}

TEST(ExerciseDriver, CompletionsCarryTheDeviceBytesInRequestOrder) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest reqs[] = {chain("abc", 4), chain("de", 4)};
  auto tokens = rig.driver->post(0, reqs);
  ASSERT_TRUE(tokens) << tokens.error;
  ASSERT_EQ(tokens.value->size(), 2u);
  EXPECT_EQ(dev.avail_idx(), 2);
  const uint16_t first = dev.pop(), second = dev.pop();
  dev.fill(rig.ram, first, "wxyz");
  dev.fill(rig.ram, second, "1234");
  dev.push(second, 4);  // out of order
  dev.push(first, 3);
  auto used = rig.driver->wait_used(0, 2, 500ms);
  ASSERT_TRUE(used) << used.error;
  ASSERT_EQ(used.value->size(), 2u);
  EXPECT_EQ((*used.value)[0].token, (*tokens.value)[1]);
  EXPECT_EQ((*used.value)[0].used_len, 4u);
  EXPECT_EQ(std::string((*used.value)[0].written[0].begin(), (*used.value)[0].written[0].end()),
            "1234");
  EXPECT_EQ((*used.value)[1].token, (*tokens.value)[0]);
  EXPECT_EQ((*used.value)[1].used_len, 3u);
  EXPECT_EQ(std::string((*used.value)[1].written[0].begin(), (*used.value)[1].written[0].end()),
            "wxyz");
  EXPECT_EQ(rig.driver->in_flight(0), 0u);
}

// --indirect: a chain of several buffers is one ring descriptor (INDIRECT, len 16 per entry)
// pointing at a table whose entries chain by table index; the device's bytes come back through
// it, and the table's memory is recycled with the buffers.
TEST(ExerciseDriver, IndirectChainsTakeOneRingDescriptorEach) {
  Rig rig(16, /*indirect=*/true);
  FakeDevice dev(rig.driver->setup(0));
  auto load16 = [](const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); };
  // Ten chains of three buffers: 30 descriptors would not fit a 16-entry table, 10 do.
  std::vector<ChainRequest> reqs(10, ChainRequest{{{'h', 'd', 'r'}, {'d', 'a', 't', 'a'}}, {8}});
  auto tokens = rig.driver->post(0, reqs);
  ASSERT_TRUE(tokens) << tokens.error;
  const uint16_t head = dev.pop();
  const uint8_t* d = dev.desc(head);
  uint64_t table = 0;
  std::memcpy(&table, d, 8);
  EXPECT_EQ(load16(d + 12), 0x4) << "INDIRECT, and no NEXT on the ring descriptor";
  uint32_t len = 0;
  std::memcpy(&len, d + 8, 4);
  EXPECT_EQ(len, 48u);
  const uint8_t* t = rig.ram.host(table, 48);
  EXPECT_EQ(load16(t + 12), 0x1);  // NEXT
  EXPECT_EQ(load16(t + 14), 1);
  EXPECT_EQ(load16(t + 16 + 12), 0x1);
  EXPECT_EQ(load16(t + 16 + 14), 2);
  EXPECT_EQ(load16(t + 32 + 12), 0x2);  // WRITE, the end of the chain
  uint64_t writable = 0;
  std::memcpy(&writable, t + 32, 8);
  const uint8_t reply[8] = {'r', 'e', 'p', 'l', 'y', '!', '!', '!'};
  rig.ram.write(writable, reply);
  dev.push(head, 8);
  auto used = rig.driver->wait_used(0, 1, 500ms);
  ASSERT_TRUE(used) << used.error;
  EXPECT_EQ(std::string((*used.value)[0].written[0].begin(), (*used.value)[0].written[0].end()),
            "reply!!!");
  EXPECT_EQ(rig.driver->in_flight(0), 9u);
}

TEST(ExerciseDriver, UsedIdNeverMadeAvailableIsNamed) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest req = chain("x", 1);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  EXPECT_EQ(dev.pop(), 0);
  dev.push(7, 1);
  auto used = rig.driver->wait_used(0, 1, 500ms);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error,
            "queue 0: used id 7 was not in flight (used ring slot 0, avail idx 1, used idx 1)");
}

TEST(ExerciseDriver, DuplicateUsedEntryIsNamed) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest req = chain("x", 1);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  const uint16_t head = dev.pop();
  dev.push(head, 1);
  ASSERT_TRUE(rig.driver->wait_used(0, 1, 500ms));
  dev.push(head, 1);
  auto again = rig.driver->wait_used(0, 1, 300ms);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error, "queue 0: used id " + std::to_string(head) +
                             " was completed twice (a duplicate used entry) (used ring slot 1, "
                             "avail idx 1, used idx 2)");
  EXPECT_FALSE(again.timed_out());  // a wrong ring, whatever the wait
}

TEST(ExerciseDriver, DuplicateWhileOthersAreInFlightIsNamed) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest reqs[] = {chain("a", 1), chain("b", 1)};
  ASSERT_TRUE(rig.driver->post(0, reqs));
  const uint16_t head = dev.pop();
  dev.push(head, 1);
  ASSERT_TRUE(rig.driver->wait_used(0, 1, 500ms));
  dev.push(head, 1);
  auto again = rig.driver->wait_used(0, 1, 300ms);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error, "queue 0: used id " + std::to_string(head) +
                             " was completed twice (a duplicate used entry) (used ring slot 1, "
                             "avail idx 2, used idx 2)");
}

TEST(ExerciseDriver, LengthBeyondTheWritableBytesIsNamed) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest req = chain("hdr", 513);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  const uint16_t head = dev.pop();
  dev.push(head, 600);
  auto used = rig.driver->wait_used(0, 1, 500ms);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error, "queue 0: used id " + std::to_string(head) +
                            " len 600 is beyond the chain's 513 writable bytes (avail idx 1, "
                            "used idx 1)");
}

TEST(ExerciseDriver, NoCompletionTimesOutWithTheQueueNamed) {
  Rig rig;
  const ChainRequest req = chain("x", 1);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  const auto start = std::chrono::steady_clock::now();
  auto used = rig.driver->wait_used(0, 1, 200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error.rfind("queue 0: no completion for 0.2 s", 0), 0u) << used.error;
  // A wait that ran out, not a wrong ring: the net probe sends another frame on it.
  EXPECT_TRUE(used.timed_out());
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
}

TEST(ExerciseDriver, ChainsThatDoNotFitAreNotPlaced) {
  Rig rig(4);
  const ChainRequest reqs[] = {chain("a", 1), chain("b", 1), chain("c", 1)};  // 6 descriptors
  auto r = rig.driver->post(0, reqs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error, "queue 0: 6 descriptors needed, 4 free");
  EXPECT_EQ(rig.driver->avail_idx(0), 0);
  EXPECT_EQ(rig.driver->in_flight(0), 0u);
}

// Spec "Ring states": the index GET_VRING_BASE returns lies between the used idx the stopped
// ring shows and the avail idx; behind the used idx it is stale (the back-end would take again
// what it already completed, as QEMU 7.2's virtiofsd was seen to do under stop-restart).
TEST(ExerciseDriver, VringBaseBehindTheUsedIdxIsStale) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest reqs[] = {chain("a", 4), chain("b", 4), chain("c", 4)};
  ASSERT_TRUE(rig.driver->post(0, reqs));
  EXPECT_EQ(rig.driver->vring_base_fault(0, 0), "");
  EXPECT_EQ(rig.driver->vring_base_fault(0, 3), "");
  EXPECT_EQ(rig.driver->vring_base_fault(0, 4),
            "queue 0: GET_VRING_BASE returned 4, not within the 3 chains in flight up to avail "
            "idx 3");
  dev.push(dev.pop(), 0);
  dev.push(dev.pop(), 0);
  EXPECT_EQ(rig.driver->vring_base_fault(0, 2), "");
  EXPECT_EQ(rig.driver->vring_base_fault(0, 3), "");
  EXPECT_EQ(rig.driver->vring_base_fault(0, 1),
            "queue 0: GET_VRING_BASE returned 1, but the back-end had already used up to idx 2 "
            "(used ring): a stale index, restarting there would repeat 1 request(s)");
}

TEST(ExerciseDriver, DescriptorsAndBuffersAreRecycled) {
  Rig rig(4);
  FakeDevice dev(rig.driver->setup(0));
  for (int round = 0; round < 20; ++round) {
    const ChainRequest reqs[] = {chain("a", 1000), chain("b", 1000)};
    ASSERT_TRUE(rig.driver->post(0, reqs)) << "round " << round;
    const uint16_t a = dev.pop(), b = dev.pop();
    dev.push(a, 1);
    dev.push(b, 1);
    auto used = rig.driver->wait_used(0, 2, 500ms);
    ASSERT_TRUE(used) << used.error;
  }
  EXPECT_EQ(rig.driver->avail_idx(0), 40);
}

TEST(ExerciseMessages, BuiltFromTheLayoutDecodeToTheSameValues) {
  VringAddrValue a;
  a.index = 3;
  a.flags = 1;
  a.desc_user_addr = 0x1000;
  a.used_user_addr = 0x2000;
  a.avail_user_addr = 0x3000;
  a.log_guest_addr = 0x4000;
  const Bytes msg = build_request(FrontendRequest::SET_VRING_ADDR, encode_vring_addr(a), true);
  const DecodedMessage d = decode_message(Channel::Frontend, msg, {});
  ASSERT_TRUE(d.info && d.info->is(FrontendRequest::SET_VRING_ADDR));
  EXPECT_TRUE(d.header.needs_reply());
  EXPECT_TRUE(d.findings.empty());
  const auto* v = std::get_if<VringAddrValue>(&d.payload);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->index, 3u);
  EXPECT_EQ(v->flags, 1u);
  EXPECT_EQ(v->desc_user_addr, 0x1000u);
  EXPECT_EQ(v->used_user_addr, 0x2000u);
  EXPECT_EQ(v->avail_user_addr, 0x3000u);
  EXPECT_EQ(v->log_guest_addr, 0x4000u);

  MemRegionValue r0{0, 1 << 20, 0x7f0000000000, 0, 0, 0},
      r1{1ull << 30, 2 << 20, 0x7f1000000000, 0, 0, 0};
  const MemRegionValue regions[] = {r0, r1};
  const Bytes table = build_request(FrontendRequest::SET_MEM_TABLE, encode_mem_table(regions));
  FdInfo fd;
  fd.kind = FdKind::Memfd;
  const FdInfo fds[] = {fd, fd};
  const DecodedMessage t = decode_message(Channel::Frontend, table, fds);
  EXPECT_TRUE(t.findings.empty());
  const auto* m = std::get_if<MemTableValue>(&t.payload);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->regions.size(), 2u);
  EXPECT_EQ(m->regions[1].guest_phys_addr, 1ull << 30);
  EXPECT_EQ(m->regions[1].memory_size, 2u << 20);
  EXPECT_EQ(m->regions[1].userspace_addr, 0x7f1000000000u);
}

TEST(ExerciseMessages, ReplyCarriesTheReplyFlagAndPayload) {
  const Bytes ack =
      build_reply(static_cast<uint32_t>(FrontendRequest::SET_MEM_TABLE), encode_u64(0x1234));
  const DecodedMessage d = decode_message(Channel::Frontend, ack, {});
  ASSERT_TRUE(d.info && d.info->is(FrontendRequest::SET_MEM_TABLE));
  EXPECT_TRUE(d.is_reply);
  EXPECT_EQ(d.header.version(), kProtocolVersion);
  EXPECT_EQ(ack.size(), kHeaderSize + 8);
  EXPECT_EQ(ack[kHeaderSize], 0x34);
  EXPECT_EQ(ack[kHeaderSize + 1], 0x12);
}

// What QEMU 7.2 acks per device (VIRTIO "Feature bits" of the block and network devices).
TEST(ExerciseEngine, DefaultFeatureMasks) {
  constexpr uint64_t kRing = 0x1'3000'0000;  // INDIRECT_DESC, EVENT_IDX, VERSION_1
  EXPECT_EQ(default_feature_mask(DeviceKind::Blk, 1), kRing | 0x6e76);
  EXPECT_EQ(default_feature_mask(DeviceKind::Blk, 2), kRing | 0x7e76);  // + MQ
  EXPECT_EQ(default_feature_mask(DeviceKind::Net, 2), kRing | 0x18028);
  EXPECT_EQ(default_feature_mask(DeviceKind::Net, 4), kRing | 0x418028);  // + MQ
  EXPECT_EQ(default_feature_mask(DeviceKind::Fs, 1), kRing);
}

}  // namespace
}  // namespace vhs::exercise
