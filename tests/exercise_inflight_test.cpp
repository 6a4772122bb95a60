// INFLIGHT_SHMFD in the exercise engine (spec "Inflight I/O tracking") against the scripted
// back-end of support/faulty_ring_backend: a good GET_INFLIGHT_FD reply is given back with
// SET_INFLIGHT_FD (the same memfd, the counts asked for) before the rings start; mmap_size 0 means
// no tracking and no SET_INFLIGHT_FD; hostile replies (no fd, a size that does not hold the rings,
// an fd smaller than announced, an offset mmap cannot take) fail protocol.setup with the reason
// and never take the engine down. Without --backend-command the crash scenario says what it
// needs instead of being skipped.
#include <algorithm>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "proxy/exercise/engine.hpp"
#include "proxy/exercise/split_driver.hpp"
#include "support/faulty_ring_backend.hpp"
#include "support/temp_dir.hpp"

namespace vhs::exercise {
namespace {

using namespace std::chrono_literals;
using test::InflightReply;

const CheckOutcome* find(const ExerciseResult& r, const std::string& id) {
  for (const CheckOutcome& c : r.checks)
    if (c.id == id) return &c;
  return nullptr;
}

struct InflightRun {
  ExerciseResult result;
  std::vector<test::SeenInflight> set;
  std::vector<uint32_t> requests;
  uint16_t asked_queues = 0, asked_size = 0;
};

InflightRun exercise_with(InflightReply reply, std::vector<std::string> scenarios = {}) {
  test::TempDir dir;
  const std::string sock = dir / "inflight.sock";
  InflightRun run;
  test::FaultyRingBackend backend(sock, test::RingFault::None, 5000ms, reply);
  ExerciseOptions o;
  o.backend_connect = sock;
  o.device = DeviceKind::Blk;
  o.queues = 1;
  o.queue_size = 16;
  o.timeout = 1000ms;
  o.connect_timeout = 2000ms;
  o.run_workload = false;
  o.scenarios = std::move(scenarios);
  run.result = run_exercise(o);
  EXPECT_TRUE(run.result.ran) << run.result.error;
  backend.join();  // what the back-end saw is final
  run.set = backend.set_inflight();
  run.requests = backend.requests();
  run.asked_queues = backend.asked_queues();
  run.asked_size = backend.asked_queue_size();
  return run;
}

TEST(ExerciseInflight, GoodBufferIsGivenBackBeforeTheRings) {
  const InflightRun run = exercise_with(InflightReply::Good);
  const CheckOutcome* setup = find(run.result, "protocol.setup");
  ASSERT_NE(setup, nullptr);
  ASSERT_EQ(setup->verdict, Verdict::Pass) << setup->reason;
  EXPECT_TRUE(has_feature(run.result.acked_protocol_features, ProtocolFeature::INFLIGHT_SHMFD));
  // GET_INFLIGHT_FD asked for the queues and their size; SET_INFLIGHT_FD gave the same memfd back
  // with the size the back-end announced and the same counts.
  EXPECT_EQ(run.asked_queues, 1u);
  EXPECT_EQ(run.asked_size, 16u);
  ASSERT_EQ(run.set.size(), 1u);
  EXPECT_TRUE(run.set[0].fd_is_ours);
  EXPECT_EQ(run.set[0].mmap_size, 16u + 16u * 16u);
  EXPECT_EQ(run.set[0].mmap_offset, 0u);
  EXPECT_EQ(run.set[0].num_queues, 1u);
  EXPECT_EQ(run.set[0].queue_size, 16u);
}

TEST(ExerciseInflight, NotOfferedMeansNeitherMessage) {
  const InflightRun run = exercise_with(InflightReply::NotOffered);
  EXPECT_EQ(run.asked_queues, 0u);
  EXPECT_TRUE(run.set.empty());
  EXPECT_FALSE(has_feature(run.result.acked_protocol_features, ProtocolFeature::INFLIGHT_SHMFD));
}

TEST(ExerciseInflight, DeclinedBufferMeansNoSetInflightFd) {
  const InflightRun run = exercise_with(InflightReply::Declined);
  const CheckOutcome* setup = find(run.result, "protocol.setup");
  ASSERT_NE(setup, nullptr);
  EXPECT_EQ(setup->verdict, Verdict::Pass) << setup->reason;
  EXPECT_EQ(run.asked_queues, 1u);
  EXPECT_TRUE(run.set.empty());
}

// A reset starts the rings over, so the old buffer describes nothing: a new one is asked for
// (QEMU frees it on a device reset too) and given to the back-end before the rings.
TEST(ExerciseInflight, ResetAsksForANewBuffer) {
  const InflightRun run = exercise_with(InflightReply::Good, {"reset"});
  const CheckOutcome* c = find(run.result, "lifecycle.reset");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Pass) << c->reason;
  EXPECT_EQ(std::count(run.requests.begin(), run.requests.end(), 31u), 2);
  ASSERT_EQ(run.set.size(), 2u);
  EXPECT_TRUE(run.set[0].fd_is_ours);
  EXPECT_TRUE(run.set[1].fd_is_ours);
}

void expect_setup_fails(InflightReply reply, const std::string& words) {
  const InflightRun run = exercise_with(reply);
  const CheckOutcome* setup = find(run.result, "protocol.setup");
  ASSERT_NE(setup, nullptr);
  EXPECT_EQ(setup->verdict, Verdict::Fail);
  EXPECT_NE(setup->reason.find("GET_INFLIGHT_FD reply"), std::string::npos) << setup->reason;
  EXPECT_NE(setup->reason.find(words), std::string::npos) << setup->reason;
}

TEST(ExerciseInflight, ReplyWithoutFdFailsTheSetUp) {
  expect_setup_fails(InflightReply::NoFd, "with 0 fds");
}
TEST(ExerciseInflight, SizeThatDoesNotHoldTheRingsFailsTheSetUp) {
  expect_setup_fails(InflightReply::TooSmall, "does not hold 1 queue regions of 16 descriptors");
}
TEST(ExerciseInflight, FdSmallerThanAnnouncedFailsTheSetUp) {
  expect_setup_fails(InflightReply::FdShort, "the fd holds 136 bytes");
}
TEST(ExerciseInflight, OffsetMmapCannotTakeFailsTheSetUp) {
  expect_setup_fails(InflightReply::OddOffset, "mmap_offset 0x64 cannot be mapped");
}

TEST(ExerciseInflight, CrashScenarioWithoutBackendCommandIsUnsupported) {
  const InflightRun run = exercise_with(InflightReply::Good, {"backend-crash"});
  const CheckOutcome* c = find(run.result, "lifecycle.backend-crash");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::Unsupported);
  EXPECT_NE(c->reason.find("needs --backend-command"), std::string::npos) << c->reason;
}

// The resume path of lifecycle.backend-crash, step by step against scripted back-ends: the first
// completes one chain, takes three more and marks them in its inflight buffer, then goes away with
// them; the second, on the same socket, gets SET_INFLIGHT_FD with that buffer before the memory
// table and the rings, and SET_VRING_BASE = the used index (1, not the avail index 4); it
// resubmits the three, and each completes exactly once; then I/O goes on.
TEST(ExerciseInflight, ResumeAfterCrashGivesTheBufferBackAndEveryChainCompletesOnce) {
  test::TempDir dir;
  const std::string sock = dir / "inflight.sock";
  auto first = std::make_unique<test::FaultyRingBackend>(sock, test::RingFault::Hold, 5000ms,
                                                         InflightReply::Good);
  ExerciseOptions o;
  o.backend_connect = sock;
  o.queues = 1;
  o.queue_size = 16;
  o.timeout = 1000ms;
  o.connect_timeout = 2000ms;
  o.run_workload = false;
  Engine e(o);
  std::string error;
  ASSERT_TRUE(e.connect(error)) << error;
  const auto setup = e.set_up();
  ASSERT_TRUE(setup) << setup.error;
  ASSERT_NE(e.inflight(), nullptr);
  const ChainRequest read{{std::vector<uint8_t>(16, 0)}, {512, 1}};
  auto done_first = e.driver().transact(0, std::span<const ChainRequest>(&read, 1), 1000ms);
  ASSERT_TRUE(done_first) << done_first.error;
  const std::vector<ChainRequest> held(3, read);
  ASSERT_TRUE(e.driver().post(0, held));
  size_t marked = 0;
  for (int i = 0; i < 200 && marked < 3; ++i) {
    auto heads = inflight_marked_heads(*e.inflight());
    ASSERT_TRUE(heads) << heads.error;
    marked = heads.value->empty() ? 0 : heads.value->front().size();
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(marked, 3u);

  first.reset();  // the crash: its socket closes with three chains taken
  e.link().disconnect("test: the back-end went away");
  test::FaultyRingBackend second(sock, test::RingFault::None, 5000ms, InflightReply::Good);
  ASSERT_TRUE(e.connect(error)) << error;
  const auto resumed = e.resume_after_crash();
  ASSERT_TRUE(resumed) << resumed.error;
  auto done = e.driver().wait_used(0, 3, 1000ms);
  ASSERT_TRUE(done) << done.error;
  EXPECT_EQ(e.driver().in_flight(0), 0u);
  // Nothing more in the used ring: a second completion of a chain would be there.
  auto& split = dynamic_cast<SplitDriver&>(e.driver());
  EXPECT_EQ(split.used_idx_in_ring(0), split.last_used(0));
  auto after = e.driver().transact(0, std::span<const ChainRequest>(&read, 1), 1000ms);
  ASSERT_TRUE(after) << after.error;
  e.link().disconnect("test: done");
  second.join();

  EXPECT_EQ(second.resubmitted(), 3u);
  EXPECT_EQ(second.vring_base(), 1u);
  ASSERT_EQ(second.set_inflight().size(), 1u);
  EXPECT_EQ(second.set_inflight()[0].mmap_size, 16u + 16u * 16u);
  EXPECT_EQ(second.set_inflight()[0].num_queues, 1u);
  EXPECT_EQ(second.set_inflight()[0].queue_size, 16u);
  // The buffer is kept: no GET_INFLIGHT_FD; SET_INFLIGHT_FD (32) before SET_MEM_TABLE (5) and
  // SET_VRING_KICK (12).
  const std::vector<uint32_t>& r = second.requests();
  EXPECT_EQ(std::count(r.begin(), r.end(), 31u), 0);
  const auto at = [&](uint32_t request) { return std::find(r.begin(), r.end(), request); };
  ASSERT_NE(at(32), r.end());
  EXPECT_LT(at(32), at(5));
  EXPECT_LT(at(32), at(12));
}

}  // namespace
}  // namespace vhs::exercise
