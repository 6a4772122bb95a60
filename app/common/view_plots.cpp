// Plot series from ring states, notify records and answered requests.
#include "app/common/view_plots.hpp"

#include <algorithm>

#include "captures/model/store.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::view {

void EventSeries::add(uint64_t t, uint64_t weight) {
  if (times.empty() || times.back() <= t) {  // in time order, as records nearly always are
    times.push_back(t);
    cumulative.push_back(total() + weight);
    return;
  }
  // Kept sorted through a clock step backwards (rare): the running totals after it move up.
  auto it = std::upper_bound(times.begin(), times.end(), t);
  const size_t pos = static_cast<size_t>(it - times.begin());
  const uint64_t before = pos == 0 ? 0 : cumulative[pos - 1];
  times.insert(it, t);
  cumulative.insert(cumulative.begin() + static_cast<ptrdiff_t>(pos), before + weight);
  for (size_t k = pos + 1; k < cumulative.size(); ++k) cumulative[k] += weight;
}

uint64_t EventSeries::count_between(uint64_t t0, uint64_t t1) const {
  if (t1 <= t0) return 0;
  const size_t lo =
      static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t0) - times.begin());
  const size_t hi =
      static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t1) - times.begin());
  if (hi <= lo) return 0;
  return cumulative[hi - 1] - (lo == 0 ? 0 : cumulative[lo - 1]);
}

void StepSeries::add(uint64_t t, uint32_t v) {
  if (times.empty() || times.back() <= t) {
    times.push_back(t);
    values.push_back(v);
    return;
  }
  auto it = std::upper_bound(times.begin(), times.end(), t);
  const auto pos = it - times.begin();
  times.insert(it, t);
  values.insert(values.begin() + pos, v);
}

std::optional<uint32_t> StepSeries::max_between(uint64_t t0, uint64_t t1) const {
  // The point holding at t0 is the last one at or before it; then every point before t1.
  size_t lo = static_cast<size_t>(std::upper_bound(times.begin(), times.end(), t0) - times.begin());
  const size_t hi =
      static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t1) - times.begin());
  if (lo > 0) --lo;
  std::optional<uint32_t> best;
  for (size_t k = lo; k < hi; ++k) best = std::max(best.value_or(0), values[k]);
  return best;
}

double rate_per_second(const EventSeries& s, uint64_t t0, uint64_t t1) {
  if (t1 < t0) std::swap(t0, t1);
  if (t1 - t0 < kMinRateWindowNs) {
    const uint64_t mid = t0 + (t1 - t0) / 2;
    t0 = mid > kMinRateWindowNs / 2 ? mid - kMinRateWindowNs / 2 : 0;
    t1 = t0 + kMinRateWindowNs;
  }
  return static_cast<double>(s.count_between(t0, t1)) * 1e9 / static_cast<double>(t1 - t0);
}

std::optional<uint64_t> LatencySeries::max_between(uint64_t t0, uint64_t t1) const {
  const auto lo = std::lower_bound(times.begin(), times.end(), t0) - times.begin();
  const auto hi = std::lower_bound(times.begin(), times.end(), t1) - times.begin();
  if (hi <= lo) return std::nullopt;
  return *std::max_element(latency_ns.begin() + lo, latency_ns.begin() + hi);
}

uint32_t used_advance(uint16_t before, uint16_t after, bool packed, uint16_t size) {
  uint32_t moved = 0;
  if (!packed) {
    moved = static_cast<uint16_t>(after - before);
    return moved > 0x8000 ? 0 : moved;
  }
  // Packed (VIRTIO "Packed Virtqueues"): a position below `size` and a wrap counter in bit 15
  // that flips each time the device goes round the ring.
  const uint32_t a = before & 0x7fff, b = after & 0x7fff;
  const bool same_lap = (before & 0x8000) == (after & 0x8000);
  if (same_lap) return b >= a ? b - a : 0;
  // One flip is at most one lap; further than that, laps were missed and the count is unknown.
  return size > 0 && b <= a ? b + size - a : 0;
}

void PlotsModel::invalidate() {
  queues_.clear();
  latencies_.clear();
  indexed_ = 0;
}

void PlotsModel::add_ring_state(const Store& store, uint32_t entry) {
  const auto snap = decode_ring_snapshot(store.bytes(entry));
  if (!snap) return;
  const StoreEntry& e = store.entry(entry);
  QueuePlots& q = queues_[{e.session_index, snap->queue}];
  if (!snap->indices_ok) {
    q.last_used.reset();  // unreadable: the next readable state starts afresh
    return;
  }
  q.in_flight.add(e.timestamp_ns, snap->inflight);
  if (q.last_used)
    q.completions.add(e.timestamp_ns, used_advance(*q.last_used, snap->used_idx,
                                                   snap->type == RingType::Packed, snap->size));
  q.last_used = snap->used_idx;
}

void PlotsModel::add_notify(const Store& store, uint32_t entry) {
  const auto n = decode_notify(store.bytes(entry));
  if (!n) return;
  // A notification the writer made: read and passed on, or read and held (released later: the
  // same writes, not counted twice).
  if (n->event != NotifyEvent::Relayed && n->event != NotifyEvent::Held) return;
  const StoreEntry& e = store.entry(entry);
  QueuePlots& q = queues_[{e.session_index, n->queue}];
  const uint64_t weight = std::max<uint64_t>(n->count, 1);
  if (n->source == NotifySource::Kick) q.kicks.add(e.timestamp_ns, weight);
  if (n->source == NotifySource::Call) q.calls.add(e.timestamp_ns, weight);
}

void PlotsModel::add_answer(const Store& store, uint32_t entry) {
  const StoreEntry& e = store.entry(entry);
  if (e.role == MessageRole::Request || e.peer == kNoEntry || e.peer >= entry) return;
  const StoreEntry& request = store.entry(e.peer);
  const std::string name = request.info ? std::string(request.info->name) : "request";
  LatencySeries& s = latencies_[name];
  auto it = std::upper_bound(s.times.begin(), s.times.end(), e.timestamp_ns);
  const auto pos = it - s.times.begin();
  s.times.insert(it, e.timestamp_ns);
  s.latency_ns.insert(s.latency_ns.begin() + pos, e.latency_ns);
}

bool PlotsModel::update(const Store& store, size_t budget) {
  if (indexed_ > store.size()) invalidate();
  const size_t end = indexed_ + std::min(budget, store.size() - indexed_);
  for (size_t i = indexed_; i < end; ++i) {
    const auto entry = static_cast<uint32_t>(i);
    switch (store.entry(i).kind) {
      case RecordKind::RingState: add_ring_state(store, entry); break;
      case RecordKind::Notify: add_notify(store, entry); break;
      case RecordKind::Message: add_answer(store, entry); break;
      default: break;
    }
  }
  indexed_ = end;
  return indexed_ >= store.size();
}

}  // namespace vhs::view
