// Ring hang episodes of one session (see ring_timeline.hpp).
#include "captures/model/ring_timeline.hpp"

#include <tuple>

#include <fmt/format.h>

namespace vhs {
namespace {

std::string seconds(uint64_t ns) { return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9); }

std::string used_position(const RingSnapshot& s) {
  if (s.type == RingType::Split) return fmt::format("used idx moved to {}", s.used_idx);
  return fmt::format("used position moved to {} wrap {}", s.used_idx & 0x7fff, s.used_idx >> 15);
}

// Why a finding cleared, from the snapshot that cleared it (none: time or a reset did).
std::string end_reason(FindingCode code, const RingSnapshot* cause) {
  if (!cause) return "cleared";
  if (!cause->indices_ok) return "ring no longer readable";
  if (code == FindingCode::RingStalled || code == FindingCode::NotificationsSuppressed) {
    if (cause->inflight == 0) return "drained";
    return fmt::format("{}, {} in flight", used_position(*cause), cause->inflight);
  }
  return "cleared";
}

// Why a NoKickFd/NoCallFd finding cleared, from the facts that cleared it.
std::string facts_end_reason(FindingCode code, const VringFacts& f) {
  if (!f.started) return "ring stopped";
  return code == FindingCode::NoKickFd ? "SET_VRING_KICK gave an fd" : "SET_VRING_CALL gave an fd";
}

// The condition a notifier finding tracks, as a value that changes exactly when it begins anew
// or changes its reason: the setting while the ring runs without an fd, else Fd.
NotifierSetting missing(bool started, NotifierSetting s) {
  return started ? s : NotifierSetting::Fd;
}

// The word for how long an episode lasted: "stalled 3.20 s", "still stalled, 4.32 s".
std::string_view lasted_word(FindingCode code, bool active) {
  switch (code) {
    case FindingCode::RingStalled: return "stalled";
    case FindingCode::NotificationsSuppressed: return "suppressed";
    default: return active ? "present" : "lasted";
  }
}

}  // namespace

RingTimeline::RingTimeline(HealthThresholds thresholds) : health_(thresholds) {}

void RingTimeline::observe(const RingSnapshot& s, uint64_t ts_ns, uint32_t entry,
                           std::vector<size_t>& changed) {
  advance(ts_ns, changed);
  RingQueueState& q = queues_[s.queue];
  q.last = s;
  q.last_ns = ts_ns;
  q.entry = entry;
  ++q.samples;
  events_.clear();
  health_.observe(s, ts_ns, events_);
  apply(events_, &s, nullptr, changed);
}

void RingTimeline::observe_facts(const VringFacts& f, uint64_t ts_ns, uint32_t entry,
                                 std::vector<size_t>& changed) {
  advance(ts_ns, changed);
  const VringFacts before = facts_.count(f.queue) ? facts_[f.queue] : VringFacts{f.queue};
  facts_[f.queue] = f;
  for (auto [code, was, now] : {std::tuple{FindingCode::NoKickFd, before.kick, f.kick},
                                std::tuple{FindingCode::NoCallFd, before.call, f.call}}) {
    const NotifierSetting old_missing = missing(before.started, was),
                          new_missing = missing(f.started, now);
    if (new_missing != old_missing && new_missing != NotifierSetting::Fd)
      fact_entries_[{f.queue, code}] = entry;
  }
  events_.clear();
  health_.observe_facts(f, ts_ns, events_);
  apply(events_, nullptr, &f, changed);
}

void RingTimeline::set_device(DeviceKind device, uint64_t ts_ns, std::vector<size_t>& changed) {
  if (device == device_) return;
  device_ = device;
  advance(ts_ns, changed);
  events_.clear();
  health_.set_device(device, now_ns_, events_);
  apply(events_, nullptr, nullptr, changed);
}

void RingTimeline::observe_notify(const NotifyRecord& n, uint64_t ts_ns,
                                  std::vector<size_t>& changed) {
  advance(ts_ns, changed);
  events_.clear();
  health_.observe_notify(n, ts_ns, events_);
  apply(events_, nullptr, nullptr, changed);
}

void RingTimeline::advance(uint64_t now_ns, std::vector<size_t>& changed) {
  if (now_ns > now_ns_) now_ns_ = now_ns;
  if (!watching()) return;
  events_.clear();
  health_.advance(now_ns_, events_);
  apply(events_, nullptr, nullptr, changed);
}

void RingTimeline::settle(uint64_t now_ns, std::vector<size_t>& changed) {
  advance(now_ns, changed);
  events_.clear();
  health_.settle(now_ns_, events_);
  apply(events_, nullptr, nullptr, changed);
}

void RingTimeline::apply_events(const std::vector<HealthEvent>& events,
                                const RingSnapshot* cause, const VringFacts* facts,
                                std::vector<size_t>& changed) {
  for (const HealthEvent& e : events) {
    const auto key = std::make_pair(e.queue, e.finding.code);
    if (e.raised) {
      RingEpisode ep;
      ep.queue = e.queue;
      ep.finding = e.finding;
      ep.since_ns = e.since_ns;
      ep.raised_ns = e.at_ns;
      if (auto fe = fact_entries_.find(key); fe != fact_entries_.end()) {
        ep.entry = fe->second;
      } else if (auto q = queues_.find(e.queue); q != queues_.end()) {
        ep.entry = q->second.entry;
      }
      open_[key] = episodes_.size();
      changed.push_back(episodes_.size());
      episodes_.push_back(std::move(ep));
      continue;
    }
    auto it = open_.find(key);
    if (it == open_.end()) continue;
    RingEpisode& ep = episodes_[it->second];
    ep.ended_ns = e.at_ns;
    ep.ended_how =
        facts ? facts_end_reason(e.finding.code, *facts) : end_reason(e.finding.code, cause);
    changed.push_back(it->second);
    open_.erase(it);
  }
}

bool RingTimeline::any_active() const { return !open_.empty(); }

uint64_t episode_duration(const RingEpisode& e, uint64_t now_ns) {
  const uint64_t end = e.ended_ns ? *e.ended_ns : now_ns;
  return end > e.since_ns ? end - e.since_ns : 0;
}

std::string describe_episode(const RingEpisode& e, uint64_t now_ns) {
  const std::string lasted = seconds(episode_duration(e, now_ns));
  if (e.active())
    return fmt::format("{} — still {}, {}", e.finding.detail, lasted_word(e.finding.code, true),
                       lasted);
  return fmt::format("{} — {} {}, {}", e.finding.detail, lasted_word(e.finding.code, false), lasted,
                     e.ended_how);
}

}  // namespace vhs
