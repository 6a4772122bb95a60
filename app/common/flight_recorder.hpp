// `record --keep-last DURATION --on-finding DIR`: a record sink that keeps the last DURATION in
// memory (captures/model/window_recorder.hpp) and, for every window around a hang or error
// finding, writes DIR/<time>-<finding-id>.pcap and next to it the Markdown report `vhostscope
// report` gives for that capture, prefixed with the live findings that opened the window.
// Records arrive on the relay thread; a timer thread of its own lets time pass (a missing reply
// or a frozen ring sends nothing) and writes the files, so the relay never waits for a disk.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "captures/format/record.hpp"
#include "captures/model/window_recorder.hpp"

namespace vhs {

struct FlightRecorderOptions {
  WindowOptions window;
  std::string dir;                            // where the windows go; created 0700 when missing
  std::string tool_version;                   // for the report ("vhostscope 0.1.0")
  std::function<void(std::string_view)> log;  // one line per window written or refused
  uint64_t tick_ns = 100'000'000;             // how often time is advanced
};

// DIR made safe to write into: an existing directory (not a symbolic link to one), or a new one
// created 0700 (its parent must exist). false + `error` otherwise.
bool prepare_flight_dir(const std::string& dir, std::string& error);

// "20261203T165012.345Z-reply-timeout": the window's file name without extension (UTC).
std::string flight_window_stem(uint64_t trigger_ns, std::string_view finding_id);

// Writes `window` as DIR/<stem>.pcap and DIR/<stem>.md; the paths written are appended to
// `written`. false + `error` when a file could not be written.
bool write_flight_window(const std::string& dir, const FlightWindow& window,
                         const std::string& tool_version, std::vector<std::string>& written,
                         std::string& error);

class FlightRecorder final : public RecordSink {
 public:
  // Prepares DIR and starts the timer thread; nullptr + `error` when DIR is unusable.
  static std::unique_ptr<FlightRecorder> create(FlightRecorderOptions options, std::string& error);
  ~FlightRecorder() override;  // stop() if not done

  void on_record(const Record& record) override;
  // No more records: an open window is written with what it has, the timer thread ends.
  void stop();

  uint64_t windows_written() const;
  uint64_t suppressed() const;

 private:
  explicit FlightRecorder(FlightRecorderOptions options);
  void run();
  void write_finished(std::vector<FlightWindow> windows);

  FlightRecorderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool stopped_ = false;
  WindowRecorder recorder_;
  uint64_t windows_written_ = 0;
  uint64_t suppressed_logged_ = 0;
  std::mutex write_mu_;  // one writer of files at a time (timer thread, then stop())
  std::thread thread_;
};

}  // namespace vhs
