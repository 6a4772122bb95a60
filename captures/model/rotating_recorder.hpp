// `record -w FILE -C SIZE [-W N]` as one sink: every record is stored by the rotating writer and
// then followed live (LiveSessions), so a new file can start with the records its sessions need
// repeated, as they stood before its first record (rotating_capture.hpp, live_sessions.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "captures/format/rotating_capture.hpp"
#include "captures/model/live_sessions.hpp"

namespace vhs {

class RotatingRecorder final : public RecordSink {
 public:
  // `options.preamble` is set here. nullptr + `error` when the first file cannot be created.
  static std::unique_ptr<RotatingRecorder> create(RotationOptions options, std::string& error);

  void on_record(const Record& record) override;
  RotatingCaptureWriter& writer() { return *writer_; }
  const RotatingCaptureWriter& writer() const { return *writer_; }

 private:
  RotatingRecorder() = default;

  LiveSessions live_;
  std::unique_ptr<RotatingCaptureWriter> writer_;
  std::vector<LiveFinding> findings_;  // scratch: rotation does not act on findings
};

}  // namespace vhs
