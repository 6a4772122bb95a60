// The GUI's step-bar view-model (app/common/step_controls) against a real relay running
// in-process on its own thread, the way the GUI runs it: status parsed from the relay's answers,
// button states follow what is held, the selected message names the breakpoint, commands reach
// the relay and release messages byte-exact.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "app/common/step_controls.hpp"
#include "captures/model/store.hpp"
#include "proxy/relay.hpp"
#include "support/message_builder.hpp"
#include "support/temp_dir.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

constexpr Millis kLong{5000};
constexpr Millis kShort{300};

TEST(StepControls, ParsesStatusAnswers) {
  view::DebugStatus st;
  std::string error;
  ASSERT_TRUE(view::parse_debug_status(
      "held: session 1, front-end channel, front-end to back-end, SET_VRING_KICK, 20 bytes, 1 fds\n"
      "held: session 1, back-end channel, back-end to front-end, IOTLB_MSG, 80 bytes, 0 fds, "
      "finding size-mismatch: x\n"
      "breakpoints: SET_VRING_KICK error\ninjections: drop:SET_OWNER\n\n",
      st, error))
      << error;
  ASSERT_EQ(st.held.size(), 2u);
  EXPECT_EQ(st.held[0],
            "session 1, front-end channel, front-end to back-end, SET_VRING_KICK, 20 bytes, 1 fds");
  EXPECT_EQ(st.breakpoints, (std::vector<std::string>{"SET_VRING_KICK", "error"}));
  EXPECT_EQ(st.injections, (std::vector<std::string>{"drop:SET_OWNER"}));

  ASSERT_TRUE(view::parse_debug_status("held: none\nbreakpoints: none\n\n", st, error));
  EXPECT_TRUE(st.held.empty());
  EXPECT_TRUE(st.breakpoints.empty());
  EXPECT_FALSE(view::parse_debug_status("error: the relay is not running\n", st, error));
  EXPECT_EQ(error, "the relay is not running");
  EXPECT_FALSE(view::parse_debug_status("ok\n", st, error));
  EXPECT_EQ(error, "not a status answer");
}

struct LiveRelay {
  TempDir dir;
  std::unique_ptr<Relay> relay;
  RecordQueue queue;
  Store store;
  std::thread thread;
  UniqueFd be_listen, fe, be;

  bool start(std::vector<std::string> breaks) {
    be_listen = listen_on(dir / "be.sock");
    RelayOptions o;
    o.frontend = {EndpointMode::Listen, dir / "fe.sock"};
    o.backend = {EndpointMode::Connect, dir / "be.sock"};
    o.breaks = std::move(breaks);
    std::string error;
    relay = Relay::create(o, error);
    if (!relay) {
      ADD_FAILURE() << error;
      return false;
    }
    relay->add_sink(&queue);
    thread = std::thread([this] { relay->run(); });
    fe = connect_to(dir / "fe.sock", kLong);
    if (fe) be = accept_from(be_listen.get(), kLong);
    return fe && be;
  }
  ~LiveRelay() {
    if (thread.joinable()) {
      relay->stop();
      thread.join();
    }
  }
  // Records the relay delivered so far (the GUI drains its queue the same way each frame).
  void drain() { queue.drain(store); }
};

TEST(StepControls, DriveARealRelayFromTheSelectedMessage) {
  LiveRelay live;
  ASSERT_TRUE(live.start({"SET_VRING_KICK"}));
  auto send = [&](std::string_view line) { return live.relay->debug_command(line); };
  view::StepControls controls;
  uint64_t now = 1000;

  Bytes num = request("SET_VRING_NUM", vring_state(0, 256));
  Bytes kick = request("SET_VRING_KICK", vring_index_fd(0));
  UniqueFd kick_fd = make_eventfd();
  ASSERT_EQ(send_message(live.fe.get(), num), IoStatus::Ok);
  ReceivedMessage m;
  ASSERT_EQ(recv_message(live.be.get(), m, kLong), IoStatus::Ok);
  ASSERT_EQ(send_message(live.fe.get(), kick, std::vector<int>{kick_fd.get()}), IoStatus::Ok);
  EXPECT_EQ(recv_message(live.be.get(), m, kShort), IoStatus::Timeout);

  // Held: the status says so, Step is enabled, the kick's breakpoint is listed.
  controls.refresh(send, now);
  ASSERT_EQ(controls.status().held.size(), 1u) << controls.status_error();
  EXPECT_NE(controls.status().held[0].find("SET_VRING_KICK, 20 bytes, 1 fds"), std::string::npos);
  EXPECT_TRUE(controls.can_step());
  EXPECT_TRUE(controls.has_break("SET_VRING_KICK"));

  // The selected SET_VRING_NUM names the breakpoint F9 would set.
  live.drain();
  uint32_t num_entry = UINT32_MAX;
  for (uint32_t i = 0; i < live.store.size(); ++i)
    if (live.store.entry(i).is_message() &&
        live.store.entry(i).header.request == request_number("SET_VRING_NUM"))
      num_entry = i;
  ASSERT_NE(num_entry, UINT32_MAX);
  EXPECT_EQ(view::break_target(live.store, num_entry), "SET_VRING_NUM");
  EXPECT_EQ(view::break_target(live.store, 0), "");  // the Connect record
  // The held kick is the newest front-end message: the timeline draws what it implies as pending.
  uint32_t kick_entry = UINT32_MAX;
  for (uint32_t i = 0; i < live.store.size(); ++i)
    if (live.store.entry(i).is_message() &&
        live.store.entry(i).header.request == request_number("SET_VRING_KICK"))
      kick_entry = i;
  ASSERT_NE(kick_entry, UINT32_MAX);
  EXPECT_EQ(view::held_message_entries(live.store, controls.status()),
            (std::vector<uint32_t>{kick_entry}));
  EXPECT_TRUE(controls.can_add_break("SET_VRING_NUM"));
  EXPECT_TRUE(controls.add_break(send, "SET_VRING_NUM"));
  EXPECT_EQ(controls.last_answer(), "ok");
  controls.refresh(send, now);  // forced by the action, even without time passing
  EXPECT_EQ(controls.status().breakpoints,
            (std::vector<std::string>{"SET_VRING_KICK", "SET_VRING_NUM"}));
  EXPECT_FALSE(controls.can_add_break("SET_VRING_NUM"));

  // Step releases the kick byte-exact with its eventfd; nothing is held any more.
  EXPECT_TRUE(controls.step(send));
  ASSERT_EQ(recv_message(live.be.get(), m, kLong), IoStatus::Ok);
  EXPECT_EQ(m.bytes, kick);
  ASSERT_EQ(m.fds.size(), 1u);
  EXPECT_EQ(identify(m.fds[0].get()), identify(kick_fd.get()));
  controls.refresh(send, now);
  EXPECT_TRUE(controls.status().held.empty());
  EXPECT_TRUE(view::held_message_entries(live.store, controls.status()).empty());
  EXPECT_FALSE(controls.can_step());
  EXPECT_FALSE(controls.step(send));
  EXPECT_EQ(controls.last_answer(), "nothing is held");

  // Delete both breakpoints, continue: messages flow again.
  EXPECT_TRUE(controls.delete_break(send, "SET_VRING_NUM"));
  EXPECT_TRUE(controls.delete_break(send, "SET_VRING_KICK"));
  EXPECT_TRUE(controls.resume(send));
  controls.refresh(send, now);
  EXPECT_TRUE(controls.status().breakpoints.empty());
  ASSERT_EQ(send_message(live.fe.get(), num), IoStatus::Ok);
  ASSERT_EQ(recv_message(live.be.get(), m, kLong), IoStatus::Ok);
  EXPECT_EQ(m.bytes, num);

  // Polling is throttled: no new status before the interval has passed.
  EXPECT_TRUE(controls.add_break(send, "any"));
  controls.refresh(send, now);
  EXPECT_EQ(controls.status().breakpoints, (std::vector<std::string>{"any"}));
  EXPECT_EQ(send("delete any"), "ok\n");
  controls.refresh(send, now + 100);
  EXPECT_EQ(controls.status().breakpoints, (std::vector<std::string>{"any"}))
      << "polled before the interval";
  controls.refresh(send, now + 300);
  EXPECT_TRUE(controls.status().breakpoints.empty());
}

}  // namespace
}  // namespace vhs::test
