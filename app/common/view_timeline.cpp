// Timeline lanes, bucketing, idle gaps and the compressed axis, hang spans and zoom/pan
// arithmetic.
#include "app/common/view_timeline.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <variant>

#include "app/common/dump_format.hpp"
#include "captures/model/store.hpp"
#include "decoders/vhost_user/payload_decoders.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::view {
namespace {

std::string lane_label(const LaneKey& key) {
  switch (key.kind) {
    case LaneKind::Events: return "events";
    case LaneKind::Control: return "control";
    case LaneKind::Queue:
      switch (key.track) {
        case QueueTrack::Messages: return "queue " + std::to_string(key.queue);
        case QueueTrack::Kicks: return "q" + std::to_string(key.queue) + " kicks";
        case QueueTrack::Calls: return "q" + std::to_string(key.queue) + " calls";
        case QueueTrack::RingStates: return "q" + std::to_string(key.queue) + " ring";
      }
      break;
    case LaneKind::BackendChannel: return "back-end ch";
    case LaneKind::RingRecords: return "ring records";
  }
  return "?";
}

std::optional<uint32_t> queue_of(const Payload& p) {
  if (auto* v = std::get_if<VringStateValue>(&p)) return v->index;
  if (auto* v = std::get_if<VringAddrValue>(&p)) return v->index;
  if (auto* v = std::get_if<VringIndexFdValue>(&p)) return v->index();
  return std::nullopt;
}

bool is_hang_code(FindingCode c) {
  return c == FindingCode::Unanswered || c == FindingCode::MissingReply ||
         c == FindingCode::ReplyTimeout || c == FindingCode::RingStalled ||
         c == FindingCode::DisconnectWithPending;
}

// How far a stall episode is followed from its flagged ring state, in records each way.
constexpr uint32_t kStallWalkLimit = 100000;

bool same_stall(const RingSnapshot& a, const RingSnapshot& b) {
  return b.queue == a.queue && b.indices_ok && b.inflight > 0 && b.used_idx == a.used_idx;
}

// The ring state of `e`'s queue at entry `k`, when `k` is one (same session).
std::optional<RingSnapshot> queue_sample(const Store& store, uint32_t e, uint32_t k) {
  const StoreEntry& entry = store.entry(k);
  if (entry.kind != RecordKind::RingState || entry.session_index != store.entry(e).session_index)
    return std::nullopt;
  return decode_ring_snapshot(store.bytes(k));
}

// Fills a ring-stalled span: the sampler writes a ring state only when it changed, so the episode
// is the run of samples of that queue with the same used idx and requests in flight.
void stall_span(const Store& store, const TimelineIndex& index, uint32_t e, HangSpan& s) {
  const auto stalled = decode_ring_snapshot(store.bytes(e));
  if (!stalled) return;
  s.what = "q" + std::to_string(stalled->queue) + " stalled (" + std::to_string(stalled->inflight) +
           " in flight) for";
  for (size_t lane = 0; lane < index.lanes().size(); ++lane)
    if (index.lanes()[lane].key == LaneKey{LaneKind::Queue, stalled->queue, QueueTrack::RingStates})
      s.lane = lane;
  const uint32_t lo = e > kStallWalkLimit ? e - kStallWalkLimit : 0;
  for (uint32_t k = e; k-- > lo;) {
    const auto sample = queue_sample(store, e, k);
    if (!sample || sample->queue != stalled->queue) continue;
    if (!same_stall(*stalled, *sample)) break;
    s.start = store.entry(k).timestamp_ns;
  }
  const StoreSession& session = store.session_of(e);
  const uint32_t last = session.last_entry != kNoEntry ? session.last_entry : e;
  const uint32_t hi = std::min<uint32_t>(last, e + kStallWalkLimit);
  for (uint32_t k = e + 1; k <= hi && k < index.indexed(); ++k) {
    const auto sample = queue_sample(store, e, k);
    if (!sample || sample->queue != stalled->queue || same_stall(*stalled, *sample)) continue;
    s.end = store.entry(k).timestamp_ns;
    s.open = false;
    return;
  }
}

}  // namespace

LaneKey lane_key_of(const Store& store, uint32_t i, const TimelineIndex& index) {
  const StoreEntry& e = store.entry(i);
  switch (e.kind) {
    case RecordKind::Connect:
    case RecordKind::Disconnect:
    case RecordKind::Error: return {LaneKind::Events, 0};
    case RecordKind::RingState:
      // A ring state is drawn under its queue, where its stall episodes are too.
      if (auto snap = decode_ring_snapshot(store.bytes(i)); snap && snap->queue < kMaxTrackedVrings)
        return {LaneKind::Queue, snap->queue, QueueTrack::RingStates};
      return {LaneKind::RingRecords, 0};
    case RecordKind::Notify:
      // Kicks and calls sit on their queue's lane, next to the messages that set the queue up;
      // setting up and tearing down the interposed eventfds are events of the queue itself.
      if (auto n = decode_notify(store.bytes(i)); n && n->queue < kMaxTrackedVrings) {
        const bool notification = n->event == NotifyEvent::Relayed ||
                                  n->event == NotifyEvent::Held ||
                                  n->event == NotifyEvent::Released;
        QueueTrack track = QueueTrack::Messages;
        if (notification && n->source == NotifySource::Kick) track = QueueTrack::Kicks;
        if (notification && n->source == NotifySource::Call) track = QueueTrack::Calls;
        return {LaneKind::Queue, n->queue, track};
      }
      return {LaneKind::RingRecords, 0};
    case RecordKind::Message: break;
  }
  if (e.channel == Channel::Backend) return {LaneKind::BackendChannel, 0};
  // Answers go where their request went (an ack carries no queue index of its own).
  if (e.role != MessageRole::Request && e.peer != kNoEntry && e.peer < i) {
    size_t lane = index.lane_of(e.peer);
    if (lane != SIZE_MAX) return index.lanes()[lane].key;
  }
  if (e.info && e.info->category == Category::Vring && e.header_complete) {
    // Only the queue index is needed: decode the payload alone, not the whole message (this
    // runs for most of a million entries when a capture opens).
    const PayloadKind kind =
        e.role == MessageRole::Request ? e.info->payload : e.info->reply_payload;
    const auto bytes = store.bytes(i);
    if (bytes.size() >= kHeaderSize) {
      std::vector<Finding> ignored;
      const Payload p =
          decode_payload(kind, bytes.subspan(kHeaderSize), e.header.size, {}, ignored);
      if (auto q = queue_of(p); q && *q < kMaxTrackedVrings) return {LaneKind::Queue, *q};
    }
  }
  return {LaneKind::Control, 0};
}

void TimelineIndex::invalidate() {
  lanes_.clear();
  entry_lane_.clear();
  entry_pos_.clear();
  indexed_ = 0;
  min_time_ = UINT64_MAX;
  max_time_ = 0;
  gaps_.clear();
}

// Records come in time order but for clock steps: a silence after the latest time so far is a
// gap candidate; a record stepping back into an earlier silence splits it.
void TimelineIndex::note_time(uint64_t t) {
  if (indexed_ == 0 || t >= max_time_) {
    if (indexed_ > 0 && t - max_time_ >= kIdleGapFloorNs) gaps_.push_back({max_time_, t});
    return;
  }
  auto it = std::upper_bound(gaps_.begin(), gaps_.end(), t,
                             [](uint64_t v, const IdleGap& g) { return v < g.start; });
  if (it == gaps_.begin()) return;
  --it;
  if (t <= it->start || t >= it->end) return;
  const IdleGap before{it->start, t}, after{t, it->end};
  it = gaps_.erase(it);
  if (after.duration() >= kIdleGapFloorNs) it = gaps_.insert(it, after);
  if (before.duration() >= kIdleGapFloorNs) gaps_.insert(it, before);
}

size_t TimelineIndex::lane_of(uint32_t entry) const {
  return entry < entry_lane_.size() ? entry_lane_[entry] : SIZE_MAX;
}

// Lanes are kept sorted by key; inserting a new lane renumbers the ones after it.
size_t TimelineIndex::lane_for(const LaneKey& key) {
  auto it = std::lower_bound(lanes_.begin(), lanes_.end(), key,
                             [](const TimelineLane& l, const LaneKey& k) { return l.key < k; });
  size_t pos = static_cast<size_t>(it - lanes_.begin());
  if (it != lanes_.end() && it->key == key) return pos;
  TimelineLane lane;
  lane.key = key;
  lane.label = lane_label(key);
  lanes_.insert(it, std::move(lane));
  for (auto& l : entry_lane_)
    if (l >= pos) ++l;
  return pos;
}

void TimelineIndex::add_marks(const Store& store, size_t lane, uint32_t pos, uint32_t entry) {
  const StoreEntry& e = store.entry(entry);
  if (!e.has_findings) return;
  auto& marks = e.worst == Severity::Error ? lanes_[lane].errors : lanes_[lane].warnings;
  if (e.worst == Severity::Info) return;
  // Appends on the normal path; the sorted insert only matters after a clock step backwards.
  marks.insert(std::upper_bound(marks.begin(), marks.end(), pos), pos);
}

bool TimelineIndex::update(const Store& store, size_t budget) {
  if (indexed_ > store.size()) invalidate();
  const size_t end =
      indexed_ + std::min(budget, store.size() - indexed_);  // no overflow with SIZE_MAX
  // Grown geometrically: reserving exactly `end` on every slice would copy the whole index once
  // per slice (quadratic over a capture indexed a few thousand records per step).
  if (end > entry_lane_.capacity()) {
    const size_t capacity = std::max(end, entry_lane_.capacity() * 2);
    entry_lane_.reserve(capacity);
    entry_pos_.reserve(capacity);
  }
  for (size_t i = indexed_; i < end; ++i) {
    const uint32_t entry = static_cast<uint32_t>(i);
    const uint64_t t = store.entry(i).timestamp_ns;
    size_t lane = lane_for(lane_key_of(store, entry, *this));
    TimelineLane& l = lanes_[lane];
    uint32_t pos;
    if (l.times.empty() || l.times.back() <= t) {
      pos = static_cast<uint32_t>(l.times.size());
      l.times.push_back(t);
      l.entries.push_back(entry);
    } else {
      // A clock step backwards (rare): keep the lane sorted; positions after it shift.
      auto it = std::upper_bound(l.times.begin(), l.times.end(), t);
      pos = static_cast<uint32_t>(it - l.times.begin());
      l.times.insert(it, t);
      l.entries.insert(l.entries.begin() + pos, entry);
      for (size_t k = pos + 1; k < l.entries.size(); ++k)
        entry_pos_[l.entries[k]] = static_cast<uint32_t>(k);
      for (auto* marks : {&l.errors, &l.warnings})
        for (auto& m : *marks)
          if (m >= pos) ++m;
    }
    entry_lane_.push_back(static_cast<uint16_t>(lane));
    entry_pos_.push_back(pos);
    add_marks(store, lane, pos, entry);
    note_time(t);
    min_time_ = std::min(min_time_, t);
    max_time_ = std::max(max_time_, t);
    indexed_ = i + 1;
  }
  indexed_ = end;
  return indexed_ >= store.size();
}

void TimelineIndex::refresh_findings(const Store& store) {
  for (auto& l : lanes_) {
    l.errors.clear();
    l.warnings.clear();
  }
  for (uint32_t e : store.flagged()) {
    if (e >= indexed_) break;
    add_marks(store, entry_lane_[e], entry_pos_[e], e);
  }
  for (auto& l : lanes_) {
    std::sort(l.errors.begin(), l.errors.end());
    std::sort(l.warnings.begin(), l.warnings.end());
  }
}

void TimelineIndex::bucket(size_t lane, uint64_t t0, uint64_t t1, size_t n,
                           std::vector<TimelineBucket>& out) const {
  if (n == 0 || t1 <= t0) {
    out.assign(n, TimelineBucket{});
    return;
  }
  std::vector<uint64_t> edges(n + 1);
  const double width = static_cast<double>(t1 - t0);
  for (size_t k = 0; k < n; ++k)
    edges[k] = t0 + static_cast<uint64_t>(width * static_cast<double>(k) / static_cast<double>(n));
  edges[n] = t1;
  bucket_edges(lane, edges, out);
}

void TimelineIndex::bucket_edges(size_t lane, std::span<const uint64_t> edges,
                                 std::vector<TimelineBucket>& out) const {
  const size_t n = edges.size() > 1 ? edges.size() - 1 : 0;
  out.assign(n, TimelineBucket{});
  if (lane >= lanes_.size() || n == 0 || edges.back() <= edges.front()) return;
  const TimelineLane& l = lanes_[lane];
  size_t lo = static_cast<size_t>(std::lower_bound(l.times.begin(), l.times.end(), edges[0]) -
                                  l.times.begin());
  for (size_t k = 0; k < n && lo < l.times.size(); ++k) {
    const uint64_t right = std::max(edges[k + 1], edges[k]);
    size_t hi = static_cast<size_t>(std::lower_bound(l.times.begin() + lo, l.times.end(), right) -
                                    l.times.begin());
    if (hi > lo) {
      TimelineBucket& b = out[k];
      b.count = static_cast<uint32_t>(hi - lo);
      b.first_entry = l.entries[lo];
      auto count_in = [&](const std::vector<uint32_t>& marks) {
        auto a = std::lower_bound(marks.begin(), marks.end(), static_cast<uint32_t>(lo));
        auto z = std::lower_bound(a, marks.end(), static_cast<uint32_t>(hi));
        return static_cast<uint32_t>(z - a);
      };
      b.errors = count_in(l.errors);
      b.warnings = count_in(l.warnings);
    }
    lo = hi;
  }
}

uint32_t TimelineIndex::nearest_entry(size_t lane, uint64_t t) const {
  if (lane >= lanes_.size() || lanes_[lane].times.empty()) return UINT32_MAX;
  const auto& times = lanes_[lane].times;
  size_t p = static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t) - times.begin());
  if (p == times.size()) return lanes_[lane].entries.back();
  if (p > 0 && t - times[p - 1] <= times[p] - t) --p;
  return lanes_[lane].entries[p];
}

uint32_t first_problem(const Store& store) {
  uint32_t warning = kNoEntry;
  for (uint32_t e : store.flagged()) {
    const StoreEntry& entry = store.entry(e);
    if (entry.worst == Severity::Error) return e;
    if (entry.worst == Severity::Warning && warning == kNoEntry) warning = e;
  }
  return warning;
}

std::vector<HangSpan> hang_spans(const Store& store, const TimelineIndex& index, uint64_t now,
                                 bool live) {
  std::vector<HangSpan> out;
  for (uint32_t e : store.flagged()) {
    if (e >= index.indexed()) break;
    bool hang = false;
    for (const Finding& f : store.findings(e)) hang = hang || is_hang_code(f.code);
    if (!hang) continue;
    const StoreEntry& entry = store.entry(e);
    HangSpan s;
    s.entry = e;
    s.lane = index.lane_of(e);
    s.start = entry.timestamp_ns;
    if (entry.peer != kNoEntry && entry.peer > e) {
      s.end = store.entry(entry.peer).timestamp_ns;
    } else {
      const StoreSession& session = store.session_of(e);
      uint32_t last = session.last_entry != kNoEntry ? session.last_entry : e;
      s.end = std::max(s.start, store.entry(last).timestamp_ns);
      if (live && !session.ended()) {
        s.end = std::max(s.end, now);
        s.open = true;
      }
    }
    bool stall = false;
    for (const Finding& f : store.findings(e)) stall = stall || f.code == FindingCode::RingStalled;
    if (stall && entry.kind == RecordKind::RingState)
      stall_span(store, index, e, s);
    else
      s.what = entry_title(store, e) + " waited";
    out.push_back(s);
  }
  if (live) {
    for (const StoreSession& session : store.sessions()) {
      if (session.ended()) continue;
      for (const PendingRequest& p : session.analyser.pending()) {
        if (p.ref >= index.indexed() || p.expects == ReplyExpectation::None) continue;
        if (store.entry(p.ref).has_findings &&
            std::binary_search(store.flagged().begin(), store.flagged().end(),
                               static_cast<uint32_t>(p.ref)))
          continue;  // drawn above already if it was a hang
        out.push_back({static_cast<uint32_t>(p.ref), index.lane_of(static_cast<uint32_t>(p.ref)),
                       p.timestamp_ns, std::max(now, p.timestamp_ns), true,
                       entry_title(store, p.ref) + " waited"});
      }
    }
  }
  return out;
}

TimeRange fit_range(uint64_t min_time, uint64_t max_time) {
  if (min_time > max_time) return {0, kMinTimelineWidthNs};
  uint64_t w = std::max<uint64_t>(max_time - min_time, kMinTimelineWidthNs);
  uint64_t pad = w / 50;
  uint64_t t0 = min_time > pad ? min_time - pad : 0;
  return {t0,
          max_time + pad + (max_time - min_time < kMinTimelineWidthNs ? kMinTimelineWidthNs : 0)};
}

namespace {
TimeRange clamp_range(TimeRange r, TimeRange bounds) {
  uint64_t bw = std::max<uint64_t>(bounds.width(), kMinTimelineWidthNs);
  uint64_t w = std::clamp<uint64_t>(r.width(), kMinTimelineWidthNs, bw);
  uint64_t t0 = r.t0;
  if (t0 < bounds.t0) t0 = bounds.t0;
  if (t0 + w > bounds.t0 + bw) t0 = bounds.t0 + bw - w;
  return {t0, t0 + w};
}
}  // namespace

TimeRange zoom_range(TimeRange r, double factor, double anchor, TimeRange bounds) {
  anchor = std::clamp(anchor, 0.0, 1.0);
  const double w = static_cast<double>(r.width());
  const uint64_t at = r.t0 + static_cast<uint64_t>(w * anchor);
  double nw = std::max(w * factor, static_cast<double>(kMinTimelineWidthNs));
  nw = std::min(nw, static_cast<double>(std::max<uint64_t>(bounds.width(), kMinTimelineWidthNs)));
  const uint64_t left = static_cast<uint64_t>(nw * anchor);
  TimeRange out;
  out.t0 = at > left ? at - left : 0;
  out.t1 = out.t0 + static_cast<uint64_t>(nw);
  return clamp_range(out, bounds);
}

TimeRange select_range(TimeRange r, double a, double b, TimeRange bounds) {
  if (a > b) std::swap(a, b);
  a = std::clamp(a, 0.0, 1.0);
  b = std::clamp(b, 0.0, 1.0);
  const double w = static_cast<double>(r.width());
  const uint64_t t0 = r.t0 + static_cast<uint64_t>(w * a);
  const uint64_t t1 = r.t0 + static_cast<uint64_t>(w * b);
  // A selection narrower than the smallest zoom keeps its middle.
  if (t1 - t0 < kMinTimelineWidthNs) {
    const uint64_t mid = t0 + (t1 - t0) / 2;
    const uint64_t half = kMinTimelineWidthNs / 2;
    return clamp_range(
        {mid > half ? mid - half : 0, (mid > half ? mid - half : 0) + kMinTimelineWidthNs}, bounds);
  }
  return clamp_range({t0, t1}, bounds);
}

TimeRange reveal_range(TimeRange r, uint64_t at, TimeRange bounds) {
  if (at >= r.t0 && at <= r.t1) return r;
  const uint64_t half = r.width() / 2;
  const uint64_t t0 = at > half ? at - half : 0;
  return clamp_range({t0, t0 + r.width()}, bounds);
}

TimeAxis::TimeAxis(uint64_t first, uint64_t last, std::span<const IdleGap> candidates) {
  if (last <= first) return;
  const uint64_t span = last - first;
  const auto min_gap = std::max<uint64_t>(
      kIdleGapFloorNs, static_cast<uint64_t>(static_cast<double>(span) * kMinGapShare));
  uint64_t idle = 0;
  for (const IdleGap& g : candidates) {
    if (g.start < first || g.end > last || g.end <= g.start || g.duration() < min_gap) continue;
    gaps_.push_back({g, 0, 0});
    idle += g.duration();
  }
  if (gaps_.empty()) return;
  // Width per gap w such that n gaps take `share` of the axis: n * w = share * (active + n * w).
  const double n = static_cast<double>(gaps_.size());
  const double share = std::min(kGapShare * n, kMaxGapsShare);
  const double active =
      std::max(static_cast<double>(span - idle), static_cast<double>(kMinTimelineWidthNs));
  const uint64_t w =
      std::max<uint64_t>(1, static_cast<uint64_t>(share * active / ((1.0 - share) * n)));
  // Each gap moves everything after it left by what it saves; a gap shorter than its marker
  // would be is not compressed.
  uint64_t saved = 0;
  std::vector<Gap> kept;
  for (Gap g : gaps_) {
    if (g.time.duration() <= w) continue;
    g.u0 = g.time.start - saved;
    g.u1 = g.u0 + w;
    saved += g.time.duration() - w;
    kept.push_back(g);
  }
  gaps_ = std::move(kept);
}

uint64_t TimeAxis::to_display(uint64_t t) const {
  auto it = std::upper_bound(gaps_.begin(), gaps_.end(), t,
                             [](uint64_t v, const Gap& g) { return v < g.time.start; });
  if (it == gaps_.begin()) return t;
  const Gap& g = *--it;
  if (t >= g.time.end) return g.u1 + (t - g.time.end);
  const double f = static_cast<double>(t - g.time.start) / static_cast<double>(g.time.duration());
  return g.u0 + static_cast<uint64_t>(f * static_cast<double>(g.u1 - g.u0));
}

uint64_t TimeAxis::to_time(uint64_t u) const {
  auto it = std::upper_bound(gaps_.begin(), gaps_.end(), u,
                             [](uint64_t v, const Gap& g) { return v < g.u0; });
  if (it == gaps_.begin()) return u;
  const Gap& g = *--it;
  if (u >= g.u1) return g.time.end + (u - g.u1);
  const double f = static_cast<double>(u - g.u0) / static_cast<double>(g.u1 - g.u0);
  return g.time.start + static_cast<uint64_t>(f * static_cast<double>(g.time.duration()));
}

TimeRange pan_range(TimeRange r, int64_t delta_ns, TimeRange bounds) {
  TimeRange out = r;
  if (delta_ns < 0) {
    uint64_t d = static_cast<uint64_t>(-delta_ns);
    out.t0 = r.t0 > d ? r.t0 - d : 0;
  } else {
    out.t0 = r.t0 + static_cast<uint64_t>(delta_ns);
  }
  out.t1 = out.t0 + r.width();
  return clamp_range(out, bounds);
}

}  // namespace vhs::view
