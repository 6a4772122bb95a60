// Reads a whole capture back for assertions (through the real CaptureReader).
#pragma once

#include <string>
#include <vector>

#include "captures/format/record.hpp"

namespace vhs::test {

struct CaptureContents {
  bool opened = false;
  std::string error;    // why it could not be opened
  std::string warning;  // truncated tail etc.
  std::vector<Record> records;

  std::vector<const Record*> messages(Channel channel, Direction direction) const;
  std::vector<const Record*> of_kind(RecordKind kind) const;
};

CaptureContents read_capture(const std::string& path);

// Every .pcap of captures/samples and tests/data/hostile, sorted: the captures a whole-capture
// comparison runs over.
std::vector<std::string> shipped_and_hostile_captures();

}  // namespace vhs::test
