// Ready-made peer scripts: a realistic front-end startup (QEMU's order, spec 7.2/7.3) and the
// matching back-end behaviour, for end-to-end and replay tests.
#pragma once

#include <vector>

#include "support/scripted_backend.hpp"
#include "support/scripted_frontend.hpp"

namespace vhs::test {

struct StartupOptions {
  int queues = 2;
  // The back-end never answers GET_VRING_BASE; the front-end sends it without waiting and then
  // closes (what a hung back-end looks like in a capture).
  bool unanswered_get_vring_base = false;
  bool close_at_end = true;
};

struct Scenario {
  std::vector<FrontendStep> frontend;
  BackendOptions backend;  // path/listen/sessions still to be filled in
};

// GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_BACKEND_REQ_FD
// (socketpair, NEED_REPLY), SET_OWNER, SET_FEATURES, SET_MEM_TABLE (2 memfd regions, NEED_REPLY),
// per queue SET_VRING_NUM/BASE/ADDR/KICK(eventfd)/CALL(eventfd)/ENABLE (all NEED_REPLY); before
// acking the last SET_VRING_ENABLE the back-end sends BACKEND_CONFIG_CHANGE_MSG with NEED_REPLY on
// the back-end channel; then GET_VRING_BASE per queue; then close.
Scenario realistic_startup(const StartupOptions& options = {});

// Values the scripted back-end reports.
inline constexpr uint64_t kScenarioFeatures =
    (1ull << 32) | (1ull << 30) | (1ull << 29);  // VERSION_1|PROTOCOL_FEATURES|EVENT_IDX
inline constexpr uint64_t kScenarioProtocolFeatures =
    (1ull << 0) | (1ull << 3) | (1ull << 5) | (1ull << 9) |
    (1ull << 10);  // MQ|REPLY_ACK|BACKEND_REQ|CONFIG|BACKEND_SEND_FD
inline constexpr uint64_t kScenarioVringBase = 7;
inline constexpr uint64_t kScenarioRegionSize = 1 << 20;

}  // namespace vhs::test
