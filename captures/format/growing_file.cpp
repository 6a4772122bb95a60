// A stdio stream that waits at the end of a growing file (see growing_file.hpp), built with
// glibc's fopencookie so libpcap can read it like any other FILE.
#include "captures/format/growing_file.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace vhs {
namespace {

struct GrowingFile {
  int fd = -1;
  GrowingFileOptions options;
};

bool stop_requested(const GrowingFile& f) {
  return f.options.stop != nullptr && f.options.stop->load(std::memory_order_relaxed);
}

ssize_t read_waiting(void* cookie, char* buf, size_t size) {
  auto& f = *static_cast<GrowingFile*>(cookie);
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, size);
    if (n > 0) return n;
    if (n < 0 && errno != EINTR) return -1;
    // End of the file for now: the writer has not flushed more yet.
    if (stop_requested(f)) return 0;
    ::poll(nullptr, 0, static_cast<int>(f.options.poll_interval.count()));
  }
}

int close_growing(void* cookie) {
  std::unique_ptr<GrowingFile> f(static_cast<GrowingFile*>(cookie));
  return ::close(f->fd);
}

}  // namespace

FILE* open_growing_file(const std::string& path, const GrowingFileOptions& options,
                        std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = fmt::format("cannot open capture '{}': {}", path, std::strerror(errno));
    return nullptr;
  }
  auto cookie = std::make_unique<GrowingFile>(GrowingFile{fd, options});
  cookie_io_functions_t io{};
  io.read = read_waiting;
  io.close = close_growing;
  FILE* file = ::fopencookie(cookie.get(), "rb", io);
  if (file == nullptr) {
    error = fmt::format("cannot open capture '{}': {}", path, std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  cookie.release();  // owned by the stream now: close_growing frees it
  return file;
}

}  // namespace vhs
