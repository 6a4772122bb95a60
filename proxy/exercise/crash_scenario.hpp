// lifecycle.backend-crash: the back-end is SIGKILLed with writes in flight (taken from the ring,
// not completed), started again, and the engine reconnects as QEMU 7.2 does after a back-end
// crash. With INFLIGHT_SHMFD (spec "Inflight I/O tracking") the back-end must resubmit every write
// it had taken: each completes exactly once, the data reads back, I/O goes on. Without it the
// spec promises nothing for those writes, so the engine does what a driver does after a device
// reset: the rings start over and it resubmits whatever had not completed, and checks that the
// restarted back-end serves them.
#pragma once

#include <string>

#include "proxy/exercise/driver_io.hpp"

namespace vhs::exercise {

class Engine;

// Needs --backend-command (the engine owns the back-end process) and blk on split rings
// (writes_in_flight_unsupported() empty); for other devices and packed rings the lifecycle table
// runs its own crash (lifecycle_scenarios.cpp: I/O in flight, the rings start over). A pass carries what happened in `error` (the report's
// reason column): how many writes were in flight, completed before the crash, tracked.
Outcome<bool> run_backend_crash(Engine& engine);

// lifecycle.reconnect's part with writes in flight: the same writes, but the front-end closes the
// connection (the back-end lives on) and connects again, then as above: with INFLIGHT_SHMFD the
// back-end resubmits what it had taken (QEMU 7.2's vhost-user-blk reconnect: the inflight buffer
// kept, SET_VRING_BASE = the used index), without it the rings are reset and the engine
// resubmits what had not completed. A pass says what happened, as run_backend_crash's does.
Outcome<bool> run_reconnect_in_flight(Engine& engine);

// What a reconnect that found no back-end listening says: unsupported when the engine's own
// back-end process exited with status 0 (it serves one connection, as QEMU 7.2's virtiofsd
// does), failed otherwise (it crashed, or it is not the engine's to tell).
Outcome<bool> reconnect_refused(Engine& engine, const std::string& connect_error);

// Why the engine cannot interrupt writes in flight on this engine's device and rings ("" when it
// can): blk on split rings only.
std::string writes_in_flight_unsupported(const Engine& engine);

}  // namespace vhs::exercise
