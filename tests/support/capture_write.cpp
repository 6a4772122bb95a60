// Test captures written from builder records (see capture_write.hpp).
#include "support/capture_write.hpp"

#include <gtest/gtest.h>

#include "captures/format/capture_file.hpp"

namespace vhs::test {

void RecordList::add(RecordKind kind, Direction direction, Bytes bytes, std::vector<FdInfo> fds) {
  Record r;
  r.kind = kind;
  r.direction = direction;
  r.session = 1;
  r.timestamp_ns = time_ns_ += step_ns_;
  r.fds = std::move(fds);
  r.bytes = std::move(bytes);
  records_.push_back(std::move(r));
}

std::string write_capture(const TempDir& dir, const std::string& name,
                          const std::vector<Record>& records) {
  const std::string path = dir / name;
  std::string error;
  auto w = CaptureWriter::create(path, error);
  EXPECT_TRUE(w) << error;
  if (!w) return path;
  for (const Record& r : records) w->write(r);
  EXPECT_TRUE(w->flush()) << w->error();
  return path;
}

}  // namespace vhs::test
