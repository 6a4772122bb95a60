#include "tests/fuzz/memory_file.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace vhs::fuzz {

namespace {

struct MemoryFile {
  int fd = -1;
  std::string path;

  MemoryFile() {
    fd = ::memfd_create("vhs-fuzz-capture", MFD_CLOEXEC);
    if (fd < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
};

}  // namespace

const std::string& write_memory_file(std::span<const uint8_t> bytes) {
  static MemoryFile file;
  if (::ftruncate(file.fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(file.fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return file.path;
}

}  // namespace vhs::fuzz
