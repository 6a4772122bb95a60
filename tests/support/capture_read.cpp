// Whole-capture reading for tests (see capture_read.hpp).
#include "support/capture_read.hpp"

#include <algorithm>
#include <filesystem>

#include "captures/format/capture_file.hpp"

namespace vhs::test {

CaptureContents read_capture(const std::string& path) {
  CaptureContents c;
  auto reader = CaptureReader::open(path, c.error);
  if (!reader) return c;
  c.opened = true;
  Record r;
  while (reader->next(r)) c.records.push_back(r);
  c.warning = reader->warning();
  return c;
}

std::vector<const Record*> CaptureContents::messages(Channel channel, Direction direction) const {
  std::vector<const Record*> out;
  for (const Record& r : records)
    if (r.kind == RecordKind::Message && r.channel == channel && r.direction == direction)
      out.push_back(&r);
  return out;
}

std::vector<const Record*> CaptureContents::of_kind(RecordKind kind) const {
  std::vector<const Record*> out;
  for (const Record& r : records)
    if (r.kind == kind) out.push_back(&r);
  return out;
}

std::vector<std::string> shipped_and_hostile_captures() {
  std::vector<std::string> paths;
  for (const char* dir : {"/captures/samples", "/tests/data/hostile"})
    for (const auto& e : std::filesystem::directory_iterator(std::string(VHS_SOURCE_DIR) + dir))
      if (e.path().extension() == ".pcap") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace vhs::test
