// Ready-made peer scripts (see vhost_scenarios.hpp).
#include "support/vhost_scenarios.hpp"

#include <string>

#include "support/message_builder.hpp"

namespace vhs::test {

Scenario realistic_startup(const StartupOptions& o) {
  Scenario s;
  auto& f = s.frontend;
  const bool ack = true;  // REPLY_ACK negotiated: QEMU asks for acks where it can

  f.push_back(FrontendStep::send(request("GET_FEATURES")));
  f.push_back(FrontendStep::send(request("GET_PROTOCOL_FEATURES")));
  f.push_back(
      FrontendStep::send(request("SET_PROTOCOL_FEATURES", u64_payload(kScenarioProtocolFeatures))));
  f.push_back(FrontendStep::send(request("GET_QUEUE_NUM")));
  f.push_back(
      FrontendStep::send(request("SET_BACKEND_REQ_FD", {}, ack), {FdSpec::backend_channel()}));
  f.push_back(FrontendStep::send(request("SET_OWNER")));
  f.push_back(FrontendStep::send(request("SET_FEATURES", u64_payload(kScenarioFeatures))));

  const Region regions[] = {
      {0x0, kScenarioRegionSize, 0x7f0000000000, 0},
      {0x100000000, kScenarioRegionSize, 0x7f1000000000, 0},
  };
  f.push_back(FrontendStep::send(request("SET_MEM_TABLE", mem_table(regions), ack),
                                 {FdSpec::memfd("guest-ram0", kScenarioRegionSize),
                                  FdSpec::memfd("guest-ram1", kScenarioRegionSize)}));

  for (int q = 0; q < o.queues; ++q) {
    auto idx = static_cast<uint32_t>(q);
    uint64_t base = 0x1000 + 0x10000 * static_cast<uint64_t>(q);
    f.push_back(FrontendStep::send(request("SET_VRING_NUM", vring_state(idx, 256), ack)));
    f.push_back(FrontendStep::send(request("SET_VRING_BASE", vring_state(idx, 0), ack)));
    f.push_back(
        FrontendStep::send(request("SET_VRING_ADDR",
                                   vring_addr(idx, 0, 0x7f0000000000 + base, 0x7f0000002000 + base,
                                              0x7f0000001000 + base, base + 0x2000),
                                   ack)));
    f.push_back(
        FrontendStep::send(request("SET_VRING_KICK", vring_index_fd(static_cast<uint8_t>(q)), ack),
                           {FdSpec::eventfd()}));
    f.push_back(
        FrontendStep::send(request("SET_VRING_CALL", vring_index_fd(static_cast<uint8_t>(q)), ack),
                           {FdSpec::eventfd()}));
    f.push_back(FrontendStep::send(request("SET_VRING_ENABLE", vring_state(idx, 1), ack)));
  }

  if (o.unanswered_get_vring_base) {
    f.push_back(FrontendStep::send_no_wait(request("GET_VRING_BASE", vring_state(0, 0))));
    s.backend.unanswered.insert("GET_VRING_BASE");
  } else {
    for (int q = 0; q < o.queues; ++q)
      f.push_back(
          FrontendStep::send(request("GET_VRING_BASE", vring_state(static_cast<uint32_t>(q), 0))));
  }
  if (o.close_at_end) f.push_back(FrontendStep::close());

  s.backend.reply_values = {
      {"GET_FEATURES", kScenarioFeatures},
      {"GET_PROTOCOL_FEATURES", kScenarioProtocolFeatures},
      {"GET_QUEUE_NUM", static_cast<uint64_t>(o.queues)},
      {"GET_VRING_BASE", kScenarioVringBase},
  };
  BackendAction config_change;
  config_change.after = "SET_VRING_ENABLE";
  config_change.occurrence = o.queues;
  config_change.kind = BackendAction::Kind::BackendRequest;
  config_change.bytes = request("BACKEND_CONFIG_CHANGE_MSG", {}, true);
  s.backend.actions.push_back(config_change);
  return s;
}

}  // namespace vhs::test
