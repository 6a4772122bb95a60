// The relay as a library, the way the GUI runs it: in-process on its own thread, several sinks,
// a flush hook, stop() from another thread, stats, and creation errors.
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "proxy/relay.hpp"
#include "support/message_builder.hpp"
#include "support/scripted_backend.hpp"
#include "support/scripted_frontend.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class CollectSink : public RecordSink {
 public:
  void on_record(const Record& r) override {
    std::lock_guard lock(mutex_);
    records_.push_back(r);
  }
  std::vector<Record> records() const {
    std::lock_guard lock(mutex_);
    return records_;
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return records_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Record> records_;
};

// Runs relay->run() on a thread; join_within() bounds the wait (a hung relay aborts the test
// binary instead of hanging the suite).
class RelayThread {
 public:
  explicit RelayThread(Relay& relay)
      : thread_([this, &relay] {
          rc_ = relay.run();
          done_ = true;
        }) {}
  ~RelayThread() {
    if (thread_.joinable()) join_within(milliseconds(5000));
  }
  int join_within(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!done_) {
      if (Clock::now() > deadline) {
        ADD_FAILURE() << "relay did not stop";
        std::abort();
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
    thread_.join();
    return rc_;
  }

 private:
  std::atomic<bool> done_{false};
  int rc_ = -1;
  std::thread thread_;
};

bool wait_until(const std::function<bool()>& pred, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

TEST(RelayLibrary, TwoSinksFlushHookStatsAndStopFromAnotherThread) {
  TempDir dir;
  BackendOptions bo;
  bo.path = dir / "be.sock";
  bo.reply_values = {{"GET_FEATURES", 42}};
  ScriptedBackend backend(bo);
  backend.start();

  std::mutex log_mutex;
  std::vector<std::string> log;
  RelayOptions o;
  o.frontend = {EndpointMode::Listen, dir / "fe.sock"};
  o.backend = {EndpointMode::Connect, dir / "be.sock"};
  o.log = [&](LogLevel, std::string_view text) {
    std::lock_guard lock(log_mutex);
    log.emplace_back(text);
  };
  std::string error;
  auto relay = Relay::create(o, error);
  ASSERT_TRUE(relay) << error;
  CollectSink file_like, live;
  std::atomic<int> flushes{0};
  relay->add_sink(&file_like, [&] { ++flushes; });
  relay->add_sink(&live);
  RelayThread thread(*relay);

  FrontendOptions fo;
  fo.path = dir / "fe.sock";
  ScriptedFrontend frontend(fo);
  frontend.start({FrontendStep::send(request("GET_FEATURES")),
                  FrontendStep::send(request("SET_OWNER")), FrontendStep::expect_closed()});
  // Connect + GET_FEATURES + reply + SET_OWNER
  ASSERT_TRUE(wait_until([&] { return live.size() >= 4; }, milliseconds(5000)));
  EXPECT_TRUE(wait_until([&] { return flushes > 0; }, milliseconds(2000)))
      << "the flush timer runs while idle";
  relay->stop();
  EXPECT_EQ(thread.join_within(milliseconds(5000)), 0);
  frontend.join();
  backend.join();
  EXPECT_TRUE(frontend.closed_by_peer());
  EXPECT_EQ(frontend.steps_done(), 3u);
  EXPECT_EQ(backend.sessions_ended_by_eof(), 1);

  auto a = file_like.records(), b = live.records();
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].kind, b[i].kind);
    EXPECT_EQ(a[i].bytes, b[i].bytes);
    EXPECT_EQ(a[i].timestamp_ns, b[i].timestamp_ns);
  }
  EXPECT_EQ(a[0].kind, RecordKind::Connect);
  EXPECT_EQ(a[1].bytes, request("GET_FEATURES"));
  EXPECT_EQ(a[2].bytes, reply("GET_FEATURES", u64_payload(42)));
  EXPECT_EQ(a[4].kind, RecordKind::Disconnect);
  EXPECT_EQ(a[4].flags, kRecordClosedByProxy);
  EXPECT_EQ(a[4].text(), "recorder stopped; proxy closed both sides");

  RelayStats s = relay->stats();
  EXPECT_EQ(s.sessions, 1u);
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.bytes, 12u + 20u + 12u);
  EXPECT_EQ(s.errors, 0u);

  struct stat st;
  EXPECT_NE(lstat((dir / "fe.sock").c_str(), &st), 0)
      << "listening socket removed when run() returns";
  std::lock_guard lock(log_mutex);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back(), "session 1 ended: recorder stopped; proxy closed both sides");
}

TEST(RelayLibrary, StopBeforeRunReturnsAtOnce) {
  TempDir dir;
  RelayOptions o;
  o.frontend = {EndpointMode::Listen, dir / "fe.sock"};
  o.backend = {EndpointMode::Connect, dir / "be.sock"};
  std::string error;
  auto relay = Relay::create(o, error);
  ASSERT_TRUE(relay) << error;
  CollectSink sink;
  relay->add_sink(&sink);
  relay->stop();
  RelayThread thread(*relay);
  EXPECT_EQ(thread.join_within(milliseconds(5000)), 0);
  EXPECT_EQ(sink.size(), 0u);
}

TEST(RelayLibrary, CreationErrorsSayWhatIsWrong) {
  TempDir dir;
  std::string error;
  RelayOptions same;
  same.frontend = {EndpointMode::Listen, dir / "x.sock"};
  same.backend = {EndpointMode::Listen, dir / "x.sock"};
  EXPECT_EQ(Relay::create(same, error), nullptr);
  EXPECT_EQ(error, "the front-end and back-end socket paths must differ");

  RelayOptions empty;
  EXPECT_EQ(Relay::create(empty, error), nullptr);
  EXPECT_EQ(error, "both a front-end and a back-end socket path are needed");

  RelayOptions too_long;
  too_long.frontend = {EndpointMode::Listen, dir / std::string(120, 'a')};
  too_long.backend = {EndpointMode::Connect, dir / "be.sock"};
  EXPECT_EQ(Relay::create(too_long, error), nullptr);
  EXPECT_NE(error.find("longer than 107 bytes"), std::string::npos) << error;
}

TEST(RelayLibrary, ConnectingToAFrontendThatNeverListensGivesUp) {
  TempDir dir;
  std::vector<std::string> log;
  RelayOptions o;
  o.frontend = {EndpointMode::Connect, dir / "qemu.sock"};
  o.backend = {EndpointMode::Connect, dir / "be.sock"};
  o.connect_timeout = milliseconds(200);
  o.log = [&](LogLevel level, std::string_view text) {
    if (level == LogLevel::Error) log.emplace_back(text);
  };
  std::string error;
  auto relay = Relay::create(o, error);
  ASSERT_TRUE(relay) << error;
  RelayThread thread(*relay);
  EXPECT_EQ(thread.join_within(milliseconds(5000)), 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0], "cannot connect to front-end '" + (dir / "qemu.sock") +
                        "': No such file or directory (gave up after 0.2 s)");
}

}  // namespace
}  // namespace vhs::test
