// Plots view-model: series over time for the plots under the timeline, built incrementally from
// the store like the timeline's lanes. Per queue (of a session): completions (how far the used
// index moved between the queue's ring states), in-flight depth (the ring states' in-flight
// count), kicks and calls (interposed Notify records); per request kind: reply latency. The
// view asks for a value per pixel column over a time interval (the timeline's axis maps pixels
// to times), so a zoom or a compressed idle stretch needs no other data.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vhs {
class Store;
}

namespace vhs::view {

// Events with a weight each, in time order; counting those in an interval is two binary searches.
struct EventSeries {
  std::vector<uint64_t> times;
  std::vector<uint64_t> cumulative;  // total weight of events 0..k

  void add(uint64_t t, uint64_t weight);
  uint64_t total() const { return cumulative.empty() ? 0 : cumulative.back(); }
  // Total weight of the events in [t0, t1).
  uint64_t count_between(uint64_t t0, uint64_t t1) const;
};

// A value that holds from each point's time until the next point.
struct StepSeries {
  std::vector<uint64_t> times;
  std::vector<uint32_t> values;

  void add(uint64_t t, uint32_t v);
  // The largest value holding at any time in [t0, t1) (nullopt before the first point).
  std::optional<uint32_t> max_between(uint64_t t0, uint64_t t1) const;
};

// Rates are averaged over at least this long: a ring sampled every 50 ms moves its used index
// in steps, and per second is the unit shown.
inline constexpr uint64_t kMinRateWindowNs = 1'000'000'000;

// Events per second around [t0, t1): over the interval itself, or, when it is shorter than
// kMinRateWindowNs, over that window centred on it.
double rate_per_second(const EventSeries& s, uint64_t t0, uint64_t t1);

struct PlotQueueKey {
  uint32_t session_index = 0;
  uint32_t queue = 0;
  auto operator<=>(const PlotQueueKey&) const = default;
};

struct QueuePlots {
  EventSeries completions;  // at each ring state: how far the used index moved since the last
  StepSeries in_flight;     // at each ring state: buffers made available and not yet used
  EventSeries kicks;        // interposed kicks (weight: the eventfd count, coalesced writes)
  EventSeries calls;        // interposed calls
  // The previous ring state's used index (only while the ring could be read).
  std::optional<uint16_t> last_used;
};

// Answers to one request kind: when each came and how long after its request.
struct LatencySeries {
  std::vector<uint64_t> times;  // the reply's / ack's time
  std::vector<uint64_t> latency_ns;
  // The longest latency of the answers in [t0, t1) (nullopt: none there).
  std::optional<uint64_t> max_between(uint64_t t0, uint64_t t1) const;
};

class PlotsModel {
 public:
  // Reads up to `budget` new entries; true when caught up with `store`.
  bool update(const Store& store, size_t budget);
  void invalidate();
  size_t indexed() const { return indexed_; }

  const std::map<PlotQueueKey, QueuePlots>& queues() const { return queues_; }
  const std::map<std::string, LatencySeries>& latencies() const { return latencies_; }

 private:
  void add_ring_state(const Store& store, uint32_t entry);
  void add_notify(const Store& store, uint32_t entry);
  void add_answer(const Store& store, uint32_t entry);

  std::map<PlotQueueKey, QueuePlots> queues_;
  std::map<std::string, LatencySeries> latencies_;
  size_t indexed_ = 0;
};

// How far a used index moved from `before` to `after`: split rings count buffers modulo 2^16;
// packed rings count positions (bit 15 is the wrap counter, `size` the ring's size). A split move
// of more than half the index space is a ring that started over, and a packed move of more than
// a lap cannot be counted: 0.
uint32_t used_advance(uint16_t before, uint16_t after, bool packed, uint16_t size);

}  // namespace vhs::view
