// The exercise engine against a back-end that breaks its used ring on purpose
// (support/faulty_ring_backend): each fault is caught with a precise message on the first I/O
// check, and the same back-end without a fault passes it.
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

ExerciseResult exercise_against(test::RingFault fault, test::TempDir& dir) {
  const std::string sock = dir / "faulty.sock";
  test::FaultyRingBackend backend(sock, fault);
  ExerciseOptions o;
  o.backend_connect = sock;
  o.device = DeviceKind::Blk;
  o.queues = 1;
  o.queue_size = 16;
  o.queue_depth = 2;
  o.timeout = 1000ms;
  o.connect_timeout = 2000ms;
  ExerciseResult r = run_exercise(o);
  EXPECT_TRUE(r.ran) << r.error;
  return r;
}

TEST(ExerciseFaults, WellBehavedBackendPassesTheFirstChecks) {
  test::TempDir dir;
  const ExerciseResult r = exercise_against(test::RingFault::None, dir);
  for (const char* id : {"protocol.setup", "blk.get-id", "blk.read"}) {
    const CheckOutcome* c = find(r, id);
    ASSERT_NE(c, nullptr) << id;
    EXPECT_EQ(c->verdict, Verdict::Pass) << id << ": " << c->reason;
  }
  // No config space without the CONFIG protocol feature: named, not skipped.
  const CheckOutcome* last = find(r, "blk.last-sector");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->verdict, Verdict::Unsupported);
  EXPECT_NE(last->reason.find("CONFIG"), std::string::npos) << last->reason;
}

TEST(ExerciseFaults, DuplicateUsedEntryIsCaught) {
  test::TempDir dir;
  const ExerciseResult r = exercise_against(test::RingFault::DuplicateUsed, dir);
  // GET_ID completes; its second used entry is read on the next wait.
  const CheckOutcome* c = find(r, "blk.read");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  // The used idx depends on how far the back-end got with the read meanwhile.
  EXPECT_EQ(c->reason.rfind("queue 0: used id 0 was completed twice (a duplicate used entry) "
                            "(used ring slot 1, avail idx 2, used idx ",
                            0),
            0u)
      << c->reason;
}

TEST(ExerciseFaults, LengthBeyondTheWritableBytesIsCaught) {
  test::TempDir dir;
  const ExerciseResult r = exercise_against(test::RingFault::WrongLength, dir);
  const CheckOutcome* c = find(r, "blk.get-id");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  // GET_ID: a 20-byte id and the status byte are writable.
  EXPECT_EQ(c->reason,
            "queue 0: used id 0 len 121 is beyond the chain's 21 writable bytes (avail idx 1, "
            "used idx 1)");
}

TEST(ExerciseFaults, HeadNeverMadeAvailableIsCaught) {
  test::TempDir dir;
  const ExerciseResult r = exercise_against(test::RingFault::UnknownHead, dir);
  const CheckOutcome* c = find(r, "blk.get-id");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Fail);
  EXPECT_EQ(c->reason,
            "queue 0: used id 5 was not in flight (used ring slot 0, avail idx 1, used idx 1)");
}

}  // namespace
}  // namespace vhs::exercise
