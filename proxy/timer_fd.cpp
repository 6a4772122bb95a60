// timerfd wrapper (see timer_fd.hpp).
#include "proxy/timer_fd.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace vhs {

namespace {

timespec to_timespec(std::chrono::nanoseconds ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns.count() / 1000000000);
  ts.tv_nsec = static_cast<long>(ns.count() % 1000000000);
  return ts;
}

}  // namespace

TimerFd TimerFd::create() {
  return TimerFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
}

void TimerFd::set(std::chrono::nanoseconds first, std::chrono::nanoseconds period) {
  itimerspec spec{};
  spec.it_value = to_timespec(first);
  spec.it_interval = to_timespec(period);
  ::timerfd_settime(fd_.get(), 0, &spec, nullptr);
}

void TimerFd::arm_after(std::chrono::nanoseconds delay) {
  set(delay.count() < 1 ? std::chrono::nanoseconds(1) : delay, std::chrono::nanoseconds(0));
}

void TimerFd::arm_periodic(std::chrono::nanoseconds period) {
  if (period.count() < 0) period = std::chrono::nanoseconds(0);
  set(period, period);
}

void TimerFd::disarm() { set(std::chrono::nanoseconds(0), std::chrono::nanoseconds(0)); }

uint64_t TimerFd::read_expirations() {
  uint64_t count = 0;
  ssize_t n;
  do {
    n = ::read(fd_.get(), &count, sizeof count);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof count) ? count : 0;
}

}  // namespace vhs
