// Ring sampling part of the relay (see ring_sampling.hpp). Only memory messages map or unmap
// anything (inside the RingSampler).
#include "proxy/ring_sampling.hpp"

#include <cerrno>
#include <utility>

#include "proxy/relay_flow.hpp"
#include "proxy/ring_sampler.hpp"
#include "proxy/sys_error.hpp"
#include "proxy/timer_fd.hpp"

namespace vhs {

namespace {

class RingSamplingPart final : public RingSampling, private FdHandler, private RingSampler::Output {
 public:
  RingSamplingPart(RelayServices& relay, DeviceKind device, std::chrono::milliseconds interval,
                   TimerFd timer)
      : relay_(relay), sampler_(device), interval_(interval), timer_(std::move(timer)) {
    record_.kind = RecordKind::RingState;
    record_.channel = Channel::Frontend;  // 0: means nothing here (docs/ring-state-format.md)
    record_.direction = Direction::ToBackend;
  }

  bool start(std::string& error) {
    if (!relay_.watch(timer_.fd(), *this)) {
      error = "cannot set up the ring sampling timer: " + errno_text(errno);
      return false;
    }
    return true;
  }

  void on_message(const RelayFlow& flow) override {
    if (sampler_.on_message(flow.direction(), flow.reader().bytes(), flow.reader().fds(), *this))
      update_timer();
  }

  void sample_final() override {
    if (relay_.relaying()) sampler_.sample(*this);
  }

  void before_notification(uint32_t queue) override {
    if (relay_.relaying()) sampler_.follow(queue);
  }

  void on_session_end() override {
    sampler_.reset();  // unmaps the session's guest memory
    update_timer();
  }

 private:
  // The sampling timer.
  void on_ready(uint64_t) override {
    timer_.read_expirations();
    if (!relay_.relaying()) return;
    sampler_.sample(*this);
  }

  void ring_state(std::span<const uint8_t> payload) override {
    Record& r = record_;
    r.flags = 0;
    r.session = relay_.session();
    r.timestamp_ns = realtime_ns();
    r.fds.clear();
    r.bytes.assign(payload.begin(), payload.end());
    relay_.emit(r);
  }

  void ring_error(std::string_view text) override {
    relay_.session_error(Channel::Frontend, Direction::ToBackend, std::string(text));
  }

  // An Error record flagged so that the capture names the finding (region-beyond-fd) rather than
  // a relay failure, plus the log line session_error would write.
  void region_shrank(std::string_view text) override {
    Record r;
    r.kind = RecordKind::Error;
    r.channel = Channel::Frontend;
    r.direction = Direction::ToBackend;
    r.flags = kRecordRegionBeyondFd;
    r.session = relay_.session();
    r.timestamp_ns = realtime_ns();
    r.bytes.assign(text.begin(), text.end());
    relay_.emit(r);
    relay_.log(LogLevel::Error,
               "session " + std::to_string(relay_.session()) + ": " + std::string(text));
  }

  void update_timer() {
    const bool want = sampler_.any_started() && relay_.relaying();
    if (want == armed_) return;
    if (want)
      timer_.arm_periodic(interval_);
    else
      timer_.disarm();
    armed_ = want;
  }

  RelayServices& relay_;
  RingSampler sampler_;
  std::chrono::milliseconds interval_;
  TimerFd timer_;
  bool armed_ = false;
  Record record_;  // RingState records (reused)
};

}  // namespace

std::unique_ptr<RingSampling> RingSampling::create(RelayServices& relay, DeviceKind device,
                                                   std::chrono::milliseconds interval,
                                                   std::string& error) {
  TimerFd timer = TimerFd::create();
  if (!timer.valid()) {
    error = "cannot set up the ring sampling timer: " + errno_text(errno);
    return nullptr;
  }
  auto part = std::make_unique<RingSamplingPart>(relay, device, interval, std::move(timer));
  if (!part->start(error)) return nullptr;
  return part;
}

}  // namespace vhs
