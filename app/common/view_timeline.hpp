// Timeline view-model: entries sorted into lanes (per channel, per queue, connection events),
// each lane a sorted array of timestamps, so counting the messages under one pixel is two binary
// searches and drawing a million messages costs lanes x pixels x log(n), not n. Also the zoom /
// pan arithmetic and the hang spans (requests left waiting) drawn across the lanes.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vhs {
class Store;
}

namespace vhs::view {

enum class LaneKind : uint8_t {
  Events = 0,          // connect / disconnect / transport errors
  Control = 1,         // front-end channel messages not about one queue
  Queue = 2,           // front-end channel messages naming queue `queue`
  BackendChannel = 3,  // back-end channel messages
  RingRecords = 4,     // ring snapshots / notifications (issue 4 records)
};

struct LaneKey {
  LaneKind kind = LaneKind::Control;
  uint32_t queue = 0;  // LaneKind::Queue only
  auto operator<=>(const LaneKey&) const = default;
};

struct TimelineLane {
  LaneKey key;
  std::string label;              // "control", "queue 0", "back-end ch", "events"
  std::vector<uint64_t> times;    // sorted
  std::vector<uint32_t> entries;  // parallel to times
  std::vector<uint32_t>
      errors;  // positions (into times) of entries whose worst finding is an error
  std::vector<uint32_t> warnings;  // ... a warning
};

struct TimelineBucket {
  uint32_t count = 0;
  uint32_t errors = 0;
  uint32_t warnings = 0;
  uint32_t first_entry = UINT32_MAX;  // earliest entry in the bucket (click target)
};

// A request left waiting: from the request to its late reply, the session's end, or "now".
struct HangSpan {
  uint32_t entry = 0;
  size_t lane = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  bool open = false;  // still waiting (live)
  // What waited, for the label ("GET_VRING_BASE waited", "q0 stalled (1 in flight) for"); the view
  // appends the duration.
  std::string what;
};

class TimelineIndex {
 public:
  // Sorts up to `budget` new entries into lanes; true when caught up with `store`.
  bool update(const Store& store, size_t budget);
  // Forget everything (new store), or re-derive severity marks after findings were attributed
  // to old entries (cheap: only the flagged entries are visited).
  void invalidate();
  void refresh_findings(const Store& store);

  // Lanes in display order (events, control, queues ascending, back-end channel, ring records).
  const std::vector<TimelineLane>& lanes() const { return lanes_; }
  size_t indexed() const { return indexed_; }
  // Lane of an indexed entry (SIZE_MAX if not indexed yet).
  size_t lane_of(uint32_t entry) const;
  uint64_t min_time() const { return min_time_; }
  uint64_t max_time() const { return max_time_; }

  // Splits [t0, t1) into `n` equal buckets and counts lane `lane`'s entries in each.
  void bucket(size_t lane, uint64_t t0, uint64_t t1, size_t n,
              std::vector<TimelineBucket>& out) const;
  // The entry of `lane` closest in time to `t` (UINT32_MAX if the lane is empty).
  uint32_t nearest_entry(size_t lane, uint64_t t) const;

 private:
  size_t lane_for(const LaneKey& key);
  void add_marks(const Store& store, size_t lane, uint32_t pos, uint32_t entry);

  std::vector<TimelineLane> lanes_;
  std::vector<uint16_t> entry_lane_;  // per indexed entry
  std::vector<uint32_t> entry_pos_;   // position inside its lane
  size_t indexed_ = 0;
  uint64_t min_time_ = UINT64_MAX;
  uint64_t max_time_ = 0;
};

// Which lane an entry belongs to (decodes vring messages for their queue index; replies and
// acks follow their request).
LaneKey lane_key_of(const Store& store, uint32_t entry, const TimelineIndex& index);

// Hangs to draw: entries flagged unanswered / missing-reply / reply-timeout / disconnect-with-
// pending, plus (when `live`) requests currently waiting, ending at `now`. A ring-stalled finding
// is no request: its span is the stall episode (the used index standing still with requests in
// flight, from the first such ring state to the one where it moved) on its queue's lane.
std::vector<HangSpan> hang_spans(const Store& store, const TimelineIndex& index, uint64_t now,
                                 bool live);

// The visible window of the timeline, in absolute nanoseconds.
struct TimeRange {
  uint64_t t0 = 0;
  uint64_t t1 = 1;
  uint64_t width() const { return t1 > t0 ? t1 - t0 : 0; }
  bool operator==(const TimeRange&) const = default;
};

inline constexpr uint64_t kMinTimelineWidthNs = 1000;  // 1 us: below that nothing more to see

// Zooms by `factor` (< 1 zooms in) keeping the time under `anchor` (0..1 across the range) fixed,
// then clamps into `bounds` (the data range): never narrower than kMinTimelineWidthNs, never
// wider than `bounds`.
TimeRange zoom_range(TimeRange r, double factor, double anchor, TimeRange bounds);
// Shifts by `delta_ns` (positive: later), clamped so the window stays inside `bounds`.
TimeRange pan_range(TimeRange r, int64_t delta_ns, TimeRange bounds);
// The data range padded a little so the first and last messages are not on the border.
TimeRange fit_range(uint64_t min_time, uint64_t max_time);

}  // namespace vhs::view
