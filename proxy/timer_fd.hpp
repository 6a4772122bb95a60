// A monotonic timerfd owned RAII-style: one-shot or periodic arming, disarming and reading the
// expiration count, with the fd exposed for an epoll set. Every timer of the relay is one of
// these (flush, connect retry, ring sampling, injected delays).
#pragma once

#include <chrono>
#include <cstdint>

#include "proxy/unique_fd.hpp"

namespace vhs {

class TimerFd {
 public:
  // Creates a non-blocking, close-on-exec CLOCK_MONOTONIC timer; invalid() on failure (errno
  // set).
  static TimerFd create();
  TimerFd() = default;  // no timer: valid() is false

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  // Fires once, `delay` from now. A delay of zero or less still fires (after 1 ns): the timerfd
  // interface would read an all-zero time as "disarm".
  void arm_after(std::chrono::nanoseconds delay);
  // Fires every `period`, the first time one period from now. A zero period disarms.
  void arm_periodic(std::chrono::nanoseconds period);
  void disarm();
  // Expirations since the last read; 0 when none (the timer is non-blocking).
  uint64_t read_expirations();

 private:
  explicit TimerFd(int fd) : fd_(fd) {}
  void set(std::chrono::nanoseconds first, std::chrono::nanoseconds period);

  UniqueFd fd_;
};

}  // namespace vhs
