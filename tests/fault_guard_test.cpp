// Guest memory reads that cannot fault: a guarded copy out of a shared memfd mapping whose file
// was shrunk under it fails instead of killing the process; the proxy's GuestMapping then sees the
// new file size and cuts what its view hands out. A SIGBUS that is not a guarded copy's still
// ends the process (or reaches the handler that was there before).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "proxy/fault_guard.hpp"
#include "proxy/guest_mapping.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

constexpr uint64_t kFileSize = 0x4000;  // four 4 KiB pages

// A memfd of kFileSize bytes, each byte its offset's low 8 bits, mapped shared read-only.
struct ShrinkableFile {
  UniqueFd fd = make_memfd("vhs-fault-guard", kFileSize);
  const uint8_t* map = nullptr;

  ShrinkableFile() {
    std::vector<uint8_t> bytes(kFileSize);
    for (uint64_t i = 0; i < kFileSize; ++i) bytes[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(::pwrite(fd.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(kFileSize));
    void* p = ::mmap(nullptr, kFileSize, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p != MAP_FAILED) map = static_cast<const uint8_t*>(p);
  }
  ~ShrinkableFile() {
    if (map != nullptr) ::munmap(const_cast<uint8_t*>(map), kFileSize);
  }
  void truncate(uint64_t size) { ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0); }
};

TEST(FaultGuard, CopyAcrossTheEndOfAShrunkFileFailsInsteadOfCrashing) {
  ASSERT_TRUE(install_fault_guard());
  ShrinkableFile f;
  ASSERT_NE(f.map, nullptr);
  std::array<uint8_t, 64> out{};
  ASSERT_TRUE(guarded_copy(out.data(), f.map + 0x2ff0, out.size()));
  EXPECT_EQ(out[0], 0xf0);
  EXPECT_EQ(out[63], 0x2f);

  f.truncate(0x2000);  // pages 2 and 3 are gone
  const uint64_t faults = guarded_copy_faults();
  EXPECT_FALSE(guarded_copy(out.data(), f.map + 0x1ff0, out.size())) << "crosses the new end";
  EXPECT_FALSE(guarded_copy(out.data(), f.map + 0x3000, 8)) << "wholly past the new end";
  EXPECT_EQ(guarded_copy_faults(), faults + 2);
  // Bytes before the new end still read, and the thread is fine for further copies.
  ASSERT_TRUE(guarded_copy(out.data(), f.map + 0x1fc0, out.size()));
  EXPECT_EQ(out[0], 0xc0);
  EXPECT_EQ(out[63], 0xff);
  EXPECT_EQ(guarded_copy_faults(), faults + 2);

  f.truncate(0);
  EXPECT_FALSE(guarded_copy(out.data(), f.map, 1));
  EXPECT_EQ(guarded_copy_faults(), faults + 3);
  EXPECT_TRUE(guarded_copy(out.data(), f.map, 0)) << "an empty copy touches nothing";
}

TEST(FaultGuard, GuestMappingCutsItsViewToTheShrunkFileAndFollowsItBack) {
  ShrinkableFile f;
  GuestMapping mapping;
  // A region of the whole file at GPA 0x100000.
  const MemRegionValue region{.guest_phys_addr = 0x100000,
                              .memory_size = kFileSize,
                              .userspace_addr = 0x7f0000000000,
                              .mmap_offset = 0};
  const int fds[] = {f.fd.get()};
  ASSERT_TRUE(mapping.set_table(std::span(&region, 1), fds).empty());
  std::array<uint8_t, 16> out{};
  ASSERT_TRUE(mapping.view().read(0x103000, out));
  EXPECT_EQ(out[0], 0x00);
  EXPECT_FALSE(mapping.any_short());
  EXPECT_TRUE(mapping.recheck_backing().empty()) << "nothing changed yet";

  f.truncate(0x1800);
  EXPECT_FALSE(mapping.view().read(0x103000, out)) << "faulted, not crashed";
  EXPECT_TRUE(mapping.view().mapped(0x103000, 16)) << "not looked at again yet";
  const std::vector<BackingChange> shrunk = mapping.recheck_backing();
  ASSERT_EQ(shrunk.size(), 1u);
  EXPECT_EQ(shrunk[0].region, 0u);
  EXPECT_EQ(shrunk[0].backed_before, kFileSize);
  EXPECT_EQ(shrunk[0].backed_after, 0x1800u);
  EXPECT_EQ(shrunk[0].file_size, 0x1800u);
  EXPECT_EQ(shrunk[0].value.guest_phys_addr, 0x100000u);
  EXPECT_TRUE(mapping.any_short());
  // The view now ends where the file does: no fault needed to know the tail is gone.
  const uint64_t faults = guarded_copy_faults();
  EXPECT_FALSE(mapping.view().mapped(0x1017f8, 16));
  EXPECT_FALSE(mapping.view().read(0x1017f8, out));
  EXPECT_EQ(guarded_copy_faults(), faults);
  ASSERT_TRUE(mapping.view().read(0x1017f0, out));
  EXPECT_EQ(out[15], 0xff);

  // Grown back (new pages read as zeros): the view follows.
  f.truncate(kFileSize);
  const std::vector<BackingChange> grown = mapping.recheck_backing();
  ASSERT_EQ(grown.size(), 1u);
  EXPECT_EQ(grown[0].backed_after, kFileSize);
  EXPECT_FALSE(mapping.any_short());
  ASSERT_TRUE(mapping.view().read(0x103000, out));
  EXPECT_EQ(out[0], 0x00);
  EXPECT_EQ(out[15], 0x00);
}

TEST(FaultGuard, MappingKeepsOneDuplicateFdPerRegionAndClosesItWithTheTable) {
  ShrinkableFile f;
  auto open_fds = [] {
    int n = 0;
    for (int fd = 0; fd < 4096; ++fd) n += ::fcntl(fd, F_GETFD) != -1 ? 1 : 0;
    return n;
  };
  const int before = open_fds();
  {
    GuestMapping mapping;
    const MemRegionValue regions[] = {
        {.guest_phys_addr = 0, .memory_size = 0x1000, .userspace_addr = 0x1000, .mmap_offset = 0},
        {.guest_phys_addr = 0x1000,
         .memory_size = 0x1000,
         .userspace_addr = 0x2000,
         .mmap_offset = 0x1000}};
    const int fds[] = {f.fd.get(), f.fd.get()};
    ASSERT_TRUE(mapping.set_table(regions, fds).empty());
    EXPECT_EQ(open_fds(), before + 2);
    mapping.remove_region_at(0);
    EXPECT_EQ(open_fds(), before + 1);
    mapping.clear();
    EXPECT_EQ(open_fds(), before);
    ASSERT_TRUE(mapping.add_region(regions[0], f.fd.get()).empty());
  }
  EXPECT_EQ(open_fds(), before);
}

// Death tests re-run this binary for the one test, so each starts with no handler installed.
class FaultGuardDeath : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Death by SIGBUS. Under AddressSanitizer the handler that was there before ours is the
// sanitizer's, which reports the signal and exits non-zero instead, or aborts (SIGABRT) when
// ASAN_OPTIONS has abort_on_error=1, as the test command sets it.
#if defined(__SANITIZE_ADDRESS__)
#define VHS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VHS_TEST_ASAN 1
#endif
#endif
bool dies_of_sigbus(int status) {
#if defined(VHS_TEST_ASAN)
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) < 3) return true;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) return true;
#endif
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

// Touches the byte at `p` without the guard.
[[gnu::noinline]] uint8_t unguarded_read(const volatile uint8_t* p) { return *p; }

TEST_F(FaultGuardDeath, AnUnguardedFaultStillKillsWithSigbus) {
  EXPECT_EXIT(
      {
        install_fault_guard();
        ShrinkableFile f;
        f.truncate(0);
        uint8_t b = 0;
        if (guarded_copy(&b, f.map, 1)) ::_exit(3);  // the guard is in place
        unguarded_read(f.map);
        ::_exit(4);
      },
      dies_of_sigbus, "");
}

TEST_F(FaultGuardDeath, ASentSigbusStillKills) {
  EXPECT_EXIT(
      {
        install_fault_guard();
        ::raise(SIGBUS);
        ::_exit(4);
      },
      dies_of_sigbus, "");
}

// A fault inside a guarded copy whose address lies outside the source (here: the destination is
// the vanished page) is not the guard's to recover.
TEST_F(FaultGuardDeath, AFaultOutsideTheSourceRangeIsNotRecovered) {
  EXPECT_EXIT(
      {
        install_fault_guard();
        ShrinkableFile source;
        ShrinkableFile gone;
        gone.truncate(0);
        // A writable shared mapping of the emptied file: writing there faults.
        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, gone.fd.get(), 0);
        if (p == MAP_FAILED) ::_exit(5);
        guarded_copy(p, source.map, 16);
        ::_exit(4);
      },
      dies_of_sigbus, "");
}

void previous_handler(int) { ::_exit(42); }

TEST_F(FaultGuardDeath, AFaultThatIsNotOursReachesTheHandlerInstalledBefore) {
  EXPECT_EXIT(
      {
        struct sigaction sa {};
        sa.sa_handler = previous_handler;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGBUS, &sa, nullptr);
        install_fault_guard();
        ShrinkableFile f;
        f.truncate(0);
        uint8_t b = 0;
        if (guarded_copy(&b, f.map, 1)) ::_exit(3);
        unguarded_read(f.map);
        ::_exit(4);
      },
      ::testing::ExitedWithCode(42), "");
}

}  // namespace
}  // namespace vhs::test
