// Durability of captures when the recorder dies: `kill -9` at random moments of a message flood.
// Every time, the capture must read (a record cut in half at the end is a warning, not an error),
// hold the relayed messages in order without gaps, and miss at most what the back-end received in
// the last flush interval (15 ms) before the kill, plus scheduling slack on a loaded machine.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The recorder flushes every 15 ms; a loaded 2-core CI machine may run that timer late.
constexpr milliseconds kAllowedLoss{15 + 135};

uint64_t value_of(const Bytes& message) {
  uint64_t v = 0;
  std::memcpy(&v, message.data() + kHeaderSize, sizeof v);
  return v;
}

TEST(Durability, KillNineDuringAFloodLosesAtMostTheLastFlushInterval) {
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<int> kill_after_ms(50, 400);
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    RecorderHarness h;
    ASSERT_TRUE(h.start()) << h.why;
    UniqueFd backend_listen = listen_on(h.backend_sock);
    ASSERT_TRUE(backend_listen);
    UniqueFd front = connect_to(h.frontend_sock, milliseconds(5000));
    ASSERT_TRUE(front);
    UniqueFd back = accept_from(backend_listen.get(), milliseconds(5000));
    ASSERT_TRUE(back);

    // The back-end notes when each message arrived (message i carries the value i).
    std::vector<Clock::time_point> arrived;
    arrived.reserve(1 << 20);
    std::thread reader([&] {
      ReceivedMessage m;
      while (recv_message(back.get(), m, milliseconds(5000)) == IoStatus::Ok) {
        if (value_of(m.bytes) != arrived.size()) break;  // out of order: checked below
        arrived.push_back(Clock::now());
      }
    });
    std::atomic<bool> stop{false};
    std::thread flood([&] {
      for (uint64_t i = 0; !stop.load(); ++i)
        if (send_message(front.get(), request("SET_FEATURES", u64_payload(i)), {},
                         milliseconds(2000)) != IoStatus::Ok)
          break;
    });
    std::this_thread::sleep_for(milliseconds(kill_after_ms(rng)));
    const Clock::time_point killed = Clock::now();
    h.proc->send_signal(SIGKILL);
    EXPECT_EQ(h.proc->wait_exit(milliseconds(5000)), 128 + SIGKILL);
    stop = true;
    flood.join();
    reader.join();

    const CaptureContents cap = read_capture(h.capture);
    ASSERT_TRUE(cap.opened) << cap.error;
    const auto recorded = cap.messages(Channel::Frontend, Direction::ToBackend);
    for (size_t i = 0; i < recorded.size(); ++i)
      ASSERT_EQ(value_of(recorded[i]->bytes), i) << "record " << i << ": gap or reordering";
    // Everything the back-end had received well before the kill is in the capture.
    size_t due = 0;
    while (due < arrived.size() && arrived[due] < killed - kAllowedLoss) ++due;
    EXPECT_GE(recorded.size(), due)
        << arrived.size() << " messages relayed, " << recorded.size() << " recorded";
    EXPECT_GT(recorded.size(), 0u);
    // For the record (ctest --output-junit): how long before the kill the back-end received the
    // last message the capture holds (0 or less: nothing relayed was lost).
    if (!recorded.empty() && recorded.size() <= arrived.size()) {
      const auto lost_window =
          std::chrono::duration_cast<milliseconds>(killed - arrived[recorded.size() - 1]);
      RecordProperty("lost_window_ms_round_" + std::to_string(round),
                     static_cast<int>(lost_window.count()));
    }
  }
}

}  // namespace
}  // namespace vhs::test
