// Writes a capture from records built in the test (builder bytes), for tests that feed the CLI,
// the store or the replayer a session they spell out record by record.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "captures/format/record.hpp"
#include "support/message_builder.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {

// Records of session 1 in the order added, each `step_ns` after the one before.
class RecordList {
 public:
  explicit RecordList(uint64_t start_ns = 1'700'000'000'000'000'000ull, uint64_t step_ns = 1000)
      : time_ns_(start_ns), step_ns_(step_ns) {}

  void add(RecordKind kind, Direction direction, Bytes bytes, std::vector<FdInfo> fds = {});

  const std::vector<Record>& records() const { return records_; }
  std::vector<Record> take() { return std::move(records_); }

 private:
  uint64_t time_ns_;
  uint64_t step_ns_;
  std::vector<Record> records_;
};

// Writes `records` to dir/name through the real CaptureWriter and returns the path; a failure to
// create or flush the file fails the test.
std::string write_capture(const TempDir& dir, const std::string& name,
                          const std::vector<Record>& records);

}  // namespace vhs::test
