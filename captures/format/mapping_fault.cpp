#include "captures/format/mapping_fault.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace vhs {
namespace {

// Read by the signal handler: plain atomics and fixed buffers only (async-signal-safe).
struct WatchedMapping {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  char message[512] = {};
  size_t message_len = 0;
};
constexpr size_t kMaxWatched = 8;
std::array<WatchedMapping, kMaxWatched> g_watched;
struct sigaction g_previous {};
std::once_flag g_install_once;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info ? info->si_addr : nullptr);
  for (const WatchedMapping& w : g_watched) {
    const uintptr_t begin = w.begin.load(std::memory_order_acquire);
    if (begin != 0 && addr >= begin && addr < w.end.load(std::memory_order_acquire)) {
      ssize_t ignored = ::write(STDERR_FILENO, w.message, w.message_len);
      (void)ignored;
      ::_exit(2);
    }
  }
  // Not ours: what would have happened without this handler.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
             g_previous.sa_handler != nullptr) {
    return g_previous.sa_handler(sig);
  }
  ::signal(SIGBUS, SIG_DFL);
  ::raise(SIGBUS);
}

void install() {
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, &g_previous);
}

}  // namespace

void watch_mapped_capture(const void* base, size_t size, const std::string& path) {
  std::call_once(g_install_once, install);
  for (WatchedMapping& w : g_watched) {
    if (w.begin.load(std::memory_order_acquire) != 0) continue;
    // The path is printed by the handler as is: control characters become '?' so a hostile
    // file name cannot drive the terminal.
    std::string text = "vhostscope: capture '";
    for (char c : path) text += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    text +=
        "' shrank while it was being read (another process truncated it): the output is "
        "incomplete\n";
    w.message_len = std::min(text.size(), sizeof(w.message));
    std::memcpy(w.message, text.data(), w.message_len);
    w.end.store(reinterpret_cast<uintptr_t>(base) + size, std::memory_order_release);
    w.begin.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return;
  }
}

void unwatch_mapped_capture(const void* base) {
  for (WatchedMapping& w : g_watched)
    if (w.begin.load(std::memory_order_acquire) == reinterpret_cast<uintptr_t>(base)) {
      w.begin.store(0, std::memory_order_release);
      w.end.store(0, std::memory_order_release);
    }
}

}  // namespace vhs
