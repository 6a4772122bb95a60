// Timeline view-model: entries sorted into lanes (per channel, per queue, connection events),
// each lane a sorted array of timestamps, so counting the messages under one pixel is two binary
// searches and drawing a million messages costs lanes x pixels x log(n), not n. Also the time
// axis that compresses idle stretches, the zoom / pan arithmetic, and the hang spans (requests
// left waiting) drawn across the lanes.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vhs {
class Store;
}

namespace vhs::view {

enum class LaneKind : uint8_t {
  Events = 0,          // connect / disconnect / transport errors
  Control = 1,         // front-end channel messages not about one queue
  Queue = 2,           // queue `queue`: its messages, kicks, calls and ring states (QueueTrack)
  BackendChannel = 3,  // back-end channel messages
  RingRecords = 4,     // ring snapshots / notifications (issue 4 records)
};

// What a queue's lane shows, one track each, drawn together under the queue: the messages that
// set it up (and notifier set-up / teardown), the kicks, the calls, and its ring states.
enum class QueueTrack : uint8_t { Messages = 0, Kicks = 1, Calls = 2, RingStates = 3 };

struct LaneKey {
  LaneKind kind = LaneKind::Control;
  uint32_t queue = 0;                       // LaneKind::Queue only
  QueueTrack track = QueueTrack::Messages;  // LaneKind::Queue only
  auto operator<=>(const LaneKey&) const = default;
};

// A stretch of time with no record at all.
struct IdleGap {
  uint64_t start = 0;  // the last record before it
  uint64_t end = 0;    // the first record after it
  uint64_t duration() const { return end - start; }
  bool operator==(const IdleGap&) const = default;
};

// Silences shorter than this are never compressed (the ring sampler's period is 50 ms).
inline constexpr uint64_t kIdleGapFloorNs = 100'000'000;

struct TimelineLane {
  LaneKey key;
  std::string label;              // "control", "queue 0", "q0 kicks", "back-end ch", "events"
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
  // Counts lane `lane`'s entries in each [edges[k], edges[k + 1]) (ascending times): buckets of
  // equal width on a compressed axis are of unequal width in time.
  void bucket_edges(size_t lane, std::span<const uint64_t> edges,
                    std::vector<TimelineBucket>& out) const;
  // Every silence of at least kIdleGapFloorNs between records, in time order: what a TimeAxis
  // may compress.
  const std::vector<IdleGap>& idle_gaps() const { return gaps_; }
  // The entry of `lane` closest in time to `t` (UINT32_MAX if the lane is empty).
  uint32_t nearest_entry(size_t lane, uint64_t t) const;

 private:
  size_t lane_for(const LaneKey& key);
  void add_marks(const Store& store, size_t lane, uint32_t pos, uint32_t entry);
  void note_time(uint64_t t);

  std::vector<TimelineLane> lanes_;
  std::vector<uint16_t> entry_lane_;  // per indexed entry
  std::vector<uint32_t> entry_pos_;   // position inside its lane
  size_t indexed_ = 0;
  uint64_t min_time_ = UINT64_MAX;
  uint64_t max_time_ = 0;
  std::vector<IdleGap> gaps_;
};

// The entry a capture opens at: its first error finding in record order, else its first warning;
// kNoEntry when it has neither.
uint32_t first_problem(const Store& store);

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
// The part of `r` between the fractions `a` and `b` across it (either order): a dragged
// selection to zoom to, clamped into `bounds` like a zoom.
TimeRange select_range(TimeRange r, double a, double b, TimeRange bounds);
// `r` moved, same width, so `at` is on screen: unchanged when it is inside, else centred on it.
TimeRange reveal_range(TimeRange r, uint64_t at, TimeRange bounds);

// The timeline's horizontal axis: times map to display positions (in the same nanosecond units,
// so a TimeRange, zoom and pan work on display positions unchanged). Long idle stretches are
// compressed to a short marked piece, so the width goes to where the records are; elsewhere one
// display nanosecond is one nanosecond. The plots use the same axis.
class TimeAxis {
 public:
  // A silence is compressed when it is at least this share of the whole span (and at least
  // kIdleGapFloorNs): a steady trickle of records is not a series of gaps.
  static constexpr double kMinGapShare = 0.02;
  // Each compressed silence takes this share of the axis, all of them together at most
  // kMaxGapsShare: the records keep most of the width.
  static constexpr double kGapShare = 0.06;
  static constexpr double kMaxGapsShare = 0.25;

  struct Gap {
    IdleGap time;     // the silence, in time
    uint64_t u0 = 0;  // its display extent
    uint64_t u1 = 0;
  };

  TimeAxis() = default;  // identity: nothing compressed
  // An axis over [first, last] compressing those `candidates` (time ordered, disjoint, inside
  // [first, last]) that are long enough.
  TimeAxis(uint64_t first, uint64_t last, std::span<const IdleGap> candidates);

  uint64_t to_display(uint64_t t) const;
  uint64_t to_time(uint64_t u) const;
  const std::vector<Gap>& gaps() const { return gaps_; }

 private:
  std::vector<Gap> gaps_;
};

}  // namespace vhs::view
