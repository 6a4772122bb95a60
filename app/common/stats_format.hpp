// `vhostscope stats`: counts and timings over a capture, like tshark's -z statistics. Per session
// and overall: per request kind how many were sent, how many were answered and the reply
// latencies (min / p50 / p99 / max); per queue the notifications relayed (kicks, calls) and, from
// the recorder's ring-state samples, the buffers completed per second and the in-flight depth;
// findings by kind. Computed from the Store over the records a caller selects.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/common/json_format.hpp"
#include "captures/model/store.hpp"

namespace vhs {

struct LatencySummary {
  uint64_t count = 0;
  uint64_t min_ns = 0, p50_ns = 0, p99_ns = 0, max_ns = 0;  // meaningful when count > 0
};

// Nearest-rank percentiles of `samples` (sorted in place).
LatencySummary summarize_latencies(std::vector<uint64_t>& samples);

struct RequestKindStats {
  Channel channel = Channel::Frontend;
  uint32_t request = 0;
  std::string name;       // "GET_FEATURES", "Unknown (99)"
  uint64_t requests = 0;  // requests sent
  uint64_t replies = 0;   // replies and acks answering them
  LatencySummary latency;
};

struct QueueStats {
  uint32_t queue = 0;
  uint64_t kicks = 0, calls = 0;  // notifications relayed (notify records' counters)
  uint64_t notify_records = 0;
  uint64_t samples = 0;    // ring-state records
  uint64_t completed = 0;  // used ring index advance over the samples (buffers completed)
  std::optional<double> completed_per_second;  // over the sampled span; nullopt if < 2 samples
  std::map<uint64_t, uint64_t> completed_by_second;  // second since capture start -> completed
  uint32_t in_flight_min = 0, in_flight_max = 0, in_flight_last = 0;
  double in_flight_mean = 0;
};

struct FindingKindStats {
  FindingCode code{};
  uint64_t count = 0;
};

struct ScopeStats {
  std::optional<uint32_t> session;  // nullopt: overall
  uint64_t records = 0, messages = 0;
  uint64_t first_ns = 0, last_ns = 0;
  std::vector<RequestKindStats> requests;  // by channel, then request number
  std::vector<QueueStats> queues;          // by queue index
  std::vector<FindingKindStats> findings;  // errors first, then by count
};

struct CaptureStats {
  ScopeStats overall;
  std::vector<ScopeStats> sessions;  // sessions with at least one selected record
};

// Statistics over the entries `selected` accepts (all when it is empty).
CaptureStats compute_stats(const Store& store,
                           const std::function<bool(size_t)>& selected = nullptr);

std::string format_stats(const CaptureStats& stats);
Json stats_json(const CaptureStats& stats);

}  // namespace vhs
