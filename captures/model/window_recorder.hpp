// The flight recorder's memory (`record --keep-last DURATION --on-finding DIR`): keeps only the
// last DURATION of records (and at most a byte cap) and follows them live (LiveSessions). When a
// hang or error finding appears, it opens a window: the records from DURATION before the finding,
// then what follows until every hang in the window has cleared (a late reply came, a stalled ring
// moved, the session ended) or DURATION has passed since the finding — a one-shot error
// (malformed message, relay error) has nothing to clear, so its window always runs DURATION.
// Findings while a window is open join it (one file for all of them); windows never overlap, and
// at most max_windows_per_hour windows are opened in any rolling hour (later findings are counted
// in suppressed(), not written). A finished window is a complete capture: the preamble
// LiveSessions repeats (negotiation, requests still waiting, ring states) and the window's records,
// less replies whose request was before the window and not repeated.
// Single-threaded: the caller serialises on_record/advance (record feeds it from the relay thread
// and a timer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "captures/format/record.hpp"
#include "captures/model/live_sessions.hpp"

namespace vhs {

struct WindowOptions {
  uint64_t keep_ns = 30'000'000'000;    // DURATION
  size_t max_bytes = size_t{64} << 20;  // the buffer's byte cap (record bytes + fd tables)
  uint32_t max_windows_per_hour = 10;
};

struct FlightWindow {
  uint64_t trigger_ns = 0;            // when the first finding was raised
  std::vector<LiveFinding> findings;  // the first and every one that joined, in order
  // The repeated preamble, the window's own records, then for every session still open a
  // Disconnect flagged kRecordClosedByProxy | kRecordWindowEnd at the window's end.
  std::vector<Record> records;
  uint64_t repeated = 0;         // how many of `records` are the preamble
  uint64_t closing = 0;          // how many are the closing records at the end
  uint64_t first_ns = 0;         // the window's first own record
  uint64_t last_ns = 0;          // the window's end
  uint64_t lost = 0;             // own records the byte cap pushed out while the window was open
  uint64_t dropped_replies = 0;  // replies left out: their request was before the window
  bool cut_by_stop = false;      // the recorder stopped before the window would have closed
};

class WindowRecorder {
 public:
  explicit WindowRecorder(WindowOptions options);

  void on_record(const Record& record);
  // Time passes (CLOCK_REALTIME): reply timeouts and ring stalls fire, windows close.
  void advance(uint64_t now_ns);
  // The recorder stops: an open window is closed with what it has.
  void stop(uint64_t now_ns);
  // Windows closed since the last call, oldest first.
  std::vector<FlightWindow> take_finished();

  bool window_open() const { return open_.has_value(); }
  uint64_t suppressed() const { return suppressed_; }  // findings that opened no window (rate)
  size_t buffered_records() const { return buffer_.size(); }
  size_t buffered_bytes() const { return buffer_bytes_; }

 private:
  struct Buffered {
    uint64_t sequence = 0;
    uint64_t answers_sequence = kNoSequence;
    size_t bytes = 0;
    Record record;
  };
  struct Open {
    uint64_t trigger_ns = 0;
    uint64_t deadline_ns = 0;
    uint64_t first_sequence = 0;
    std::vector<LiveFinding> findings;
    std::vector<SequencedRecord> preamble;
    uint64_t lost = 0;
  };

  void handle(std::vector<LiveFinding>& raised, uint64_t now_ns);
  void open_window(const LiveFinding& first, uint64_t now_ns);
  bool cleared() const;
  void close_window(uint64_t now_ns, bool by_stop);
  void evict(uint64_t now_ns);

  WindowOptions options_;
  LiveSessions live_;
  std::deque<Buffered> buffer_;
  size_t buffer_bytes_ = 0;
  uint64_t newest_ns_ = 0;
  std::optional<Open> open_;
  std::deque<uint64_t> opened_at_;  // trigger times of the windows of the last hour
  std::vector<FlightWindow> finished_;
  std::vector<LiveFinding> raised_;  // scratch
  uint64_t suppressed_ = 0;
};

}  // namespace vhs
