// SIGBUS-guarded copies out of guest memory (see fault_guard.hpp).
#include "proxy/fault_guard.hpp"

#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cstring>

namespace vhs {

namespace {

// The calling thread's copy in progress. Read by the handler, which runs on the faulting thread.
struct CopyInProgress {
  sigjmp_buf resume;
  volatile sig_atomic_t active = 0;
  uintptr_t source_begin = 0;  // [begin, end): the only addresses whose fault we recover from
  uintptr_t source_end = 0;
  uint64_t faults = 0;
};

thread_local CopyInProgress t_copy;

// The SIGBUS disposition before ours; written once, before our handler is installed.
struct sigaction g_previous {};

void set_default_action(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
}

// A SIGBUS that is not ours: do what would have happened had we never been installed.
void pass_on(int sig, siginfo_t* info, void* context) {
  const bool sent_by_kernel = info != nullptr && info->si_code > 0;
  if ((g_previous.sa_flags & SA_SIGINFO) != 0) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler == SIG_IGN) {
    // The kernel does not let a process ignore a fault (the default action happens anyway); a
    // SIGBUS sent with kill(2) is ignored as asked.
    if (!sent_by_kernel) return;
  } else if (g_previous.sa_handler != SIG_DFL) {
    g_previous.sa_handler(sig);
    return;
  }
  // The default action (terminate with a core dump): a fault happens again as soon as we return
  // to the faulting instruction; a sent signal is sent again.
  set_default_action(sig);
  if (!sent_by_kernel) ::raise(sig);
}

void on_sigbus(int sig, siginfo_t* info, void* context) {
  CopyInProgress& copy = t_copy;
  // si_addr is meaningful only for a fault the kernel raised (si_code > 0), not for kill(2).
  if (copy.active != 0 && info != nullptr && info->si_code > 0) {
    const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
    if (address >= copy.source_begin && address < copy.source_end) {
      copy.active = 0;
      ++copy.faults;
      siglongjmp(copy.resume, 1);
    }
  }
  pass_on(sig, info, context);
}

}  // namespace

bool install_fault_guard() {
  static const bool installed = [] {
    // Read the old disposition first so that it is complete before our handler can run.
    if (::sigaction(SIGBUS, nullptr, &g_previous) != 0) return false;
    struct sigaction ours {};
    ours.sa_sigaction = on_sigbus;
    // SA_NODEFER: SIGBUS stays unblocked inside the handler, so jumping out of it leaves the
    // thread's signal mask as it was without sigsetjmp having to save it (a syscall per copy).
    ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    return ::sigaction(SIGBUS, &ours, nullptr) == 0;
  }();
  return installed;
}

bool guarded_copy(void* dst, const void* src, size_t n) noexcept {
  if (n == 0) return true;
  CopyInProgress& copy = t_copy;
  copy.source_begin = reinterpret_cast<uintptr_t>(src);
  copy.source_end = copy.source_begin + n;
  if (sigsetjmp(copy.resume, 0) != 0) return false;  // the handler jumped back: src faulted
  copy.active = 1;
  // Keep the compiler from moving the copy outside the window the handler recognises.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(dst, src, n);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  copy.active = 0;
  return true;
}

uint64_t guarded_copy_faults() noexcept { return t_copy.faults; }

}  // namespace vhs
