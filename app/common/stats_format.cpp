// Statistics over a capture and their text and JSON renderings.
#include "app/common/stats_format.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "app/common/text_format.hpp"
#include "app/common/view_stats.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {
namespace {

// Position of the used index as a number that grows by one per completed slot, modulo `modulus`.
// Split rings: used->idx wraps at 2^16. Packed rings: bits 0-14 are the position in a ring of
// `size` slots and bit 15 the wrap counter (spec "Ring states"), so position + wrap * size counts
// modulo 2 * size.
struct UsedPosition {
  uint32_t value = 0;
  uint32_t modulus = 1;
};

UsedPosition used_position(const RingSnapshot& s) {
  if (s.type == RingType::Split) return {s.used_idx, 1u << 16};
  const uint32_t size = std::max<uint32_t>(s.size, 1);
  const uint32_t pos = (s.used_idx & 0x7fffu) % size;
  return {pos + ((s.used_idx >> 15) & 1u ? 0 : size), 2 * size};
}

struct QueueAccumulator {
  QueueStats stats;
  uint64_t first_sample_ns = 0, last_sample_ns = 0;
  uint64_t in_flight_sum = 0;
};

struct PreviousSample {
  UsedPosition used;
};

class ScopeAccumulator {
 public:
  ScopeAccumulator(const Store& store, std::optional<uint32_t> session)
      : store_(store), session_(session) {}

  void add(size_t i) {
    const StoreEntry& e = store_.entry(i);
    if (records_++ == 0) first_ns_ = e.timestamp_ns;
    last_ns_ = e.timestamp_ns;
    for (const Finding& f : store_.findings(i)) ++findings_[f.code];
    switch (e.kind) {
      case RecordKind::Message: add_message(i, e); break;
      case RecordKind::Notify: add_notify(i); break;
      case RecordKind::RingState: add_ring_state(i, e); break;
      default: break;
    }
  }

  ScopeStats finish() {
    ScopeStats out;
    out.session = session_;
    out.records = records_;
    out.messages = messages_;
    out.first_ns = first_ns_;
    out.last_ns = last_ns_;
    for (auto& [key, k] : requests_) {
      k.stats.latency = summarize_latencies(k.latencies);
      out.requests.push_back(std::move(k.stats));
    }
    for (auto& [queue, q] : queues_) {
      QueueStats s = std::move(q.stats);
      if (s.samples > 0)
        s.in_flight_mean = static_cast<double>(q.in_flight_sum) / static_cast<double>(s.samples);
      if (s.samples > 1 && q.last_sample_ns > q.first_sample_ns)
        s.completed_per_second = static_cast<double>(s.completed) /
                                 (static_cast<double>(q.last_sample_ns - q.first_sample_ns) / 1e9);
      out.queues.push_back(std::move(s));
    }
    for (const auto& [code, count] : findings_) out.findings.push_back({code, count});
    std::stable_sort(out.findings.begin(), out.findings.end(),
                     [](const FindingKindStats& a, const FindingKindStats& b) {
                       const Severity sa = finding_info(a.code).severity;
                       const Severity sb = finding_info(b.code).severity;
                       return sa != sb ? sa > sb : a.count > b.count;
                     });
    return out;
  }

  uint64_t records() const { return records_; }

 private:
  struct KindAccumulator {
    RequestKindStats stats;
    std::vector<uint64_t> latencies;
  };

  KindAccumulator& kind(Channel channel, uint32_t request, const RequestInfo* info) {
    KindAccumulator& k = requests_[{static_cast<uint8_t>(channel), request}];
    if (k.stats.name.empty()) {
      k.stats.channel = channel;
      k.stats.request = request;
      k.stats.name = info ? std::string(info->name) : request_text(channel, request);
    }
    return k;
  }

  void add_message(size_t, const StoreEntry& e) {
    ++messages_;
    if (!e.header_complete) return;
    KindAccumulator& k = kind(e.channel, e.header.request, e.info);
    if (e.role == MessageRole::Request) {
      ++k.stats.requests;
    } else if (e.peer != kNoEntry) {
      ++k.stats.replies;
      k.latencies.push_back(e.latency_ns);
    }
  }

  void add_notify(size_t i) {
    auto n = decode_notify(store_.bytes(i));
    if (!n) return;
    QueueStats& q = queue(n->queue).stats;
    ++q.notify_records;
    if (n->event != NotifyEvent::Relayed && n->event != NotifyEvent::Released) return;
    if (n->source == NotifySource::Kick) q.kicks += n->count;
    if (n->source == NotifySource::Call) q.calls += n->count;
  }

  void add_ring_state(size_t i, const StoreEntry& e) {
    auto s = decode_ring_snapshot(store_.bytes(i));
    if (!s) return;
    QueueAccumulator& q = queue(s->queue);
    QueueStats& st = q.stats;
    if (st.samples == 0) {
      st.in_flight_min = st.in_flight_max = s->inflight;
      q.first_sample_ns = e.timestamp_ns;
    }
    ++st.samples;
    q.last_sample_ns = e.timestamp_ns;
    st.in_flight_min = std::min(st.in_flight_min, s->inflight);
    st.in_flight_max = std::max(st.in_flight_max, s->inflight);
    st.in_flight_last = s->inflight;
    q.in_flight_sum += s->inflight;
    if (!s->indices_ok) return;
    const UsedPosition now = used_position(*s);
    // Sessions of the overall scope keep their own previous sample per queue.
    auto [it, first] = previous_.try_emplace({e.session, s->queue}, PreviousSample{now});
    const uint64_t done =
        first ? 0 : (now.value + now.modulus - it->second.used.value) % now.modulus;
    // A snapshot taken as the ring starts or stops carries the vring base (spec "Ring states"):
    // a restarted ring begins again at the base, so a used index that jumped by more than the
    // ring can hold is a new start, not completions.
    const bool restarted = s->vring_base && done > s->size;
    if (!first && it->second.used.modulus == now.modulus && !restarted) {
      st.completed += done;
      if (done > 0)
        st.completed_by_second[(e.timestamp_ns - store_.first_timestamp()) / 1'000'000'000] += done;
    }
    it->second.used = now;
  }

  QueueAccumulator& queue(uint32_t index) {
    QueueAccumulator& q = queues_[index];
    q.stats.queue = index;
    return q;
  }

  const Store& store_;
  std::optional<uint32_t> session_;
  uint64_t records_ = 0, messages_ = 0, first_ns_ = 0, last_ns_ = 0;
  std::map<std::pair<uint8_t, uint32_t>, KindAccumulator> requests_;
  std::map<uint32_t, QueueAccumulator> queues_;
  std::map<std::pair<uint32_t, uint32_t>, PreviousSample> previous_;
  std::map<FindingCode, uint64_t> findings_;
};

// The text tables are the cells of app/common/view_stats, padded: the GUI's statistics window
// shows the same cells.
void table_text(std::string& out, const view::StatsTable& t, size_t indent, bool header) {
  if (header) out += view::padded_header(t, indent) + "\n";
  for (const auto& row : t.rows) out += view::padded_row(t, row, indent) + "\n";
}

void scope_text(std::string& out, const ScopeStats& s) {
  out += view::scope_title(s) + "\n";
  if (!s.requests.empty()) table_text(out, view::request_table(s), 2, true);
  if (!s.queues.empty()) {
    table_text(out, view::queue_table(s), 2, true);
    out += "  " + std::string(view::kInFlightNote) + "\n";
  }
  if (!s.findings.empty()) {
    out += "  findings:\n";
    table_text(out, view::finding_table(s), 4, false);
  }
}

Json latency_json(const LatencySummary& l) {
  if (l.count == 0) return nullptr;
  Json j;
  j["min_ns"] = l.min_ns;
  j["p50_ns"] = l.p50_ns;
  j["p99_ns"] = l.p99_ns;
  j["max_ns"] = l.max_ns;
  return j;
}

Json scope_json(const ScopeStats& s) {
  Json j;
  j["session"] = s.session ? Json(*s.session) : Json(nullptr);
  j["records"] = s.records;
  j["messages"] = s.messages;
  j["duration_ns"] = s.last_ns - s.first_ns;
  Json requests = Json::array();
  for (const RequestKindStats& r : s.requests) {
    Json o;
    o["channel"] = r.channel == Channel::Frontend ? "frontend" : "backend";
    o["request"] = r.request;
    o["name"] = r.name;
    o["count"] = r.requests;
    o["replies"] = r.replies;
    o["latency"] = latency_json(r.latency);
    requests.push_back(std::move(o));
  }
  j["requests"] = std::move(requests);
  Json queues = Json::array();
  for (const QueueStats& q : s.queues) {
    Json o;
    o["queue"] = q.queue;
    o["kicks"] = q.kicks;
    o["calls"] = q.calls;
    o["notify_records"] = q.notify_records;
    o["samples"] = q.samples;
    o["completed"] = q.completed;
    o["completed_per_second"] =
        q.completed_per_second ? Json(*q.completed_per_second) : Json(nullptr);
    Json series = Json::array();
    for (const auto& [second, done] : q.completed_by_second) {
      Json p;
      p["second"] = second;
      p["completed"] = done;
      series.push_back(std::move(p));
    }
    o["completed_by_second"] = std::move(series);
    if (q.samples) {
      Json d;
      d["min"] = q.in_flight_min;
      d["mean"] = q.in_flight_mean;
      d["max"] = q.in_flight_max;
      d["last"] = q.in_flight_last;
      o["in_flight"] = std::move(d);
    } else {
      o["in_flight"] = nullptr;
    }
    queues.push_back(std::move(o));
  }
  j["queues"] = std::move(queues);
  Json findings = Json::array();
  for (const FindingKindStats& f : s.findings) {
    Json o;
    o["id"] = std::string(finding_info(f.code).id);
    o["severity"] = std::string(severity_name(finding_info(f.code).severity));
    o["count"] = f.count;
    findings.push_back(std::move(o));
  }
  j["findings"] = std::move(findings);
  return j;
}

}  // namespace

LatencySummary summarize_latencies(std::vector<uint64_t>& samples) {
  LatencySummary l;
  l.count = samples.size();
  if (samples.empty()) return l;
  std::sort(samples.begin(), samples.end());
  const auto rank = [&samples](double q) {
    const auto n = static_cast<double>(samples.size());
    const size_t r = static_cast<size_t>(std::ceil(q * n));
    return samples[std::clamp<size_t>(r, 1, samples.size()) - 1];
  };
  l.min_ns = samples.front();
  l.p50_ns = rank(0.50);
  l.p99_ns = rank(0.99);
  l.max_ns = samples.back();
  return l;
}

CaptureStats compute_stats(const Store& store, const std::function<bool(size_t)>& selected) {
  ScopeAccumulator overall(store, std::nullopt);
  std::map<uint32_t, ScopeAccumulator> sessions;
  for (size_t i = 0; i < store.size(); ++i) {
    if (selected && !selected(i)) continue;
    overall.add(i);
    const uint32_t id = store.entry(i).session;
    sessions.try_emplace(id, store, id).first->second.add(i);
  }
  CaptureStats out;
  out.overall = overall.finish();
  for (auto& [id, s] : sessions) out.sessions.push_back(s.finish());
  return out;
}

std::string format_stats(const CaptureStats& stats) {
  std::string out;
  for (const ScopeStats& s : stats.sessions) {
    scope_text(out, s);
    out += '\n';
  }
  scope_text(out, stats.overall);
  return out;
}

Json stats_json(const CaptureStats& stats) {
  Json j;
  j["schema"] = std::string(kJsonSchema);
  j["type"] = "stats";
  Json sessions = Json::array();
  for (const ScopeStats& s : stats.sessions) sessions.push_back(scope_json(s));
  j["sessions"] = std::move(sessions);
  j["overall"] = scope_json(stats.overall);
  return j;
}

}  // namespace vhs
