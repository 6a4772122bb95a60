// Reading a capture file through a read-only memory map: records come out as RecordViews whose
// bytes point into the mapping (no copy per record), so a store can keep offsets instead of
// copies. Only what the map can serve is taken: a regular file in classic pcap format, little
// endian, with our link type. Everything else (pcapng, pipes, a file that is not a capture at
// all, a pcap version libpcap does not read) is left to CaptureReader, which reads it through
// libpcap and explains what is wrong.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "captures/format/record.hpp"

namespace vhs {

class MappedCapture {
 public:
  // The file mapped as it is now (a file that grows later is read only up to the size it had
  // here); nullptr when it is not a file this reader serves (see above) or cannot be mapped.
  // `label` names the file if it can no longer be read (watch_mapped_capture in mapping_fault.hpp).
  static std::shared_ptr<MappedCapture> open(const std::string& path,
                                             const std::string& label = {});
  ~MappedCapture();
  MappedCapture(const MappedCapture&) = delete;
  MappedCapture& operator=(const MappedCapture&) = delete;

  // The next record in file order; false at the end of the readable records. out.bytes stays
  // valid while this object lives; out.fds only until the next call. A truncated or corrupt tail
  // ends the stream with warning() set in the words CaptureReader uses.
  bool next(RecordView& out);
  const std::string& warning() const { return progress_.warning; }
  uint64_t records_read() const { return progress_.records; }

  // The mapped bytes (valid while this object lives).
  std::span<const uint8_t> bytes() const { return {base_, size_}; }

  // Gives the pages already read back to the kernel: they stay in the page cache and come back
  // on the next access, but no longer count as this process's memory while a big capture is
  // ingested.
  void release_read_pages();
  // The same for a consumer on another thread than next()'s: the pages of the steps before the
  // one holding `at` (the record it is reading) are handed back. Touches no state next() uses.
  void release_pages_before(const uint8_t* at);
  // Later reads of records' bytes (a second pass, a viewer): `at` is about to be read. The
  // window of its step that holds it is mapped in; when the reads move to another step, the one
  // they left is handed back (a no-op for a pointer outside the mapping).
  void note_access(const uint8_t* at) const;

 private:
  MappedCapture(const uint8_t* base, size_t size, bool nanosecond);

  const uint8_t* base_;
  size_t size_;
  bool nanosecond_;
  size_t pos_;                       // the next record header
  size_t released_ = 0;              // pages before this offset were handed back
  size_t populated_ = 0;             // next(): pages before this offset were mapped in ahead
  mutable size_t access_step_ = 0;         // note_access: the step of the last read
  mutable bool access_populated_ = false;  // note_access mapped windows of access_step_ in
  mutable uint64_t access_windows_ = 0;    // which windows of access_step_ (bit per window)
  CaptureProgress progress_;
  std::vector<FdInfo> fds_;  // scratch: the current record's fd descriptions
};

}  // namespace vhs
