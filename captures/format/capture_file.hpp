// Reading and writing captures: classic pcap (nanosecond timestamps, LINKTYPE_USER0 = 147), one
// pseudo-header + raw message per packet; see docs/capture-format.md. Reading goes through
// libpcap, so pcapng files are accepted too.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "captures/format/record.hpp"

namespace vhs {

inline constexpr int kCaptureLinkType = 147;  // LINKTYPE_USER0

// The path that means standard input to a reader and standard output to a writer, as in tcpdump.
inline constexpr const char* kStandardStream = "-";

// The snaplen written into every capture: large enough for any relayable message (the largest
// payload + header + fd table) with a wide margin; also the largest packet libpcap reads, whatever
// a file's header says, so both readers refuse a bigger one.
inline constexpr uint32_t kCaptureSnapLen = 262144;
inline constexpr uint64_t kCaptureNanosPerSecond = 1'000'000'000;

enum class PacketStatus : uint8_t;

// What both readers (CaptureReader, MappedCapture) know of a stream so far, and the one place
// that turns a packet's decode status and a cut-off file into counts and warnings, so that the
// two readers count and warn alike.
struct CaptureProgress {
  uint64_t packets = 0;  // packets seen, including skipped ones: warnings count these
  uint64_t records = 0;  // records returned
  bool done = false;
  std::string warning;
  std::string why;  // scratch for the packet decoders, reused

  // One more packet decoded with `status`: true when its record is handed out; false when it is
  // skipped (a kind written by a newer vhostscope) or the stream stops (a corrupt record: done).
  bool accept(PacketStatus status);
  // The file ends inside a packet after the packets seen: `detail` in libpcap's words.
  void truncated(std::string_view detail);
};

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
