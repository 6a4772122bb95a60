#include "captures/format/mapping_fault.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string_view>

#include "captures/format/sigbus_chain.hpp"

namespace vhs {
namespace {

// Read by the signal handler: lock-free atomics and fixed buffers only (async-signal-safe).
static_assert(std::atomic<uintptr_t>::is_always_lock_free,
              "the SIGBUS handler reads the watched ranges: their atomics must not lock");
struct WatchedMapping {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  char message[512] = {};
  size_t message_len = 0;
};
constexpr size_t kMaxWatched = 8;
std::array<WatchedMapping, kMaxWatched> g_watched;
// The SIGBUS disposition before ours; written once, before our handler is installed.
struct sigaction g_previous {};
std::once_flag g_install_once;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  // A sent SIGBUS carries no fault address: it is never ours.
  if (sigbus_raised_by_kernel(info)) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    for (const WatchedMapping& w : g_watched) {
      const uintptr_t begin = w.begin.load(std::memory_order_acquire);
      if (begin != 0 && addr >= begin && addr < w.end.load(std::memory_order_acquire)) {
        ssize_t ignored = ::write(STDERR_FILENO, w.message, w.message_len);
        (void)ignored;
        ::_exit(2);
      }
    }
  }
  pass_sigbus_on(g_previous, sig, info, context);
}

// Without a label from the caller, every byte outside printable ASCII becomes '?': the handler
// prints the name as is, and a hostile file name must not drive the terminal.
std::string plain_label(std::string_view path) {
  std::string out(path);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return out;
}

}  // namespace

void watch_mapped_capture(const void* base, size_t size, const std::string& path,
                          const std::string& label) {
  std::call_once(g_install_once, [] { install_sigbus_handler(on_sigbus, g_previous); });
  for (WatchedMapping& w : g_watched) {
    if (w.begin.load(std::memory_order_acquire) != 0) continue;
    constexpr std::string_view kBefore = "vhostscope: capture '";
    constexpr std::string_view kAfter =
        "' could no longer be read (shrunk by another process, or an I/O error): the output is "
        "incomplete\n";
    static_assert(kBefore.size() + kAfter.size() + 64 <= sizeof(w.message));
    // A long name is cut, never the sentence or its newline.
    std::string name = label.empty() ? plain_label(path) : label;
    const size_t room = sizeof(w.message) - kBefore.size() - kAfter.size();
    if (name.size() > room) name = name.substr(0, room - 3) + "...";
    std::string text;
    text.append(kBefore).append(name).append(kAfter);
    w.message_len = text.size();
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
