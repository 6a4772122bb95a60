// The GUI's controller: owns the Store and every thread, socket and file behind it, so views only
// read the model and emit intents (open, save, go live, stop). Opening a capture shows a fresh
// Store at once and pump() reads the file into it a time-bounded slice per frame, the way a live
// session grows its Store: the first rows are on screen in the first frame and the views index
// what has arrived while the rest loads. A live session runs the proxy relay on its own thread
// feeding a RecordQueue that pump() drains at the start of each frame, so a slow frame never
// slows the relay.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "captures/format/mapped_capture.hpp"
#include "captures/model/store.hpp"
#include "decoders/vhost_user/features.hpp"
#include "proxy/relay.hpp"

namespace vhs::gui {

enum class Mode : uint8_t { Empty, Capture, Live };

struct LiveOptions {
  RelayEndpoint frontend;
  RelayEndpoint backend;
  std::string write;                // record to this file too (empty: no)
  std::vector<std::string> breaks;  // step debugging: breakpoints from the start (docs/step.md)
};

// What changed in the model since the last pump().
struct PumpResult {
  bool replaced = false;       // a different Store is shown now (views reset their indexes)
  size_t appended = 0;         // records appended to the shown Store
  bool finished = false;       // Store::finish() ran (findings may have been added to old entries)
  bool ring_findings = false;  // live: a ring hang was raised on an older entry as time passed
};

class Controller {
 public:
  explicit Controller(DeviceKind device = DeviceKind::Unknown);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  const Store& store() const { return *store_; }

  // Intents. Errors land in last_error() (and the returned false).
  bool open_capture(const std::string& path);  // shows an empty Store that pump() fills
  bool start_live(const LiveOptions& options);
  void stop_live();                            // relay stops, remaining records drained, finish()
  bool save_capture(const std::string& path);  // writes the shown store's records

  // Frame start: reads the next slice of a capture being loaded (for at most `budget_ms`), drains
  // live records.
  PumpResult pump(double budget_ms = kUnbounded);
  static constexpr double kUnbounded = 1e300;
  // Reads the rest of a capture being loaded now (self-test modes); the next pump() reports it.
  void wait_for_load();

  Mode mode() const { return mode_; }
  bool loading() const { return loading_.has_value(); }
  const std::string& loading_path() const { return loading_path_; }  // the file being loaded
  uint64_t load_progress() const { return load_records_; }           // records read so far
  // How much of the file has been read, 0..1 (0 when it cannot be told: a pipe, pcapng).
  double load_fraction() const;
  const std::string& source() const { return source_; }              // file path or live endpoints
  bool live_running() const { return relay_thread_.joinable() && !relay_done_.load(); }
  RelayStats live_stats() const;
  // Step debugging: one line of the control protocol (docs/step.md) to the live relay, answered
  // by the relay thread; "error: no live session" when none runs.
  std::string debug_command(std::string_view line);
  uint64_t dropped() const;
  const std::string& recording_path() const { return recording_; }
  double last_load_seconds() const { return load_seconds_; }

  std::string last_error() const;
  std::string last_warning() const;
  void clear_messages();
  // Recent relay log lines (newest last).
  std::vector<std::string> log_lines() const;

 private:
  // Reads records of the capture being loaded into store_ until `budget_ms` passed or the file
  // ended (then finishes the Store). Returns the number of records appended.
  size_t load_slice(double budget_ms, bool& finished);
  void set_error(std::string e);
  void set_warning(std::string w);

  DeviceKind device_;
  std::unique_ptr<Store> store_;
  Mode mode_ = Mode::Empty;
  std::string source_;
  std::string loading_path_;  // GUI thread only
  double load_seconds_ = 0;

  // The capture being read into store_, one of the two readers.
  struct Loading {
    // A regular capture file is read where it lies, as load_capture does for the CLI (the store
    // keeps the mapping and a compact index, not a copy of every record).
    std::shared_ptr<MappedCapture> mapped;
    std::unique_ptr<CaptureReader> reader;  // anything else (pipes, pcapng), through libpcap
    std::chrono::steady_clock::time_point started;
    size_t offset = 0;  // mapped: where the last record read ends
  };
  std::optional<Loading> loading_;
  uint64_t load_records_ = 0;

  // Live.
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<RecordQueue> queue_;
  std::unique_ptr<CaptureWriter> writer_;
  std::thread relay_thread_;
  std::atomic<bool> relay_done_{false};
  bool live_finished_ = false;
  // Changes made outside pump() (start/stop live), reported by the next pump().
  bool replaced_pending_ = false;
  bool finished_pending_ = false;
  std::string recording_;

  mutable std::mutex mutex_;  // guards the messages, the log and the load hand-over
  std::string error_, warning_;
  std::vector<std::string> log_;
};

}  // namespace vhs::gui
