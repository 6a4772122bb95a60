// `record -w FILE -C SIZE [-W N]`: the capture split into files of at most SIZE bytes, the way
// tcpdump -C/-W rotates, keeping the newest N. Names sort in recording order (rotated_file_name):
// `-w cap.pcap` writes cap-000000.pcap, cap-000001.pcap, ...; with N, creating file k removes
// file k-N. Every file is a complete capture: its own pcap header, and first the records the
// `preamble` callback returns (copies of earlier records marked kRecordRepeated: the sessions'
// negotiation, requests still waiting, ring states), so a session that spans a rotation decodes
// in the later file too. Each file goes through open_output_fd (no links, FIFOs, devices).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "captures/format/record.hpp"

namespace vhs {

struct RotationOptions {
  std::string path;  // the -w name the file names are made from
  // A file is closed before the first record after its own records reached this size (the
  // repeated records at its start are not counted).
  uint64_t max_bytes = 0;
  uint32_t max_files = 0;  // keep at most this many files, removing the oldest; 0: keep all
  // Records that a new file (every file after the first) starts with, for the record about to be
  // written; may be empty.
  std::function<std::vector<Record>()> preamble;
};

// "cap.pcap", 3 -> "cap-000003.pcap"; "cap" -> "cap-000003". Six digits (more past 999999, still
// in order for `sort -V`/`ls -v`), before the extension of the last path component.
std::string rotated_file_name(const std::string& path, uint64_t index);

class RotatingCaptureWriter final : public RecordSink {
 public:
  // Creates the first file; nullptr and `error` set when it cannot be created.
  static std::unique_ptr<RotatingCaptureWriter> create(RotationOptions options, std::string& error);
  ~RotatingCaptureWriter() override;

  void write(const Record& record);
  void on_record(const Record& record) override { write(record); }
  bool flush();  // false on a write or create error; error() says which
  const std::string& error() const { return error_; }

  uint64_t records_written() const { return records_; }  // the recorder's own, not the repeated
  uint64_t files_created() const { return next_index_; }
  std::string current_path() const;

 private:
  struct Created {
    std::string path;
    dev_t dev = 0;
    ino_t ino = 0;
  };

  explicit RotatingCaptureWriter(RotationOptions options);
  bool open_next(std::string& error);
  void remove_oldest();

  RotationOptions options_;
  std::unique_ptr<CaptureWriter> current_;
  uint64_t current_records_ = 0;  // the recorder's own records in the current file
  uint64_t repeated_bytes_ = 0;   // the current file's repeated records (not counted in SIZE)
  uint64_t next_index_ = 0;
  uint64_t records_ = 0;
  std::deque<Created> kept_;  // files created and not removed, oldest first
  std::string error_;
};

}  // namespace vhs
