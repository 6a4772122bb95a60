// The exercise engine's packed-ring driver against an in-process fake device that reads the
// descriptor ring and writes used descriptors in guest memory directly, with its own wrap
// counters: chains come back with the bytes the device wrote (also out of order, and over many
// laps of a ring of 8), kicks follow the device event suppression area, and a device that breaks
// the ring (an id never made available, a second completion of one buffer, a length beyond the
// writable bytes, no completion at all) is caught with a precise message naming the ring state.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "decoders/virtio/ring_snapshot.hpp"
#include "proxy/exercise/frontend_link.hpp"
#include "proxy/exercise/guest_ram.hpp"
#include "proxy/exercise/packed_driver.hpp"

namespace vhs::exercise {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kDataGpa = uint64_t{1} << 30;
constexpr uint64_t kVersion1 = uint64_t{1} << 32, kEventIdx = uint64_t{1} << 29;

uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// A device that works the packed ring through the front-end's own mapping (UVA == our pointer),
// keeping its own avail and used positions (VIRTIO "Driver and Device Ring Wrap Counters").
class FakeDevice {
 public:
  struct Buffer {
    uint16_t id = 0, slot = 0, descs = 0;
  };

  explicit FakeDevice(const QueueSetup& s) : s_(s) {}

  uint8_t* desc(uint16_t i) const {
    return reinterpret_cast<uint8_t*>(s_.addr.desc_user_addr) + 16 * uint64_t{i};
  }
  uint8_t* driver_area() const { return reinterpret_cast<uint8_t*>(s_.addr.avail_user_addr); }
  uint8_t* device_area() const { return reinterpret_cast<uint8_t*>(s_.addr.used_user_addr); }

  bool available() const {
    const uint16_t f = load16(desc(avail_) + 14);
    return ((f & 0x80) != 0) == avail_wrap_ && ((f & 0x8000) != 0) != avail_wrap_;
  }
  // The next buffer the driver made available: its id (from the last descriptor), first slot
  // and descriptor count.
  Buffer pop() {
    Buffer b;
    b.slot = avail_;
    EXPECT_TRUE(available()) << "nothing available at " << avail_;
    while (true) {
      const uint16_t f = load16(desc(avail_) + 14);
      b.id = load16(desc(avail_) + 12);
      ++b.descs;
      step(avail_, avail_wrap_);
      if (!(f & 1)) break;
    }
    return b;
  }
  // Fills the first writable buffer of the buffer at `slot` with `bytes` (through the ram).
  void fill(GuestRam& ram, uint16_t slot, const std::string& bytes) {
    const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()),
                                        bytes.size());
    uint16_t i = slot;
    while (true) {
      uint64_t addr;
      uint32_t len;
      std::memcpy(&addr, desc(i), 8);
      std::memcpy(&len, desc(i) + 8, 4);
      const uint16_t f = load16(desc(i) + 14);
      if (f & 4) {  // indirect: entries in order
        const uint8_t* t = ram.host(addr, len);
        for (uint32_t k = 0; k < len / 16; ++k)
          if (load16(t + 16 * k + 14) & 2) {
            uint64_t a;
            std::memcpy(&a, t + 16 * k, 8);
            ram.write(a, data);
            return;
          }
        return;
      }
      if (f & 2) {
        ram.write(addr, data);
        return;
      }
      if (!(f & 1)) return;
      i = static_cast<uint16_t>((i + 1) % s_.size);
    }
  }
  // Writes a used descriptor for buffer `id` at the used position and moves it over `descs`.
  // WRITE says the length counts (as DPDK sets it when it wrote bytes); without, the length
  // field is left as it was.
  void push(uint16_t id, uint32_t len, uint16_t descs, bool call = true, bool write = true) {
    uint8_t* d = desc(used_);
    if (write) std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &id, 2);
    const uint16_t flags = static_cast<uint16_t>((used_wrap_ ? 0x8080 : 0) | (write ? 2 : 0));
    std::memcpy(d + 14, &flags, 2);
    for (uint16_t k = 0; k < descs; ++k) step(used_, used_wrap_);
    if (call) {
      const uint64_t one = 1;
      ASSERT_EQ(::write(s_.call_fd, &one, 8), 8);
    }
  }
  void set_kick_flags(uint16_t flags, uint16_t off_wrap = 0) {
    std::memcpy(device_area(), &off_wrap, 2);
    std::memcpy(device_area() + 2, &flags, 2);
  }
  uint64_t kicks() const {
    uint64_t v = 0;
    return ::read(s_.kick_fd, &v, 8) == 8 ? v : 0;
  }

 private:
  void step(uint16_t& pos, bool& wrap) const {
    if (++pos == s_.size) {
      pos = 0;
      wrap = !wrap;
    }
  }
  QueueSetup s_;
  uint16_t avail_ = 0, used_ = 0;
  bool avail_wrap_ = true, used_wrap_ = true;
};

struct Rig {
  GuestRam ram;
  FrontendLink link{nullptr, 1000ms};
  std::unique_ptr<PackedDriver> driver;

  explicit Rig(uint16_t size = 16, bool indirect = false, uint64_t features = kVersion1) {
    std::string error;
    EXPECT_TRUE(ram.add_region(0, 2 << 20, "test-rings", error)) << error;
    EXPECT_TRUE(ram.add_region(kDataGpa, 2 << 20, "test-data", error)) << error;
    driver = std::make_unique<PackedDriver>(ram, link, DeviceKind::Blk, features, indirect);
    Arena rings(0, 2 << 20);
    EXPECT_TRUE(driver->add_queue(size, rings, Arena(kDataGpa, 2 << 20), error)) << error;
  }
};

ChainRequest chain(const std::string& out, uint32_t in) {
  return ChainRequest{{std::vector<uint8_t>(out.begin(), out.end())}, {in}};
}

std::string text(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

TEST(ExercisePackedDriver, DescriptorsCarryIdsAndTheAvailBitsOfTheWrapCounter) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest reqs[] = {chain("abc", 4), chain("de", 4)};
  ASSERT_TRUE(rig.driver->post(0, reqs));
  // Chain 1: slot 0 readable + NEXT, slot 1 writable; both AVAIL (wrap 1), USED clear, id 0.
  EXPECT_EQ(load16(dev.desc(0) + 14), 0x80 | 0x1);
  EXPECT_EQ(load16(dev.desc(1) + 14), 0x80 | 0x2);
  EXPECT_EQ(load16(dev.desc(0) + 12), 0);
  EXPECT_EQ(load16(dev.desc(1) + 12), 0);
  EXPECT_EQ(load16(dev.desc(2) + 12), 1);
  EXPECT_EQ(load16(dev.desc(3) + 12), 1);
  EXPECT_EQ(rig.driver->next_avail(0).encoded(), 0x8004);
  EXPECT_EQ(rig.driver->in_flight(0), 2u);
  // Spec "Vring address description": driver area in the avail and device area in the used
  // address, the descriptor ring in desc.
  const QueueSetup& s = rig.driver->setup(0);
  EXPECT_EQ(s.addr.desc_user_addr, rig.ram.uva(0));
  EXPECT_NE(s.addr.avail_user_addr, s.addr.used_user_addr);
}

TEST(ExercisePackedDriver, OutOfOrderCompletionsCarryTheDeviceBytes) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest reqs[] = {chain("abc", 4), chain("de", 4)};
  auto tokens = rig.driver->post(0, reqs);
  ASSERT_TRUE(tokens) << tokens.error;
  const auto first = dev.pop(), second = dev.pop();
  EXPECT_EQ(first.descs, 2);
  dev.fill(rig.ram, first.slot, "wxyz");
  dev.fill(rig.ram, second.slot, "1234");
  dev.push(second.id, 4, second.descs);  // out of order: written at slot 0
  dev.push(first.id, 3, first.descs);
  auto used = rig.driver->wait_used(0, 2, 500ms);
  ASSERT_TRUE(used) << used.error;
  ASSERT_EQ(used.value->size(), 2u);
  EXPECT_EQ((*used.value)[0].token, (*tokens.value)[1]);
  EXPECT_EQ((*used.value)[0].used_len, 4u);
  EXPECT_EQ(text((*used.value)[0].written[0]), "1234");
  EXPECT_EQ((*used.value)[1].token, (*tokens.value)[0]);
  EXPECT_EQ((*used.value)[1].used_len, 3u);
  EXPECT_EQ(text((*used.value)[1].written[0]), "wxyz");
  EXPECT_EQ(rig.driver->in_flight(0), 0u);
  EXPECT_EQ(rig.driver->next_used(0).encoded(), 0x8004);
}

// A ring of 8 with chains of two descriptors and three chains at a time: chains start at odd
// and even slots, cross the end of the ring, and both wrap counters flip 15 times.
TEST(ExercisePackedDriver, WrapsAroundOverManyLapsOfARingOfEight) {
  Rig rig(8);
  FakeDevice dev(rig.driver->setup(0));
  for (int round = 0; round < 20; ++round) {
    const std::string a = "a" + std::to_string(round), b = "b" + std::to_string(round),
                      c = "c" + std::to_string(round);
    const ChainRequest reqs[] = {chain(a, 8), chain(b, 8), chain(c, 8)};
    auto tokens = rig.driver->post(0, reqs);
    ASSERT_TRUE(tokens) << "round " << round << ": " << tokens.error;
    const auto x = dev.pop(), y = dev.pop(), z = dev.pop();
    dev.fill(rig.ram, x.slot, "X" + a);
    dev.fill(rig.ram, y.slot, "Y" + b);
    dev.fill(rig.ram, z.slot, "Z" + c);
    // Every other round out of order.
    if (round % 2) {
      dev.push(z.id, 3, z.descs);
      dev.push(x.id, 3, x.descs);
      dev.push(y.id, 3, y.descs);
    } else {
      dev.push(x.id, 3, x.descs);
      dev.push(y.id, 3, y.descs);
      dev.push(z.id, 3, z.descs);
    }
    auto used = rig.driver->wait_used(0, 3, 500ms);
    ASSERT_TRUE(used) << "round " << round << ": " << used.error;
    for (const ChainCompletion& done : *used.value) {
      const size_t i = static_cast<size_t>(
          std::find(tokens.value->begin(), tokens.value->end(), done.token) -
          tokens.value->begin());
      ASSERT_LT(i, 3u);
      const std::string want = std::string(1, "XYZ"[i]) + (i == 0 ? a : i == 1 ? b : c);
      EXPECT_EQ(text(done.written[0]).substr(0, want.size()), want) << "round " << round;
    }
  }
  // 120 descriptors: 15 laps, so both positions are back at 0 with the wrap counters flipped.
  EXPECT_EQ(rig.driver->next_avail(0).encoded(), 0x0000);
  EXPECT_EQ(rig.driver->next_used(0).encoded(), 0x0000);
  EXPECT_EQ(rig.driver->in_flight(0), 0u);
}

TEST(ExercisePackedDriver, IndirectChainsTakeOneRingDescriptorEach) {
  Rig rig(8, /*indirect=*/true);
  FakeDevice dev(rig.driver->setup(0));
  // Eight chains of three buffers: 24 descriptors would not fit a ring of 8, 8 do.
  std::vector<ChainRequest> reqs(8, ChainRequest{{{'h', 'd', 'r'}, {'d', 'a', 't', 'a'}}, {8}});
  auto tokens = rig.driver->post(0, reqs);
  ASSERT_TRUE(tokens) << tokens.error;
  const auto b = dev.pop();
  EXPECT_EQ(b.descs, 1);
  EXPECT_EQ(load16(dev.desc(0) + 14), 0x80 | 0x4) << "INDIRECT, no NEXT, AVAIL";
  uint64_t table = 0;
  uint32_t len = 0;
  std::memcpy(&table, dev.desc(0), 8);
  std::memcpy(&len, dev.desc(0) + 8, 4);
  EXPECT_EQ(len, 48u);
  const uint8_t* t = rig.ram.host(table, 48);
  EXPECT_EQ(load16(t + 14), 0);  // read in order: no NEXT in the table
  EXPECT_EQ(load16(t + 16 + 14), 0);
  EXPECT_EQ(load16(t + 32 + 14), 0x2);
  dev.fill(rig.ram, b.slot, "reply!!!");
  dev.push(b.id, 8, b.descs);
  auto used = rig.driver->wait_used(0, 1, 500ms);
  ASSERT_TRUE(used) << used.error;
  EXPECT_EQ(text((*used.value)[0].written[0]), "reply!!!");
  EXPECT_EQ(rig.driver->in_flight(0), 7u);
}

TEST(ExercisePackedDriver, UsedIdNeverMadeAvailableIsNamed) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest req = chain("x", 1);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  EXPECT_EQ(dev.pop().id, 0);
  dev.push(7, 1, 2);
  auto used = rig.driver->wait_used(0, 1, 500ms);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error,
            "queue 0: used id 7 was not in flight (used descriptor at desc 0 wrap 1, next avail "
            "desc 2 wrap 1)");
}

TEST(ExercisePackedDriver, DuplicateUsedEntryIsNamed) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest reqs[] = {chain("a", 1), chain("b", 1)};
  ASSERT_TRUE(rig.driver->post(0, reqs));
  const auto b = dev.pop();
  dev.push(b.id, 1, b.descs);
  ASSERT_TRUE(rig.driver->wait_used(0, 1, 500ms));
  dev.push(b.id, 1, b.descs);
  auto again = rig.driver->wait_used(0, 1, 300ms);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error,
            "queue 0: used id 0 was completed twice (a duplicate used entry) (used descriptor at "
            "desc 2 wrap 1, next avail desc 4 wrap 1)");
}

// With nothing in flight, a second used entry sits where the next post would write: post()
// names it rather than overwrite it.
TEST(ExercisePackedDriver, DuplicateWithNothingInFlightIsNamedByTheNextPost) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest req = chain("x", 1);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  const auto b = dev.pop();
  dev.push(b.id, 1, b.descs);
  ASSERT_TRUE(rig.driver->wait_used(0, 1, 500ms));
  dev.push(b.id, 1, b.descs);
  auto again = rig.driver->post(0, std::span<const ChainRequest>(&req, 1));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error,
            "queue 0: used id 0 was completed twice (a duplicate used entry) (used descriptor at "
            "desc 2 wrap 1, next avail desc 2 wrap 1)");
  EXPECT_EQ(rig.driver->in_flight(0), 0u);
}

TEST(ExercisePackedDriver, LengthBeyondTheWritableBytesIsNamed) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest req = chain("hdr", 513);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  const auto b = dev.pop();
  dev.push(b.id, 600, b.descs);
  auto used = rig.driver->wait_used(0, 1, 500ms);
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error,
            "queue 0: used id 0 len 600 is beyond the chain's 513 writable bytes (used descriptor "
            "at desc 0 wrap 1, next avail desc 2 wrap 1)");
}

// VIRTIO "Element Address and Length": without WRITE the used length is reserved, so the
// driver's own length still in the descriptor (a transmitted frame's) is no fault.
TEST(ExercisePackedDriver, UsedLengthWithoutWriteIsIgnored) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest req{{{'f', 'r', 'a', 'm', 'e'}}, {}};
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  const auto b = dev.pop();
  dev.push(b.id, 0, b.descs, true, /*write=*/false);
  auto used = rig.driver->wait_used(0, 1, 500ms);
  ASSERT_TRUE(used) << used.error;
  EXPECT_EQ((*used.value)[0].used_len, 0u);
}

TEST(ExercisePackedDriver, NoCompletionTimesOutNamingTheRingState) {
  Rig rig;
  FakeDevice dev(rig.driver->setup(0));
  dev.set_kick_flags(1);  // DISABLE: the device says it polls
  const ChainRequest req = chain("x", 1);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  const auto start = std::chrono::steady_clock::now();
  auto used = rig.driver->wait_used(0, 1, 200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(used);
  EXPECT_EQ(used.error,
            "queue 0: no completion for 0.2 s (1 of 1 chains still in flight; next avail desc 2 "
            "wrap 1, next used desc 0 wrap 1 with flags 0x0081, device event flags disable)");
  EXPECT_TRUE(used.timed_out());
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
}

TEST(ExercisePackedDriver, ChainsThatDoNotFitAreNotPlaced) {
  Rig rig(4);
  const ChainRequest reqs[] = {chain("a", 1), chain("b", 1), chain("c", 1)};  // 6 descriptors
  auto r = rig.driver->post(0, reqs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error, "queue 0: 6 descriptors needed, 4 free");
  EXPECT_EQ(rig.driver->next_avail(0).encoded(), 0x8000);
  EXPECT_EQ(rig.driver->in_flight(0), 0u);
}

// VIRTIO "Event Suppression Structure Format": the device area decides whether a post kicks.
TEST(ExercisePackedDriver, KicksFollowTheDeviceEventSuppressionArea) {
  Rig rig(8, false, kVersion1 | kEventIdx);
  FakeDevice dev(rig.driver->setup(0));
  const ChainRequest one = chain("a", 1);
  auto post_one = [&] {
    ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&one, 1)));
    const auto b = dev.pop();
    dev.push(b.id, 1, b.descs, false);
    ASSERT_TRUE(rig.driver->wait_used(0, 1, 500ms));
  };
  post_one();  // ENABLE (zeroed area)
  EXPECT_EQ(dev.kicks(), 1u);
  dev.set_kick_flags(1);  // DISABLE
  post_one();
  EXPECT_EQ(dev.kicks(), 0u);
  // DESC: kick once desc 6 of wrap 1 was made available. The next post covers 4..5: no kick;
  // the one after covers 6..7: kick.
  dev.set_kick_flags(2, 0x8006);
  post_one();
  EXPECT_EQ(dev.kicks(), 0u);
  post_one();
  EXPECT_EQ(dev.kicks(), 1u);
  // Desc 1 of wrap 0 (the next lap): covered by 0..1 of that lap, not by 0 alone.
  dev.set_kick_flags(2, 0x0001);
  const ChainRequest single{{}, {4}};
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&single, 1)));
  EXPECT_EQ(dev.kicks(), 0u);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&single, 1)));
  EXPECT_EQ(dev.kicks(), 1u);
  EXPECT_EQ(rig.driver->kicks(0), 3u);
  // While it waits, the driver asks for a call at its used position (DESC, off_wrap).
  auto used = rig.driver->wait_used(0, 1, 10ms);
  EXPECT_FALSE(used);
  EXPECT_EQ(load16(dev.driver_area() + 2), 2);
  EXPECT_EQ(load16(dev.driver_area()), 0x0000);  // desc 0 of wrap 0
}

// Spec "Vring descriptor indices for packed virtqueues": a base within the descriptors in
// flight is where the back-end may resume; one past the driver's position is not.
TEST(ExercisePackedDriver, VringBaseMustLieWithinTheDescriptorsInFlight) {
  Rig rig(8);
  FakeDevice dev(rig.driver->setup(0));
  EXPECT_EQ(rig.driver->fresh_vring_base(), 0x8000);
  EXPECT_EQ(rig.driver->resume_vring_base(0x8003), 0x80038003u);
  const ChainRequest reqs[] = {chain("a", 1), chain("b", 1), chain("c", 1)};
  ASSERT_TRUE(rig.driver->post(0, reqs));
  EXPECT_EQ(rig.driver->vring_base_fault(0, 0x8000), "");
  EXPECT_EQ(rig.driver->vring_base_fault(0, 0x8006), "");
  EXPECT_EQ(rig.driver->vring_base_fault(0, 0x8007),
            "queue 0: GET_VRING_BASE returned 0x8007 (desc 7 wrap 1), not within the 6 "
            "descriptors in flight before next avail desc 6 wrap 1");
  EXPECT_NE(rig.driver->vring_base_fault(0, 0x0000), "");
}

// The capture's ring-state sample describes the packed ring the driver built (with the vring
// base the ring started at: a zeroed ring's last slot cannot tell the decoder that nothing was
// used yet).
TEST(ExercisePackedDriver, SnapshotDescribesThePackedRing) {
  Rig rig(8);
  const ChainRequest reqs[] = {chain("a", 1), chain("b", 1)};
  ASSERT_TRUE(rig.driver->post(0, reqs));
  const RingSnapshot s =
      rig.driver->snapshot(0, rig.driver->resume_vring_base(rig.driver->fresh_vring_base()));
  EXPECT_EQ(s.type, RingType::Packed);
  EXPECT_EQ(s.size, 8);
  EXPECT_TRUE(s.indices_ok);
  EXPECT_EQ(s.avail_idx, 0x8004);
  EXPECT_EQ(s.inflight, 2u);
  EXPECT_EQ(s.heads, (std::vector<uint16_t>{0, 1}));
  EXPECT_TRUE(s.faults.empty());
}

TEST(ExercisePackedDriver, ResetStartsTheRingOver) {
  Rig rig(8);
  const ChainRequest req = chain("a", 1);
  ASSERT_TRUE(rig.driver->post(0, std::span<const ChainRequest>(&req, 1)));
  std::string error;
  ASSERT_TRUE(rig.driver->reset_queues(error)) << error;
  EXPECT_EQ(rig.driver->in_flight(0), 0u);
  EXPECT_EQ(rig.driver->next_avail(0).encoded(), 0x8000);
  FakeDevice dev(rig.driver->setup(0));
  EXPECT_FALSE(dev.available());
}

}  // namespace
}  // namespace vhs::exercise
