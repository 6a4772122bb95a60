// Relay side of live ring sampling: feeds front-end channel messages to the RingSampler, runs its
// timer while any ring is started, and turns its output into RingState / Error records of the
// current session. Only memory messages map or unmap anything (inside the sampler).
#include <sys/timerfd.h>

#include <utility>

#include "proxy/relay_impl.hpp"

namespace vhs {

namespace {

// Adapts two callables (lambdas inside Relay::Impl members, which may touch its private state).
template <class State, class Error>
class CallbackOutput final : public RingSampler::Output {
 public:
  CallbackOutput(State state, Error error) : state_(std::move(state)), error_(std::move(error)) {}
  void ring_state(std::span<const uint8_t> payload) override { state_(payload); }
  void ring_error(std::string_view text) override { error_(text); }

 private:
  State state_;
  Error error_;
};

template <class State, class Error>
CallbackOutput<State, Error> make_output(State state, Error error) {
  return {std::move(state), std::move(error)};
}

}  // namespace

#define VHS_RING_OUTPUT                                                                        \
  auto out =                                                                                   \
      make_output([this](std::span<const uint8_t> payload) { emit_ring_state(payload); },      \
                  [this](std::string_view text) {                                              \
                    session_error(Channel::Frontend, Direction::ToBackend, std::string(text)); \
                  })

void Relay::Impl::emit_ring_state(std::span<const uint8_t> payload) {
  Record& r = ring_record;
  r.kind = RecordKind::RingState;
  r.channel = Channel::Frontend;  // 0: means nothing here (docs/ring-state-format.md)
  r.direction = Direction::ToBackend;
  r.flags = 0;
  r.session = session;
  r.timestamp_ns = realtime_ns();
  r.fds.clear();
  r.bytes.assign(payload.begin(), payload.end());
  emit(r);
}

void Relay::Impl::on_ring_message(RelayFlow& flow) {
  VHS_RING_OUTPUT;
  if (sampler->on_message(flow.direction(), flow.reader().bytes(), flow.reader().fds(), out))
    update_sample_timer();
}

void Relay::Impl::on_sample_timer() {
  if (!sampler || state != RelayState::Active) return;
  VHS_RING_OUTPUT;
  sampler->sample(out);
}

void Relay::Impl::update_sample_timer() {
  const bool want = sampler && sampler->any_started() && state == RelayState::Active;
  if (want == sample_armed) return;
  itimerspec spec{};
  if (want) {
    const auto ms = opt.sample_interval.count();
    spec.it_value.tv_sec = static_cast<time_t>(ms / 1000);
    spec.it_value.tv_nsec = static_cast<long>((ms % 1000) * 1000000);
    spec.it_interval = spec.it_value;
  }
  ::timerfd_settime(sample_timer.get(), 0, &spec, nullptr);
  sample_armed = want;
}

void Relay::Impl::end_ring_session() {
  if (!sampler) return;
  sampler->reset();  // unmaps the session's guest memory
  update_sample_timer();
}

}  // namespace vhs
