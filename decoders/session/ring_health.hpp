// Hang rules: pure functions of ring snapshots (with their timestamps) and session facts that
// raise, and later clear, ring findings: RingStalled, RingIndexInvalid, RingAddressUnmapped, the
// chain codes, NoKickFd/NoCallFd and NotificationsSuppressed; plus the ReplyTimeout helper. No
// clock of its own: time only moves when the caller passes it. The rules know the device: a
// queue of empty receive buffers waiting for traffic is idle, not stalled (see
// queue_waits_for_input).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

// The finding for one snapshot fault, with the concrete values in its text.
Finding fault_finding(const RingSnapshot& s, const RingFault& f);

// True when the in-flight buffers of this ring are empty buffers the device fills when something
// arrives (virtio-net receive queues, the virtio-fs notification queue), so a used index that
// stands still means "nothing arrived", not "the back-end hangs". `device` Unknown: the oldest
// buffer's shape decides (see ring_health.cpp for the rule per device).
bool queue_waits_for_input(const RingSnapshot& s, DeviceKind device);

struct HealthThresholds {
  uint64_t stall_ns = 1'000'000'000;       // in-flight buffers, used index frozen this long
  uint64_t suppressed_ns = 1'000'000'000;  // unfetched work, no kick expected, this long
  // A started ring without a kick/call fd this long. Front-ends start a ring with SET_VRING_KICK
  // and may send SET_VRING_CALL just after, so the moment of start-up alone says nothing.
  uint64_t notifier_grace_ns = 1'000'000'000;
};

// A kick/call notifier as the session saw it (SessionAnalyser's NotifierSlot::State).
enum class NotifierSetting : uint8_t { Unset, NoFd, Fd };

// What the session knows about one vring's notifiers.
struct VringFacts {
  uint32_t queue = 0;
  bool started = false;  // the ring is in use (the session's VringState::started)
  NotifierSetting kick = NotifierSetting::Unset;
  NotifierSetting call = NotifierSetting::Unset;
  // SET_VRING_ENABLE (the session's VringState::enabled). A caller that does not follow the
  // messages leaves it true: only a known disable silences the stall rules.
  bool enabled = true;
  bool operator==(const VringFacts&) const = default;
};

// A finding being raised, or cleared because its condition went away (views drop it then).
struct HealthEvent {
  bool raised = true;
  uint32_t queue = 0;
  uint64_t since_ns = 0;  // when the condition began
  uint64_t at_ns = 0;     // when it was raised / cleared
  Finding finding;        // a clear repeats the code and detail of its raise
};

// Per-session rule state. Feed every snapshot (the sampler records only changes, so a snapshot
// holds until the next one of its queue), the vring facts whenever they change, the device kind
// once known, the interposed kicks when there are any, and call advance() as time passes: a
// frozen ring produces no new snapshots, so thresholds fire there.
// NoKickFd/NoCallFd are raised once the condition has lasted notifier_grace_ns, or at once when
// it holds until the ring stops or the session ends (settle): a ring that ran its whole life
// without the fd is worth a finding however short that life was.
class RingHealth {
 public:
  explicit RingHealth(HealthThresholds thresholds = {});

  void observe(const RingSnapshot& s, uint64_t now_ns, std::vector<HealthEvent>& out);
  void observe_facts(const VringFacts& facts, uint64_t now_ns, std::vector<HealthEvent>& out);
  // The session's device kind (DeviceInference: inferred or forced by the user). Unknown: each
  // snapshot's oldest buffer says what the sampler read it as, else the buffer's shape decides.
  void set_device(DeviceKind device, uint64_t now_ns, std::vector<HealthEvent>& out);
  // A Notify record (`record --interpose-notify`): kicks are then visible, so a publication the
  // driver did not announce can be told from one the back-end ignored.
  void observe_notify(const NotifyRecord& n, uint64_t now_ns, std::vector<HealthEvent>& out);
  void advance(uint64_t now_ns, std::vector<HealthEvent>& out);
  // The ring stopped (GET_VRING_BASE, reset) or the session ended: clear all of its findings.
  void forget(uint32_t queue, uint64_t now_ns, std::vector<HealthEvent>& out);
  void forget_all(uint64_t now_ns, std::vector<HealthEvent>& out);
  // The session ended or the capture did: notifier conditions still within their grace period
  // are the final state, so they are raised now.
  void settle(uint64_t now_ns, std::vector<HealthEvent>& out);

  // Findings raised and not cleared, ordered by queue then code.
  std::vector<HealthEvent> active() const;

 private:
  struct Timer {
    bool armed = false;
    uint64_t since_ns = 0;
    uint64_t key = 0;  // what must stay unchanged for the timer to keep running
  };
  // A missing kick/call fd on a started ring, waiting out its grace period.
  struct NotifierWait {
    bool armed = false;
    uint64_t since_ns = 0;
    std::string detail;
  };
  // Why notifications are the cause of unfetched work (see suppression_cause in the .cpp).
  enum class Suppression : uint8_t { None, DriverDidNotKick, BackendSuppresses };
  struct QueueState {
    std::optional<RingSnapshot> last;
    uint64_t last_ns = 0;  // when `last` was observed
    bool enabled = true;
    Timer stall, suppressed;
    Suppression suppression = Suppression::None;
    NotifierWait no_kick, no_call;
    // Kicks, when interposed: whether they are visible, the newest one, and since when the
    // driver owes one for a publication the back-end's event word asked to hear about.
    bool kicks_visible = false;
    uint64_t last_kick_ns = 0;
    std::optional<uint64_t> kick_owed_since;
    std::map<FindingCode, HealthEvent> active;
    // queue_deadline() of this queue as of its last evaluation; stale: changed since.
    uint64_t deadline_ns = UINT64_MAX;
    bool stale = false;
  };

  void raise(QueueState& q, uint32_t queue, FindingCode code, uint64_t since_ns, uint64_t now_ns,
             std::string detail, std::vector<HealthEvent>& out);
  void clear(QueueState& q, FindingCode code, uint64_t now_ns, std::vector<HealthEvent>& out);
  void evaluate(uint32_t queue, QueueState& q, uint64_t now_ns, std::vector<HealthEvent>& out);
  // Re-derives the stall and suppression conditions from the last snapshot and the facts.
  void update_conditions(QueueState& q, uint64_t now_ns, std::vector<HealthEvent>& out);
  void track_owed_kick(QueueState& q, const RingSnapshot& s);
  DeviceKind device_of(const RingSnapshot& s) const;
  void update_notifier(QueueState& q, uint32_t queue, FindingCode code, NotifierWait& wait,
                       bool started, NotifierSetting setting, uint64_t now_ns,
                       std::vector<HealthEvent>& out);
  void settle_notifiers(QueueState& q, uint32_t queue, uint64_t now_ns,
                        std::vector<HealthEvent>& out);
  // The earliest time at which evaluate() would raise a finding on this queue (UINT64_MAX: no
  // timer is running). advance() is called for every record of a session; with this it looks at
  // a queue only when it changed or one of its thresholds can have been crossed.
  uint64_t queue_deadline(const QueueState& q) const;
  // evaluate() of one queue that just changed, keeping its deadline and the session's current.
  void refresh(uint32_t queue, QueueState& q, uint64_t now_ns, std::vector<HealthEvent>& out);
  void mark_all_stale();

  HealthThresholds thresholds_;
  DeviceKind device_ = DeviceKind::Unknown;
  std::map<uint32_t, QueueState> queues_;
  // The least queue deadline. Stale when a queue is stale or a queue's deadline moved later
  // (the least must be found again); advance() then looks at every queue.
  uint64_t deadline_ns_ = UINT64_MAX;
  bool deadline_stale_ = false;
};

// A request waiting for its reply (the session analyser's pending list, reduced to what the rule
// needs).
struct WaitingForReply {
  std::string_view name;  // spec name, e.g. "GET_VRING_BASE"
  Channel channel = Channel::Frontend;
  uint64_t since_ns = 0;
  std::optional<uint32_t> vring;
};

// How long a request may wait for its reply before the wait is a hang (ReplyTimeout live; an
// Unanswered error in a capture that was cut after this long).
inline constexpr uint64_t kReplyTimeoutNs = 1'000'000'000;

// ReplyTimeout findings for the requests that have waited at least `threshold_ns` by `now_ns`.
std::vector<Finding> reply_timeouts(std::span<const WaitingForReply> waiting, uint64_t now_ns,
                                    uint64_t threshold_ns = kReplyTimeoutNs);

}  // namespace vhs
