// SIGBUS-guarded copies out of guest memory (see fault_guard.hpp).
#include "proxy/fault_guard.hpp"

#include "captures/format/sigbus_chain.hpp"

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

void on_sigbus(int sig, siginfo_t* info, void* context) {
  CopyInProgress& copy = t_copy;
  if (copy.active != 0 && sigbus_raised_by_kernel(info)) {
    const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
    if (address >= copy.source_begin && address < copy.source_end) {
      copy.active = 0;
      ++copy.faults;
      siglongjmp(copy.resume, 1);
    }
  }
  pass_sigbus_on(g_previous, sig, info, context);
}

}  // namespace

bool install_fault_guard() {
  // SA_NODEFER (set by install_sigbus_handler): SIGBUS stays unblocked inside the handler, so
  // jumping out of it leaves the thread's signal mask as it was without sigsetjmp having to save
  // it (a syscall per copy).
  static const bool installed = install_sigbus_handler(on_sigbus, g_previous);
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
