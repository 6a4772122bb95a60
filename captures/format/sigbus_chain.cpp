// Chaining SIGBUS handlers (see sigbus_chain.hpp).
#include "captures/format/sigbus_chain.hpp"

namespace vhs {
namespace {

void set_default_action(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
}

}  // namespace

bool install_sigbus_handler(SigbusHandler handler, struct sigaction& previous) {
  // Read the old disposition first so that it is complete before the new handler can run.
  if (::sigaction(SIGBUS, nullptr, &previous) != 0) return false;
  struct sigaction ours {};
  ours.sa_sigaction = handler;
  ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&ours.sa_mask);
  return ::sigaction(SIGBUS, &ours, nullptr) == 0;
}

void pass_sigbus_on(const struct sigaction& previous, int sig, siginfo_t* info, void* context) {
  const bool raised_by_kernel = sigbus_raised_by_kernel(info);
  if ((previous.sa_flags & SA_SIGINFO) != 0) {
    if (previous.sa_sigaction != nullptr) {
      previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous.sa_handler == SIG_IGN) {
    // The kernel does not let a process ignore a fault (the default action happens anyway); a
    // SIGBUS sent with kill(2) is ignored as asked.
    if (!raised_by_kernel) return;
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != nullptr) {
    previous.sa_handler(sig);
    return;
  }
  // The default action (terminate with a core dump): a fault happens again as soon as the handler
  // returns to the faulting instruction; a sent signal is sent again.
  set_default_action(sig);
  if (!raised_by_kernel) ::raise(sig);
}

}  // namespace vhs
