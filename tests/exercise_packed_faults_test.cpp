// The exercise engine with --ring packed against the scripted back-end of
// support/faulty_ring_backend working queue 0 as a packed ring (code written apart from proxy/):
// the I/O checks and the ring lifecycle scenarios (GET_VRING_BASE with the wrap counter in bit
// 15, SET_VRING_BASE back, a reset that starts the ring over) pass, and each used-ring fault is
// caught with a message naming the ring position.
#include <string>

#include <gtest/gtest.h>

#include "proxy/exercise/engine.hpp"
#include "support/faulty_ring_backend.hpp"
#include "support/temp_dir.hpp"

namespace vhs::exercise {
namespace {

using namespace std::chrono_literals;

const CheckOutcome* find(const ExerciseResult& r, const std::string& id) {
  for (const CheckOutcome& c : r.checks)
    if (c.id == id) return &c;
  return nullptr;
}

ExerciseResult exercise_packed(test::RingFault fault, test::TempDir& dir,
                               std::vector<std::string> scenarios = {}) {
  const std::string sock = dir / "faulty.sock";
  test::FaultyRingBackend backend(sock, fault, std::chrono::milliseconds(5000), /*packed=*/true);
  ExerciseOptions o;
  o.backend_connect = sock;
  o.device = DeviceKind::Blk;
  o.packed_ring = true;
  o.queues = 1;
  o.queue_size = 64;  // stop-restart posts 8 three-descriptor probes
  o.queue_depth = 2;
  o.timeout = 1000ms;
  o.connect_timeout = 2000ms;
  o.scenarios = std::move(scenarios);
  ExerciseResult r = run_exercise(o);
  EXPECT_TRUE(r.ran) << r.error;
  return r;
}

TEST(ExercisePackedFaults, WellBehavedBackendPassesIoAndRingLifecycle) {
  test::TempDir dir;
  const ExerciseResult r =
      exercise_packed(test::RingFault::None, dir, {"stop-restart", "enable-toggle", "reset"});
  EXPECT_TRUE((r.acked_features >> 34) & 1) << "VIRTIO_F_RING_PACKED acked";
  for (const char* id : {"protocol.setup", "blk.get-id", "blk.read", "lifecycle.stop-restart",
                         "lifecycle.enable-toggle", "lifecycle.reset"}) {
    const CheckOutcome* c = find(r, id);
    ASSERT_NE(c, nullptr) << id;
    EXPECT_EQ(c->verdict, Verdict::Pass) << id << ": " << c->reason;
  }
}

TEST(ExercisePackedFaults, UsedIdNeverMadeAvailableIsCaught) {
  test::TempDir dir;
  const ExerciseResult r = exercise_packed(test::RingFault::UnknownHead, dir);
  const CheckOutcome* c = find(r, "blk.get-id");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  EXPECT_EQ(c->reason.rfind("queue 0: used id 5 was not in flight (used descriptor at desc 0 wrap "
                            "1, next avail desc ",
                            0),
            0u)
      << c->reason;
}

TEST(ExercisePackedFaults, LengthBeyondTheWritableBytesIsCaught) {
  test::TempDir dir;
  const ExerciseResult r = exercise_packed(test::RingFault::WrongLength, dir);
  const CheckOutcome* c = find(r, "blk.get-id");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  EXPECT_EQ(c->reason.rfind("queue 0: used id 0 len 121 is beyond the chain's 21 writable bytes "
                            "(used descriptor at desc 0 wrap 1, next avail desc ",
                            0),
            0u)
      << c->reason;
}

TEST(ExercisePackedFaults, DuplicateUsedEntryIsCaught) {
  test::TempDir dir;
  const ExerciseResult r = exercise_packed(test::RingFault::DuplicateUsed, dir);
  const CheckOutcome* c = find(r, "blk.read");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  EXPECT_EQ(
      c->reason.rfind("queue 0: used id 0 was completed twice (a duplicate used entry) (used "
                      "descriptor at desc ",
                      0),
      0u)
      << c->reason;
}

}  // namespace
}  // namespace vhs::exercise
