// Fault injection inside the relay (see inject_policy.hpp). Only ever applied when the user set an
// injection by name; every message it touches is recorded with kRecordInjected: a dropped request
// and a withheld reply also carry kRecordNotRelayed, a replacement reply and a delayed request are
// recorded as they go out. A delayed message waits in its flow like a held one (source unread,
// nothing reordered) until the delay timer sends it.
#include <sys/timerfd.h>

#include <array>

#include "proxy/relay_impl.hpp"

namespace vhs {

bool Relay::Impl::inject_message(RelayFlow& flow, uint16_t& flags) {
  if (injects.empty()) return false;
  const Header& h = flow.reader().header();
  if (const Injection* in = injects.for_request(flow.channel(), h)) {
    if (in->action == InjectAction::Delay) {
      flags |= kRecordInjected;
      flow.pending_delay = in->delay;
      return false;
    }
    fill_record(flow, session, kRecordNotRelayed | kRecordInjected);
    stat_messages.fetch_add(1, std::memory_order_relaxed);
    emit(flow.record());
    log(LogLevel::Info, "session " + std::to_string(session) +
                            ": injected drop: " + describe_message(flow) + ", not relayed (" +
                            std::to_string(flow.reader().fds().size()) + " fds closed)");
    flow.reader().next();  // closes its fds; what follows is relayed as usual (relay_buffered)
    return true;
  }
  if (const Injection* in = injects.for_reply(flow.channel(), h)) {
    fill_record(flow, session, kRecordNotRelayed | kRecordInjected);
    emit(flow.record());
    log(LogLevel::Info,
        "session " + std::to_string(session) + ": injected reply: " + describe_message(flow) +
            " withheld, sending the injected one (" + std::to_string(in->reply.size()) + " bytes)");
    flow.reader().replace(in->reply);
    flags |= kRecordInjected;
  }
  return false;
}

bool Relay::Impl::delay_message(RelayFlow& flow) {
  if (flow.pending_delay.count() == 0) return false;
  flow.delayed_until = Clock::now() + flow.pending_delay;
  log(LogLevel::Info, "session " + std::to_string(session) +
                          ": injected delay: " + describe_message(flow) + " goes in " +
                          std::to_string(flow.pending_delay.count()) + " ms");
  flow.pending_delay = std::chrono::milliseconds(0);
  flow.set_held(true, ++hold_counter);
  update_interest(flow.src());
  update_interest(flow.dst());
  arm_delay_timer();
  return true;
}

void Relay::Impl::on_delay_timer() {
  const auto now = Clock::now();
  const uint64_t gen = generation;
  for (RelayFlow* f : {&to_back, &to_front, &chan_to_back, &chan_to_front}) {
    if (gen != generation) break;  // a failed send ended the session
    if (!f->held() || f->delayed_until == Clock::time_point{} || f->delayed_until > now) continue;
    f->delayed_until = {};
    f->set_held(false);
    push(*f);
  }
  arm_delay_timer();
  update_armed();
}

void Relay::Impl::arm_delay_timer() {
  Clock::time_point next{};
  for (const RelayFlow* f : {&to_back, &to_front, &chan_to_back, &chan_to_front})
    if (f->held() && f->delayed_until != Clock::time_point{} &&
        (next == Clock::time_point{} || f->delayed_until < next))
      next = f->delayed_until;
  itimerspec spec{};  // all zero: disarmed
  if (next != Clock::time_point{}) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(next - Clock::now()).count();
    if (ns < 1) ns = 1;
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  }
  ::timerfd_settime(delay_timer.get(), 0, &spec, nullptr);
}

void Relay::Impl::update_armed() {
  hold_armed = !holds.empty() || !injects.empty();
  for (const RelayFlow* f : {&to_back, &to_front, &chan_to_back, &chan_to_front})
    hold_armed = hold_armed || f->stopped || f->held();
}

}  // namespace vhs
