// The contract between the exercise engine (a scripted front-end that is also the virtio driver
// of the rings it sets up) and the device workloads that move data through those rings. The
// engine owns guest memory, descriptors, kicks and calls; a workload only says which buffers a
// request is made of and reads back what the device wrote. Workloads can therefore be tested
// against an in-process fake device, and run unchanged on split or packed rings.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace vhs::exercise {

// Why an Outcome holds no value.
enum class Shortfall : uint8_t {
  Failed,       // something is wrong
  TimedOut,     // nothing came within the wait; what is there so far may still be fine
  Unsupported,  // not a failure: this back-end cannot do what was asked
};

// A value or the reason there is none ("queue 0: no completion for 5 s").
template <class T>
struct Outcome {
  std::optional<T> value;
  std::string error;
  Shortfall shortfall = Shortfall::Failed;  // meaningful only without a value

  static Outcome ok(T v) { return Outcome{std::move(v), {}}; }
  static Outcome fail(std::string why) { return Outcome{std::nullopt, std::move(why)}; }
  static Outcome timed_out(std::string why) {
    return Outcome{std::nullopt, std::move(why), Shortfall::TimedOut};
  }
  static Outcome not_supported(std::string why) {
    return Outcome{std::nullopt, std::move(why), Shortfall::Unsupported};
  }
  explicit operator bool() const { return value.has_value(); }
  bool timed_out() const { return !value && shortfall == Shortfall::TimedOut; }
  bool unsupported() const { return !value && shortfall == Shortfall::Unsupported; }
};

// One descriptor chain as a driver places it: the buffers the device reads come first, then the
// buffers the device writes (VIRTIO "Message Framing"; each vector becomes one descriptor).
struct ChainRequest {
  std::vector<std::vector<uint8_t>> readable;
  std::vector<uint32_t> writable_sizes;
};

// What the device gave back for one chain.
struct ChainCompletion {
  uint64_t token = 0;                         // the token post() returned for this chain
  uint32_t used_len = 0;                      // the used element's len: bytes the device wrote
  std::vector<std::vector<uint8_t>> written;  // each writable buffer, whole, after completion
};

class DriverIo {
 public:
  virtual ~DriverIo() = default;

  virtual unsigned queue_count() const = 0;
  virtual uint16_t queue_size(unsigned queue) const = 0;

  // Places the chains on `queue`, publishes them in the avail ring and kicks once. One token
  // per chain, in order. Fails without placing anything when the free descriptors do not fit.
  virtual Outcome<std::vector<uint64_t>> post(unsigned queue,
                                              std::span<const ChainRequest> chains) = 0;

  // Waits until `count` more posted chains of `queue` were used (by calls, or by reading the
  // used ring when call notifications are suppressed), and returns them in the order the device
  // used them. Fails timed_out() when the timeout passes first, or when the used ring is wrong (an id that
  // was never made available, a length beyond the chain's writable bytes): the engine checks
  // every used element it reads.
  virtual Outcome<std::vector<ChainCompletion>> wait_used(unsigned queue, size_t count,
                                                          std::chrono::milliseconds timeout) = 0;

  // How many records the engine has written to its capture so far (the number `dump` shows as
  // #N for the last one), so a check can name the messages it spans; 0 when nothing records.
  virtual uint64_t records_written() const { return 0; }

  // post() then wait_used() for exactly those chains, returned in request order.
  Outcome<std::vector<ChainCompletion>> transact(unsigned queue,
                                                 std::span<const ChainRequest> chains,
                                                 std::chrono::milliseconds timeout);
};

}  // namespace vhs::exercise
