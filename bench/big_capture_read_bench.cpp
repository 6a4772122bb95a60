// The baseline of bench/big_capture_bench.sh: reading a capture's records and nothing else, once
// through libpcap (CaptureReader, what pipes get) and once through the memory map (MappedCapture,
// what `summary FILE` gets). Prints one line per reader: records, seconds, records/s.
//
//   big_capture_read_bench FILE
#include <chrono>
#include <cstdio>
#include <string>

#include "captures/format/capture_file.hpp"
#include "captures/format/mapped_capture.hpp"

namespace {

using Clock = std::chrono::steady_clock;

void report(const char* reader, uint64_t records, uint64_t bytes, Clock::time_point start) {
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%-8s %llu records %llu bytes in %.3f s (%.0f records/s)\n", reader,
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes), s,
              s > 0 ? static_cast<double>(records) / s : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: big_capture_read_bench FILE\n");
    return 2;
  }
  const std::string path = argv[1];
  {
    const auto start = Clock::now();
    std::string error;
    auto reader = vhs::CaptureReader::open(path, error);
    if (!reader) {
      std::fprintf(stderr, "big_capture_read_bench: %s\n", error.c_str());
      return 1;
    }
    vhs::Record r;
    uint64_t n = 0, bytes = 0;
    while (reader->next(r)) {
      ++n;
      bytes += r.bytes.size();
    }
    report("libpcap", n, bytes, start);
  }
  {
    const auto start = Clock::now();
    auto mapped = vhs::MappedCapture::open(path);
    if (!mapped) {
      std::fprintf(stderr, "big_capture_read_bench: %s is not mappable\n", path.c_str());
      return 1;
    }
    vhs::RecordView r;
    uint64_t n = 0, bytes = 0;
    while (mapped->next(r)) {
      ++n;
      bytes += r.bytes.size();
      mapped->release_read_pages();
    }
    report("mapped", n, bytes, start);
  }
  return 0;
}
