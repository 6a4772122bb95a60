// Live ring sampling as a part of the relay: owns the RingSampler (guest memory mapped read-only,
// ring snapshots) and its periodic timer. Sees every front-end channel message while its fds are
// still open, and the end of each session; emits RingState records (and Error records for rings
// it cannot read) of the current session through the relay services. The timer runs only while a
// ring is started and the session is relaying.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "decoders/vhost_user/features.hpp"
#include "proxy/relay_services.hpp"

namespace vhs {

class RingSampling {
 public:
  // nullptr and `error` set when the timer cannot be set up. `interval`: the sampling period.
  static std::unique_ptr<RingSampling> create(RelayServices& relay, DeviceKind device,
                                              std::chrono::milliseconds interval,
                                              std::string& error);
  virtual ~RingSampling() = default;

  // A front-end channel message (request or reply), recorded and not yet sent.
  virtual void on_message(const RelayFlow& flow) = 0;
  // The back-end went away: one last snapshot of every started ring (changes only), so the
  // capture holds the requests it left in flight at that moment. Call before on_session_end().
  virtual void sample_final() = 0;
  // Session over: guest memory unmapped, every ring forgotten, timer stopped.
  virtual void on_session_end() = 0;
  // An interposed kick or call of `queue` is about to be relayed (RingSampler::follow).
  virtual void before_notification(uint32_t queue) = 0;
};

}  // namespace vhs
