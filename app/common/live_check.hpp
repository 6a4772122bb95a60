// `record --check`: the conformance rules run live. A record sink (called on the relay thread)
// that keeps one ConformanceChecker per session, fed each record as it is relayed, and hands one
// line per new violation to `print` at once:
//   check s1 VU-RING-001 back-end #45: GET_VRING_BASE reply 0 (a reset value: ...) (spec "Ring
//   states")
// Record numbers are those of the capture being written (every record reaches every sink in
// order). Violations found only when a session ends (a reply never sent) print at its end.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "captures/format/record.hpp"
#include "decoders/conformance/checker.hpp"

namespace vhs {

class LiveCheck final : public RecordSink {
 public:
  explicit LiveCheck(std::function<void(const std::string&)> print);
  void on_record(const Record& record) override;
  uint64_t violations() const { return violations_; }

 private:
  struct SessionCheck {
    ConformanceChecker checker;
    size_t printed = 0;
  };
  void report(uint32_t session, SessionCheck& s);

  std::function<void(const std::string&)> print_;
  std::map<uint32_t, SessionCheck> sessions_;
  MessageRef next_ref_ = 0;
  uint64_t violations_ = 0;
};

}  // namespace vhs
