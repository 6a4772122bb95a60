// The back-end went away while the driver still waited for its requests: a crash with I/O in
// flight, which leaves the guest hanging although every message was answered. Judged at the
// session's end from who closed it and each queue's last ring state. Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <optional>

#include "decoders/session/vring_tracker.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

// Who ended a session's front-end connection.
enum class SessionCloser : uint8_t {
  Frontend,  // the front-end hung up (QEMU shutting down, unplugging, reconnecting)
  Backend,   // the back-end hung up or its socket failed (a crash, an exit)
  Recorder,  // the recorder closed both sides (stopped, or refused to relay)
};

// From a front-end channel Disconnect record: its direction names the side whose socket went
// away (ToFrontend: what the back-end writes stopped), its ClosedByProxy flag the recorder.
SessionCloser closer_of_disconnect(Direction direction, bool closed_by_proxy);

// BackendGoneInFlight for one queue, or nothing. Raised when the back-end closed the session
// while `last` (the queue's newest ring state, taken at `last_ns`) shows requests in flight on a
// ring that was still started and enabled (`vring`, null when the session's messages are not in
// the capture). A ring stopped with GET_VRING_BASE is not: the back-end handed the ring's state
// back (spec "Ring states"), so in-flight counts are moot after it, and a front-end shutting down
// never raises this. Empty receive buffers (a net receive queue) are not requests (see
// queue_waits_for_input).
std::optional<Finding> backend_gone_in_flight(SessionCloser closer, const RingSnapshot& last,
                                              const VringState* vring, DeviceKind device,
                                              uint64_t last_ns, uint64_t disconnect_ns);

}  // namespace vhs
