// Ring hangs of one session, from its RingState records and its vrings' notifier facts: the
// newest snapshot of every queue and the hang rules of decoders/ring_health run over both in
// record order. The Store keeps
// one per session, so `summary`, `report`, `rings`, the GUI and `record --status` all show the
// same ring findings. A finding that is raised becomes an episode; when its condition goes away
// (a stalled ring drains) the episode ends but stays in the history.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "decoders/session/ring_health.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

inline constexpr uint32_t kNoRingEntry = UINT32_MAX;

// The newest snapshot of one queue.
struct RingQueueState {
  RingSnapshot last;
  uint64_t last_ns = 0;           // its record's time
  uint32_t entry = kNoRingEntry;  // its store entry, when fed by a Store
  uint64_t samples = 0;           // RingState records seen for this queue
};

// One ring finding from raise to (maybe) end.
struct RingEpisode {
  uint32_t queue = 0;
  Finding finding;        // as raised (its detail is what the rule said then)
  uint64_t since_ns = 0;  // when the condition began (a stall: the used index's last move)
  uint64_t raised_ns = 0;
  std::optional<uint64_t> ended_ns;
  std::string ended_how;  // "drained", "used idx moved to 17, 2 in flight", ...
  // The snapshot the finding is about (the queue's newest at raise); for NoKickFd/NoCallFd the
  // message that left the ring started without the fd.
  uint32_t entry = kNoRingEntry;

  bool active() const { return !ended_ns.has_value(); }
};

class RingTimeline {
 public:
  explicit RingTimeline(HealthThresholds thresholds = {});

  // A RingState snapshot taken at `ts_ns` (stored as `entry`). Time first runs up to `ts_ns`,
  // so a ring that was frozen until now gets its stall raised before this snapshot clears it.
  // Indices of the episodes raised or ended are appended to `changed`.
  void observe(const RingSnapshot& s, uint64_t ts_ns, uint32_t entry, std::vector<size_t>& changed);
  // A vring's notifier facts changed at `ts_ns`, by the message stored as `entry`.
  void observe_facts(const VringFacts& f, uint64_t ts_ns, uint32_t entry,
                     std::vector<size_t>& changed);
  // The session's device kind (inferred or forced): the hang rules are device-aware.
  void set_device(DeviceKind device, uint64_t ts_ns, std::vector<size_t>& changed);
  // A Notify record (interposed kicks): lets the rules tell a missing kick from an ignored one.
  void observe_notify(const NotifyRecord& n, uint64_t ts_ns, std::vector<size_t>& changed);
  // Time passes without a snapshot (a frozen ring is silent): thresholds fire here.
  void advance(uint64_t now_ns, std::vector<size_t>& changed);
  // The session or the capture ended at `now_ns`: conditions still in their grace period are
  // the final state and become episodes (see RingHealth::settle).
  void settle(uint64_t now_ns, std::vector<size_t>& changed);

  const std::map<uint32_t, RingQueueState>& queues() const { return queues_; }
  const std::vector<RingEpisode>& episodes() const { return episodes_; }
  bool any_active() const;
  bool empty() const { return queues_.empty(); }  // no RingState snapshot yet
  bool watching() const {
    return !queues_.empty() || !fact_entries_.empty();
  }                                            // anything for the clock to do
  uint64_t now_ns() const { return now_ns_; }  // the latest time observed or advanced to

 private:
  // Most records raise and clear nothing: the common case costs no call.
  void apply(const std::vector<HealthEvent>& events, const RingSnapshot* cause,
             const VringFacts* facts, std::vector<size_t>& changed) {
    if (!events.empty()) apply_events(events, cause, facts, changed);
  }
  void apply_events(const std::vector<HealthEvent>& events, const RingSnapshot* cause,
                    const VringFacts* facts, std::vector<size_t>& changed);

  RingHealth health_;
  std::map<uint32_t, RingQueueState> queues_;
  std::vector<RingEpisode> episodes_;
  std::map<std::pair<uint32_t, FindingCode>, size_t> open_;  // active episode per queue and code
  // Per queue and notifier code: the message that began the condition (kNoRingEntry: none).
  std::map<std::pair<uint32_t, FindingCode>, uint32_t> fact_entries_;
  std::map<uint32_t, VringFacts> facts_;  // last facts per queue
  std::vector<HealthEvent> events_;       // scratch
  DeviceKind device_ = DeviceKind::Unknown;
  uint64_t now_ns_ = 0;
};

// How long the episode's condition lasted (until `now_ns` while it is active).
uint64_t episode_duration(const RingEpisode& e, uint64_t now_ns);

// One line: the finding's detail plus how it ended or how long it has lasted:
// "queue 0: 3 buffers in flight, used idx 14 unchanged for 1.00 s; oldest head 4: READ sector
// 2048 len 4096 — stalled 3.20 s, drained" / "... — still stalled, 4.32 s".
std::string describe_episode(const RingEpisode& e, uint64_t now_ns);

}  // namespace vhs
