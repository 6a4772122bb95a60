// Rotated captures that read on their own (see rotating_recorder.hpp).
#include "captures/model/rotating_recorder.hpp"

namespace vhs {

std::unique_ptr<RotatingRecorder> RotatingRecorder::create(RotationOptions options,
                                                           std::string& error) {
  std::unique_ptr<RotatingRecorder> r(new RotatingRecorder());
  LiveSessions* live = &r->live_;
  // Called when a record is about to be written to a new file, before LiveSessions sees it: the
  // state is the one that record meets (the request it may answer is still waiting).
  options.preamble = [live] {
    std::vector<Record> out;
    for (SequencedRecord& s : live->preamble(live->observed())) out.push_back(std::move(s.record));
    return out;
  };
  r->writer_ = RotatingCaptureWriter::create(std::move(options), error);
  if (!r->writer_) return nullptr;
  return r;
}

void RotatingRecorder::on_record(const Record& record) {
  writer_->write(record);
  findings_.clear();
  live_.observe(record, findings_);
}

}  // namespace vhs
