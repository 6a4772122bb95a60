// Reading and writing captures: classic pcap (nanosecond timestamps, LINKTYPE_USER0 = 147), one
// pseudo-header + raw message per packet; see docs/capture-format.md. Reading goes through
// libpcap, so pcapng files are accepted too.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "captures/format/record.hpp"

namespace vhs {

inline constexpr int kCaptureLinkType = 147;  // LINKTYPE_USER0

// The path that means standard input to a reader and standard output to a writer, as in tcpdump.
inline constexpr const char* kStandardStream = "-";

struct GrowingFileOptions;

// Appends records to a pcap file. Writes are buffered; flush() pushes them to the kernel so a
// killed process leaves every flushed record readable.
class CaptureWriter final : public RecordSink {
 public:
  // nullptr and `error` set ("cannot create capture 'x': Permission denied") on failure. "-"
  // writes the pcap stream to standard output (refused when that is a terminal).
  static std::unique_ptr<CaptureWriter> create(const std::string& path, std::string& error);
  ~CaptureWriter() override;

  void write(const Record& record);
  void on_record(const Record& record) override { write(record); }
  bool flush();  // false on a write error (disk full); error() says why
  const std::string& error() const;
  uint64_t records_written() const;
  // The file's size once flushed: header and every record written so far (`record -C`).
  uint64_t bytes_written() const;

 private:
  struct Impl;
  explicit CaptureWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads records in file order.
class CaptureReader {
 public:
  // nullptr and `error` set for: missing file, not a pcap/pcapng file, wrong link type. "-"
  // reads standard input (a pipe from `record -w -`: next() waits for records as they come).
  static std::unique_ptr<CaptureReader> open(const std::string& path, std::string& error);
  // A capture still being written: next() waits at the end of the file for more records until
  // options.stop is set (growing_file.hpp).
  static std::unique_ptr<CaptureReader> open_growing(const std::string& path,
                                                     const GrowingFileOptions& options,
                                                     std::string& error);
  ~CaptureReader();

  // false at the end of the readable records. A truncated or corrupt tail ends the stream with
  // warning() set ("capture truncated after record 1234: ..."); earlier records stay valid.
  bool next(Record& out);
  const std::string& warning() const;
  uint64_t records_read() const;

 private:
  struct Impl;
  static std::unique_ptr<CaptureReader> from_stream(FILE* file, const std::string& path,
                                                    std::string& error);
  explicit CaptureReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vhs
