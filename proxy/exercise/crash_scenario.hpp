// lifecycle.backend-crash: the back-end is SIGKILLed with writes in flight (taken from the ring,
// not completed), started again, and the engine reconnects as QEMU 7.2 does after a back-end
// crash. With INFLIGHT_SHMFD (spec "Inflight I/O tracking") the back-end must resubmit every write
// it had taken: each completes exactly once, the data reads back, I/O goes on. Without it the
// spec promises nothing for those writes, so the engine does what a driver does after a device
// reset: the rings start over and it resubmits whatever had not completed, and checks that the
// restarted back-end serves them.
#pragma once

#include "proxy/exercise/driver_io.hpp"

namespace vhs::exercise {

class Engine;

// Needs --backend-command (the engine owns the back-end process) and a blk device; the caller
// reports it unsupported otherwise. A pass carries what happened in `error` (the report's
// reason column): how many writes were in flight, completed before the crash, tracked.
Outcome<bool> run_backend_crash(Engine& engine);

}  // namespace vhs::exercise
