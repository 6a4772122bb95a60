// The page warmer: ranges handed to it become resident without their owner touching them, their
// contents unchanged; forgetting a range before unmapping it never lets the thread touch a later
// mapping; in a forked child (which has no warmer thread and starts none) warming and forgetting
// return at once.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "captures/format/page_warmer.hpp"

namespace vhs {
namespace {

constexpr size_t kLength = size_t{8} << 20;

size_t resident_pages(void* at, size_t length) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((length + page - 1) / page);
  if (::mincore(at, length, in_core.data()) != 0) return 0;
  size_t n = 0;
  for (unsigned char c : in_core) n += c & 1;
  return n;
}

bool wait_until_resident(void* at, size_t length) {
  const size_t pages = length / static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (resident_pages(at, length) == pages) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

TEST(PageWarmer, WarmedMemoryBecomesResidentAndStaysZero) {
  void* at = ::mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(at, MAP_FAILED);
  ASSERT_EQ(resident_pages(at, kLength), 0u);
  warm_pages(at, kLength, WarmFor::Writing);
  EXPECT_TRUE(wait_until_resident(at, kLength));
  const auto* bytes = static_cast<const unsigned char*>(at);
  size_t nonzero = 0;
  for (size_t i = 0; i < kLength; i += 4096) nonzero += bytes[i] != 0;
  EXPECT_EQ(nonzero, 0u);
  forget_warm_pages(at, kLength);
  ::munmap(at, kLength);
}

TEST(PageWarmer, AForgottenRangeIsNotTouchedAfterwards) {
  // Many ranges queued, then forgotten at once: whatever was still queued is dropped, and a
  // mapping made in the same place afterwards stays untouched.
  std::vector<void*> maps;
  for (int i = 0; i < 8; ++i) {
    void* at = ::mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(at, MAP_FAILED);
    maps.push_back(at);
    warm_pages(at, kLength, WarmFor::Writing);
  }
  for (void* at : maps) {
    forget_warm_pages(at, kLength);
    ::munmap(at, kLength);
  }
  void* again = ::mmap(maps.back(), kLength, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (again == MAP_FAILED) GTEST_SKIP() << "the address was taken again";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(resident_pages(again, kLength), 0u);
  ::munmap(again, kLength);
}

TEST(PageWarmer, AForkedChildWarmsNothingAndNeverWaits) {
  void* at = ::mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(at, MAP_FAILED);
  warm_pages(at, kLength, WarmFor::Writing);  // the parent's thread is running
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    void* mine =
        ::mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    warm_pages(mine, kLength, WarmFor::Writing);
    // Nothing warms it: after a moment it is as untouched as it was.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const bool untouched = resident_pages(mine, kLength) == 0;
    forget_warm_pages(mine, kLength);
    forget_warm_pages(at, kLength);
    static_cast<unsigned char*>(mine)[0] = 1;  // the owner's own faults still serve it
    ::_exit(untouched ? 0 : 1);
  }
  int status = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  pid_t done = 0;
  while ((done = ::waitpid(child, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "the child hung";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The parent's warmer goes on serving the parent.
  void* after =
      ::mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(after, MAP_FAILED);
  warm_pages(after, kLength, WarmFor::Writing);
  EXPECT_TRUE(wait_until_resident(after, kLength));
  forget_warm_pages(after, kLength);
  forget_warm_pages(at, kLength);
  ::munmap(after, kLength);
  ::munmap(at, kLength);
}

}  // namespace
}  // namespace vhs
