// SIGBUS handlers that share the signal: the mapped capture reader (mapping_fault) and the
// recorder's guest-memory copies (proxy/fault_guard) each install one, in either order, and each
// hands a SIGBUS that is not its own to whatever was installed before it. The two halves every
// such handler needs live here once: installing after the previous disposition has been read
// (so it is complete before the new handler can run), and passing a signal on as the previous
// disposition would have handled it.
#pragma once

#include <signal.h>

namespace vhs {

// A handler installed with SA_SIGINFO.
using SigbusHandler = void (*)(int, siginfo_t*, void*);

// Reads the current SIGBUS disposition into `previous`, then installs `handler` (SA_SIGINFO,
// SA_NODEFER: SIGBUS stays unblocked inside it, so a handler may jump out; SA_ONSTACK). False
// when sigaction failed (nothing installed).
bool install_sigbus_handler(SigbusHandler handler, struct sigaction& previous);

// si_addr means something only for a fault the kernel raised (si_code > 0), not for a SIGBUS
// sent with kill(2) or raise(3).
inline bool sigbus_raised_by_kernel(const siginfo_t* info) {
  return info != nullptr && info->si_code > 0;
}

// A SIGBUS that is not the caller's: what `previous` would have done had the caller never been
// installed (its handler, ignoring a sent signal, or the default action). Async-signal-safe.
void pass_sigbus_on(const struct sigaction& previous, int sig, siginfo_t* info, void* context);

}  // namespace vhs
