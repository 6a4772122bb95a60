// The page warmer's one background thread (see page_warmer.hpp).
#include "captures/format/page_warmer.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace vhs {
namespace {

// Populated a piece at a time, so forget() never waits long and the front of a range (which its
// owner touches first) is ready before the rest.
constexpr uintptr_t kPiece = uintptr_t{2} << 20;

struct Range {
  uintptr_t from = 0, to = 0;
  WarmFor use = WarmFor::Reading;
  bool overlaps(uintptr_t a, uintptr_t b) const { return from < b && a < to; }
};

class Warmer {
 public:
  static Warmer& instance() {
    // Never destroyed: a store freed during static destruction still finds it, and the thread
    // (detached, waiting) ends with the process.
    static Warmer* warmer = [] {
      auto* w = new Warmer;
      pthread_atfork([] { instance().mutex_.lock(); }, [] { instance().mutex_.unlock(); },
                     [] { instance().after_fork_in_child(); });
      return w;
    }();
    return *warmer;
  }

  void add(Range r) {
    std::lock_guard lock(mutex_);
    if (in_forked_child_) return;  // its pages fault in as they are used
    if (!started_) {
      started_ = true;
      std::thread([this] { run(); }).detach();
    }
    queue_.push_back(r);
    work_.notify_one();
  }

  void forget(uintptr_t from, uintptr_t to) {
    std::unique_lock lock(mutex_);
    std::erase_if(queue_, [&](const Range& r) { return r.overlaps(from, to); });
    idle_.wait(lock, [&] { return !busy_ || !current_.overlaps(from, to); });
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      work_.wait(lock, [this] { return !queue_.empty(); });
      Range& next = queue_.front();
      current_ = next;
      current_.to = std::min(next.to, next.from + kPiece);
      next.from = current_.to;
      if (next.from >= next.to) queue_.pop_front();
      busy_ = true;
      lock.unlock();
      // Errors are ignored: an old kernel (EINVAL) or a range that cannot be populated just
      // leaves the pages to their owner's faults.
      ::madvise(reinterpret_cast<void*>(current_.from), current_.to - current_.from,
                current_.use == WarmFor::Writing ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
      lock.lock();
      busy_ = false;
      idle_.notify_all();
    }
  }

  // The child of a fork has no warmer thread, and starts none: a thread started after fork() in
  // a multithreaded process is fragile (the condition variables still count the parent's
  // waiters; under ASan a child's new warmer once never populated its range), and this
  // program's children only exec. So the child drops the parent's queue and warms nothing.
  void after_fork_in_child() {
    in_forked_child_ = true;
    busy_ = false;  // the parent's populate is not the child's: forget() must not wait for it
    queue_.clear();
    mutex_.unlock();
  }

  std::mutex mutex_;
  std::condition_variable work_, idle_;
  std::deque<Range> queue_;
  Range current_;
  bool busy_ = false;
  bool started_ = false;
  bool in_forked_child_ = false;
};

}  // namespace

void warm_pages(const void* at, size_t length, WarmFor use) {
  if (length == 0) return;
  const auto from = reinterpret_cast<uintptr_t>(at);
  Warmer::instance().add({from, from + length, use});
}

void forget_warm_pages(const void* at, size_t length) {
  if (length == 0) return;
  const auto from = reinterpret_cast<uintptr_t>(at);
  Warmer::instance().forget(from, from + length);
}

}  // namespace vhs
