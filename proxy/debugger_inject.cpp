// Fault injection inside the relay (see inject_policy.hpp). Only ever applied when the user set an
// injection by name; every message it touches is recorded with kRecordInjected: a dropped request
// and a withheld reply also carry kRecordNotRelayed, a replacement reply and a delayed request are
// recorded as they go out. A delayed message waits in its flow like a held one (source unread,
// nothing reordered) until the delay timer sends it.
#include "proxy/debugger_part.hpp"

namespace vhs {

bool DebuggerPart::before_record(RelayFlow& flow, uint16_t& flags) {
  if (injects_.empty()) return false;
  const Header& h = flow.reader().header();
  if (const Injection* in = injects_.for_request(flow.channel(), h)) {
    if (in->action == InjectAction::Delay) {
      flags |= kRecordInjected;
      flow.pending_delay = in->delay;
      return false;
    }
    fill_record(flow, relay_.session(), kRecordNotRelayed | kRecordInjected);
    relay_.note_dropped();
    relay_.emit(flow.record());
    relay_.log(LogLevel::Info, "session " + std::to_string(relay_.session()) + ": injected drop: " +
                                   describe_message(flow) + ", not relayed (" +
                                   std::to_string(flow.reader().fds().size()) + " fds closed)");
    flow.reader().next();  // closes its fds; what follows is relayed as usual
    return true;
  }
  if (const Injection* in = injects_.for_reply(flow.channel(), h)) {
    fill_record(flow, relay_.session(), kRecordNotRelayed | kRecordInjected);
    relay_.emit(flow.record());
    relay_.log(LogLevel::Info, "session " + std::to_string(relay_.session()) +
                                   ": injected reply: " + describe_message(flow) +
                                   " withheld, sending the injected one (" +
                                   std::to_string(in->reply.size()) + " bytes)");
    flow.reader().replace(in->reply);
    flags |= kRecordInjected;
  }
  return false;
}

bool DebuggerPart::delay(RelayFlow& flow) {
  if (flow.pending_delay.count() == 0) return false;
  flow.delayed_until = Clock::now() + flow.pending_delay;
  relay_.log(LogLevel::Info, "session " + std::to_string(relay_.session()) +
                                 ": injected delay: " + describe_message(flow) + " goes in " +
                                 std::to_string(flow.pending_delay.count()) + " ms");
  flow.pending_delay = std::chrono::milliseconds(0);
  flow.set_held(true, relay_.next_hold_order());
  relay_.refresh_interest(flow);
  arm_delay_timer();
  return true;
}

void DebuggerPart::on_ready(uint64_t) {
  delay_timer_.read_expirations();
  const auto now = Clock::now();
  const uint64_t generation = relay_.generation();
  for (RelayFlow* f : relay_.flows()) {
    if (generation != relay_.generation()) break;  // a failed send ended the session
    if (!f->held() || f->delayed_until == Clock::time_point{} || f->delayed_until > now) continue;
    f->delayed_until = {};
    f->set_held(false);
    relay_.send_on(*f);
  }
  arm_delay_timer();
  update_armed();
}

void DebuggerPart::arm_delay_timer() {
  Clock::time_point next{};
  for (const RelayFlow* f : relay_.flows())
    if (waits_for_delay(*f) && (next == Clock::time_point{} || f->delayed_until < next))
      next = f->delayed_until;
  if (next == Clock::time_point{})
    delay_timer_.disarm();
  else
    delay_timer_.arm_after(next - Clock::now());
}

}  // namespace vhs
