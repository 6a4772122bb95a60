// Hang rules over ring snapshots and vring facts, the fault-to-finding texts, and ReplyTimeout.
#include "decoders/session/ring_health.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "decoders/virtio/packed_ring.hpp"
#include "decoders/virtio/split_follower.hpp"
#include "decoders/virtio/split_ring.hpp"

namespace vhs {
namespace {

std::string seconds(uint64_t ns) { return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9); }

uint64_t elapsed(uint64_t since_ns, uint64_t now_ns) {
  return now_ns > since_ns ? now_ns - since_ns : 0;
}

std::string_view part_name(RingType t, uint32_t part) {
  static constexpr std::string_view kSplit[] = {"descriptor table", "avail ring", "used ring"};
  static constexpr std::string_view kPacked[] = {"descriptor ring", "driver event area",
                                                 "device event area"};
  if (part > 2) return "ring part";
  return t == RingType::Split ? kSplit[part] : kPacked[part];
}

// "used idx 17" (split) / "used position 5 wrap 1" (packed).
std::string used_label(const RingSnapshot& s) {
  if (s.type == RingType::Split) return fmt::format("used idx {}", s.used_idx);
  return fmt::format("used position {} wrap {}", s.used_idx & 0x7fff, s.used_idx >> 15);
}

bool has_fault(const RingSnapshot& s, RingFaultKind kind) {
  for (const RingFault& f : s.faults)
    if (f.kind == kind) return true;
  return false;
}

// In-flight counts mean something only when the indices were read and are consistent.
bool counts_valid(const RingSnapshot& s) {
  return s.indices_ok && !has_fault(s, RingFaultKind::IndexAhead);
}

// Buffers the back-end has not fetched yet: exact with a vring base; with EVENT_IDX estimated from
// avail_event, which back-ends (libvhost-user, rust-vmm, DPDK) keep at their last_avail_idx;
// otherwise unknown, so every in-flight buffer counts.
uint32_t unfetched(const RingSnapshot& s) {
  if (s.pending) return *s.pending;
  if (s.type == RingType::Split && s.event_idx) {
    const uint32_t d = static_cast<uint16_t>(s.avail_idx - s.avail_event);
    return d <= s.inflight ? d : 0;
  }
  return s.inflight;
}

// "avail idx 17" (split) / "driver position 5 wrap 1" (packed).
std::string avail_label(const RingSnapshot& s) {
  if (s.type == RingType::Split) return fmt::format("avail idx {}", s.avail_idx);
  return fmt::format("driver position {} wrap {}", s.avail_idx & 0x7fff, s.avail_idx >> 15);
}

// Did the back-end's event word ask the driver to kick for publishing [before, after)?
// VIRTIO spec "Virtqueue Notification Suppression": split rings without EVENT_IDX kick unless
// used.flags has NO_NOTIFY; with EVENT_IDX ("The Virtqueue Used Ring", avail_event) the driver
// kicks when the new avail idx passes avail_event, i.e. avail_event lies in [old idx, new idx).
// Packed rings kick while the device event area says ENABLE; DESC (kick at one position) is not
// followed here, so it never owes a kick.
bool kick_required(const RingSnapshot& before, const RingSnapshot& after) {
  if (before.type != after.type) return false;
  if (after.type == RingType::Split) {
    if (!after.event_idx) return (before.used_flags & kUsedNoNotify) == 0;
    if (before.avail_event != after.avail_event) return false;  // the back-end is moving
    const auto published = static_cast<uint16_t>(after.avail_idx - before.avail_idx);
    return static_cast<uint16_t>(after.avail_event - before.avail_idx) < published;
  }
  return before.used_flags == kPackedEventEnable;
}

// The rule the driver broke, for the text: "avail_event 2564 asks for one when entry 2564 is
// published".
std::string kick_rule(const RingSnapshot& s) {
  if (s.type == RingType::Packed) return "the device event area (ENABLE) asks for one";
  if (!s.event_idx) return "used.flags without NO_NOTIFY asks for one after every publication";
  return fmt::format("avail_event {} asks for one when entry {} is published", s.avail_event,
                     s.avail_event);
}

// Why the back-end's own event word keeps the driver from announcing work it has not fetched.
std::string backend_suppression_reason(const RingSnapshot& s) {
  if (!s.event_idx) return "used.flags has NO_NOTIFY";
  return fmt::format("avail_event {} asks for a kick only once the driver publishes entry {} ({})",
                     s.avail_event, s.avail_event, avail_label(s));
}

FindingCode chain_code(ChainError e) {
  switch (e) {
    case ChainError::Loop: return FindingCode::ChainLoop;
    case ChainError::NestedIndirect:
    case ChainError::IndirectWithNext:
    case ChainError::IndirectBadLength: return FindingCode::ChainMalformed;
    default: return FindingCode::ChainOutOfRange;
  }
}

std::string chain_text(const RingSnapshot& s, const RingFault& f) {
  const std::string where = s.type == RingType::Split
                                ? fmt::format("queue {}: chain at head {}", s.queue, f.head)
                                : fmt::format("queue {}: chain at slot {}", s.queue, f.head);
  switch (f.chain) {
    case ChainError::Loop:
      return fmt::format("{} does not end within {} descriptors (loop)", where, f.value);
    case ChainError::HeadOutOfRange:
      return fmt::format("{}: head is beyond queue size {}", where, s.size);
    case ChainError::NextOutOfRange:
      if (s.type == RingType::Packed)
        return fmt::format(
            "{}: descriptor at slot {} has NEXT but no further descriptor is available", where,
            f.index);
      return fmt::format("{}: descriptor {} has next {}, outside its table", where, f.index,
                         f.value);
    case ChainError::NestedIndirect:
      return fmt::format("{}: indirect table entry {} is itself INDIRECT (flags {:#x})", where,
                         f.index, f.value);
    case ChainError::IndirectWithNext:
      return fmt::format("{}: descriptor {} has both INDIRECT and NEXT (flags {:#x})", where,
                         f.index, f.value);
    case ChainError::IndirectBadLength:
      return fmt::format(
          "{}: descriptor {} points to an indirect table of {} bytes (needs a non-zero "
          "multiple of 16, at most 32768 entries)",
          where, f.index, f.value);
    case ChainError::TableUnreadable:
      return fmt::format("{}: descriptor {} (table at {:#x}) is not in guest memory", where,
                         f.index, f.value);
    case ChainError::BufferUnmapped:
      return fmt::format("{}: descriptor {} buffer at {:#x} is not in guest memory", where, f.index,
                         f.value);
    case ChainError::None: break;
  }
  return fmt::format("{}: chain problem {} at {}", where, static_cast<unsigned>(f.chain), f.index);
}

}  // namespace

bool queue_waits_for_input(const RingSnapshot& s, DeviceKind device) {
  const std::optional<BufferSummary>& b = s.oldest;
  // A buffer with nothing for the device to read carries no request: the driver posted it for
  // the device to fill when it has something (VIRTIO spec "The Virtqueue Descriptor Table":
  // VIRTQ_DESC_F_WRITE marks a buffer device write-only).
  const bool writable_only = b && b->readable_bytes == 0 && b->writable_bytes > 0;
  switch (device) {
    case DeviceKind::Net:
      // VIRTIO spec "Network Device / Virtqueues": receiveqN is 2(N-1), transmitqN 2(N-1)+1.
      // A receive queue holds empty buffers until packets arrive ("Device Operation / Setting Up
      // Receive Buffers"): waiting is its normal state, whatever the ring's size. A transmit
      // queue holds packets the device owes a completion. The control queue (index 2N) stays in
      // QEMU under vhost-user; should a back-end get it, its commands start with a
      // device-readable class/command header ("Control Virtqueue"), so a buffer with readable
      // bytes on an even queue is a command, and a command without progress is a stall.
      return !net_queue_is_tx(s.queue) && (!b || b->readable_bytes == 0);
    case DeviceKind::Blk:
      // VIRTIO spec "Block Device / Device Operation": every buffer is a request with a readable
      // header, on every queue.
      return false;
    case DeviceKind::Fs:
      // VIRTIO spec "File System Device / Virtqueues": 0 is hiprio, then the notification queue
      // (with VIRTIO_FS_F_NOTIFICATION), then request queues. hiprio carries FORGET requests the
      // device must consume ("Device Operation: High Priority Queue"): a stall like any request.
      // The notification queue holds device-writable buffers the device fills when it has a
      // notification ("Device Operation: Notification Queue"); requests always carry a readable
      // fuse_in_header, so the buffer's shape tells the two apart.
      return s.queue != 0 && writable_only;
    default:
      // Unknown device: a buffer with readable bytes is a request the back-end owes an answer; a
      // writable-only one may be a receive buffer, which is no error to raise. Without an oldest
      // buffer there is no evidence, and in-flight work counts as requests.
      return writable_only;
  }
}

Finding fault_finding(const RingSnapshot& s, const RingFault& f) {
  const uint32_t q = s.queue;
  switch (f.kind) {
    case RingFaultKind::SizeInvalid:
      return {
          FindingCode::InvalidField,
          fmt::format("queue {}: queue size {} is not valid for a {} ring (1..32768{})", q, f.value,
                      ring_type_name(s.type), s.type == RingType::Split ? ", power of two" : "")};
    case RingFaultKind::PartUnmapped:
      return {FindingCode::RingAddressUnmapped,
              fmt::format("queue {}: {} at {:#x} is outside guest memory", q,
                          part_name(s.type, f.index), f.value)};
    case RingFaultKind::PartUnreadable:
      return {FindingCode::RingAddressUnmapped,
              fmt::format("queue {}: {} at guest-physical {:#x} could not be read", q,
                          part_name(s.type, f.index), f.value)};
    case RingFaultKind::IndexAhead:
      return {FindingCode::RingIndexInvalid,
              fmt::format(
                  "queue {}: avail idx {} is {} ahead of used idx {}, more than the queue size {}",
                  q, f.value, static_cast<uint16_t>(f.value - f.index), f.index, s.size)};
    case RingFaultKind::HeadOutOfRange:
      return {FindingCode::RingIndexInvalid,
              fmt::format("queue {}: avail ring entry {} holds head {}, beyond queue size {}", q,
                          f.index, f.value, s.size)};
    case RingFaultKind::UsedIdOutOfRange:
      return {FindingCode::RingIndexInvalid,
              fmt::format("queue {}: used ring entry {} holds id {}, beyond queue size {}", q,
                          f.index, f.value, s.size)};
    case RingFaultKind::BaseMismatch:
      return {
          FindingCode::RingIndexInvalid,
          fmt::format(
              "queue {}: vring base {} (the back-end's next avail idx) is not between used idx {} "
              "and avail idx {}",
              q, f.value, f.index, s.avail_idx)};
    case RingFaultKind::Chain: return {chain_code(f.chain), chain_text(s, f)};
    case RingFaultKind::UsedNotInFlight:
      return {FindingCode::UsedNotInFlight,
              fmt::format("queue {}: {}", q, used_entry_fault_text(f))};
    case RingFaultKind::UsedLenBeyondChain:
      return {FindingCode::UsedLenBeyondChain,
              fmt::format("queue {}: {}", q, used_entry_fault_text(f))};
  }
  return {FindingCode::InvalidField,
          fmt::format("queue {}: unknown ring fault {}", q, static_cast<unsigned>(f.kind))};
}

RingHealth::RingHealth(HealthThresholds thresholds) : thresholds_(thresholds) {}

void RingHealth::raise(QueueState& q, uint32_t queue, FindingCode code, uint64_t since_ns,
                       uint64_t now_ns, std::string detail, std::vector<HealthEvent>& out) {
  if (q.active.count(code)) return;  // raised once per episode; values may drift meanwhile
  HealthEvent e{true, queue, since_ns, now_ns, Finding{code, std::move(detail)}};
  q.active.emplace(code, e);
  out.push_back(std::move(e));
}

void RingHealth::clear(QueueState& q, FindingCode code, uint64_t now_ns,
                       std::vector<HealthEvent>& out) {
  auto it = q.active.find(code);
  if (it == q.active.end()) return;
  HealthEvent e = std::move(it->second);
  q.active.erase(it);
  e.raised = false;
  e.at_ns = now_ns;
  out.push_back(std::move(e));
}

void RingHealth::observe(const RingSnapshot& s, uint64_t now_ns, std::vector<HealthEvent>& out) {
  QueueState& q = queues_[s.queue];

  // Structural faults: raised while present, one finding per code (the first fault's text).
  std::map<FindingCode, std::pair<std::string, size_t>> present;
  for (const RingFault& f : s.faults) {
    Finding fd = fault_finding(s, f);
    auto [it, inserted] = present.try_emplace(fd.code, std::move(fd.detail), 0);
    ++it->second.second;
  }
  static constexpr FindingCode kFaultCodes[] = {
      FindingCode::InvalidField, FindingCode::RingAddressUnmapped, FindingCode::RingIndexInvalid,
      FindingCode::ChainLoop,    FindingCode::ChainOutOfRange,     FindingCode::ChainMalformed,
      FindingCode::UsedNotInFlight, FindingCode::UsedLenBeyondChain};
  for (FindingCode code : kFaultCodes) {
    auto it = present.find(code);
    if (it == present.end()) {
      clear(q, code, now_ns, out);
      continue;
    }
    std::string detail = it->second.first;
    if (it->second.second > 1) detail += fmt::format(" (and {} more)", it->second.second - 1);
    raise(q, s.queue, code, now_ns, now_ns, std::move(detail), out);
  }

  track_owed_kick(q, s);
  q.last = s;
  q.last_ns = now_ns;
  update_conditions(q, now_ns, out);
  refresh(s.queue, q, now_ns, out);
}

DeviceKind RingHealth::device_of(const RingSnapshot& s) const {
  if (device_ != DeviceKind::Unknown) return device_;
  return s.oldest ? s.oldest->device : DeviceKind::Unknown;  // what the sampler read it as
}

void RingHealth::track_owed_kick(QueueState& q, const RingSnapshot& s) {
  // q.last is still the previous snapshot here. Kicks count only while they are interposed.
  if (!q.kicks_visible || !counts_valid(s) || s.inflight == 0) {
    q.kick_owed_since.reset();
    return;
  }
  if (!q.last || q.kick_owed_since || q.last->avail_idx == s.avail_idx) return;
  // The driver published after the previous snapshot; a kick at or after that time announces it.
  if (kick_required(*q.last, s) && q.last_kick_ns < q.last_ns) q.kick_owed_since = q.last_ns;
}

void RingHealth::update_conditions(QueueState& q, uint64_t now_ns, std::vector<HealthEvent>& out) {
  if (!q.last) return;
  const RingSnapshot& s = *q.last;
  // Requests the back-end owes: in-flight buffers that are not receive buffers waiting for input.
  const bool requests =
      counts_valid(s) && s.inflight > 0 && !queue_waits_for_input(s, device_of(s));
  // A disabled ring gets no new stall: the front-end told the back-end not to exchange data on it
  // (spec "Ring states"; back-ends such as DPDK leave it alone), so buffers the guest left there
  // (the unused queue pairs of a multiqueue NIC) are no hang. A stall that began while the ring
  // was enabled goes on after a disable (QEMU disables rings before GET_VRING_BASE when it stops
  // the device): those requests were accepted and are still owed.
  const bool continuing = q.stall.armed && q.stall.key == s.used_idx;
  const bool watched = requests && (q.enabled || continuing);

  // Stall: in-flight requests while the used index stands still. Any move restarts the clock.
  if (watched) {
    if (!continuing) {
      clear(q, FindingCode::RingStalled, now_ns, out);
      q.stall = Timer{true, now_ns, s.used_idx};
    }
  } else {
    q.stall.armed = false;
    clear(q, FindingCode::RingStalled, now_ns, out);
  }

  // Suppressed notifications, only where they are the cause of unfetched work (VIRTIO spec
  // "Virtqueue Notification Suppression"):
  // - the driver published buffers without the kick the back-end's event word asked for (seen
  //   only when kicks are interposed: otherwise a kick may well have been sent);
  // - the back-end's own word (NO_NOTIFY, or avail_event at or ahead of avail idx) keeps the
  //   driver from kicking for work the back-end has not fetched, known only from a vring base.
  // With EVENT_IDX, avail_event behind avail idx right after a kick is the normal state while the
  // back-end has not fetched yet: the kick was due and sent, so that alone is no finding.
  Suppression cause = Suppression::None;
  if (requests && q.enabled) {
    if (q.kick_owed_since) {
      cause = Suppression::DriverDidNotKick;
    } else if (s.type == RingType::Split && s.pending && *s.pending > 0) {
      const auto behind = static_cast<uint16_t>(s.avail_idx - s.avail_event);
      if (s.event_idx ? (behind == 0 || behind >= 0x8000) : (s.used_flags & kUsedNoNotify) != 0)
        cause = Suppression::BackendSuppresses;
    }
  }
  // The clock runs while the back-end's side (used idx, its event word, its flags) is unchanged.
  if (cause != Suppression::None) {
    const uint64_t key = s.used_idx | (uint64_t{s.avail_event} << 16) |
                         (uint64_t{s.used_flags} << 32) |
                         (uint64_t{static_cast<uint8_t>(cause)} << 48);
    if (!q.suppressed.armed || q.suppressed.key != key) {
      clear(q, FindingCode::NotificationsSuppressed, now_ns, out);
      q.suppressed = Timer{true, now_ns, key};
    }
  } else {
    q.suppressed.armed = false;
    clear(q, FindingCode::NotificationsSuppressed, now_ns, out);
  }
  q.suppression = cause;
}

void RingHealth::set_device(DeviceKind device, uint64_t now_ns, std::vector<HealthEvent>& out) {
  if (device == device_) return;
  device_ = device;
  for (auto& [queue, q] : queues_) {
    update_conditions(q, now_ns, out);
    refresh(queue, q, now_ns, out);
  }
}

void RingHealth::observe_notify(const NotifyRecord& n, uint64_t now_ns,
                                std::vector<HealthEvent>& out) {
  // Only kicks change what the rules watch; a call leaves every timer, and so the deadline, as
  // it was (advance() then need not evaluate every queue again).
  if (n.source != NotifySource::Kick) return;
  QueueState& q = queues_[n.queue];
  switch (n.event) {
    case NotifyEvent::Interposed: q.kicks_visible = true; break;
    case NotifyEvent::Closed:
      q.kicks_visible = false;
      q.kick_owed_since.reset();
      break;
    case NotifyEvent::Relayed:
    case NotifyEvent::Held:  // the driver did kick; holding it is the debugger's doing
      q.last_kick_ns = now_ns;
      if (q.kick_owed_since && now_ns >= *q.kick_owed_since) q.kick_owed_since.reset();
      break;
    case NotifyEvent::Released: break;
  }
  update_conditions(q, now_ns, out);
  refresh(n.queue, q, now_ns, out);
}

void RingHealth::evaluate(uint32_t queue, QueueState& q, uint64_t now_ns,
                          std::vector<HealthEvent>& out) {
  for (auto [code, wait] :
       {std::pair{FindingCode::NoKickFd, &q.no_kick}, std::pair{FindingCode::NoCallFd, &q.no_call}})
    // Raised once per episode, like the checks below: the detail is not copied again on every
    // later record.
    if (wait->armed && !q.active.count(code) &&
        elapsed(wait->since_ns, now_ns) >= thresholds_.notifier_grace_ns)
      raise(q, queue, code, wait->since_ns, now_ns, wait->detail, out);
  if (!q.last) return;
  const RingSnapshot& s = *q.last;
  // An episode is raised once: its text is not built again on every later record.
  if (q.stall.armed && !q.active.count(FindingCode::RingStalled) &&
      elapsed(q.stall.since_ns, now_ns) >= thresholds_.stall_ns) {
    std::string detail = fmt::format("queue {}: {} buffer{} in flight, {} unchanged for {}", queue,
                                     s.inflight, s.inflight == 1 ? "" : "s", used_label(s),
                                     seconds(elapsed(q.stall.since_ns, now_ns)));
    if (s.pending) detail += fmt::format(" ({} not yet fetched by the back-end)", *s.pending);
    if (s.oldest) detail += "; oldest " + describe_buffer(*s.oldest);
    raise(q, queue, FindingCode::RingStalled, q.stall.since_ns, now_ns, std::move(detail), out);
  }
  if (q.suppressed.armed && !q.active.count(FindingCode::NotificationsSuppressed) &&
      elapsed(q.suppressed.since_ns, now_ns) >= thresholds_.suppressed_ns) {
    const std::string lasted = seconds(elapsed(q.suppressed.since_ns, now_ns));
    std::string detail;
    if (q.suppression == Suppression::DriverDidNotKick) {
      detail = fmt::format(
          "queue {}: the driver made buffers available ({}) without a kick for {}, though {}; "
          "the back-end has not used them",
          queue, avail_label(s), lasted, kick_rule(s));
    } else {
      const uint32_t waiting = unfetched(s);
      detail = fmt::format(
          "queue {}: {} buffer{} not fetched by the back-end for {} while {}, so the driver will "
          "not kick for them",
          queue, waiting, waiting == 1 ? "" : "s", lasted, backend_suppression_reason(s));
    }
    raise(q, queue, FindingCode::NotificationsSuppressed, q.suppressed.since_ns, now_ns,
          std::move(detail), out);
  }
}

namespace {

std::string notifier_text(uint32_t queue, FindingCode code, NotifierSetting setting) {
  const bool kick = code == FindingCode::NoKickFd;
  if (setting == NotifierSetting::Unset)
    return fmt::format(
        "queue {}: {}", queue,
        kick ? "started without SET_VRING_KICK: the back-end gets no kicks"
             : "started without SET_VRING_CALL: the back-end cannot interrupt the guest");
  return fmt::format("queue {}: {}", queue,
                     kick ? "SET_VRING_KICK sent NOFD: the back-end must poll the ring"
                          : "SET_VRING_CALL sent NOFD: the back-end cannot interrupt the guest");
}

}  // namespace

void RingHealth::update_notifier(QueueState& q, uint32_t queue, FindingCode code,
                                 NotifierWait& wait, bool started, NotifierSetting setting,
                                 uint64_t now_ns, std::vector<HealthEvent>& out) {
  if (!started || setting == NotifierSetting::Fd) {
    // Stopped with the fd still missing: it never came while the ring ran.
    if (!started && wait.armed) raise(q, queue, code, wait.since_ns, now_ns, wait.detail, out);
    wait = NotifierWait{};
    return clear(q, code, now_ns, out);
  }
  std::string detail = notifier_text(queue, code, setting);
  if (wait.armed && wait.detail == detail) return;
  if (!wait.armed) wait.since_ns = now_ns;
  wait.armed = true;
  wait.detail = std::move(detail);
  // A raised finding whose reason changed (unset -> NOFD) is replaced at once: the fd has been
  // missing past the grace period already.
  auto it = q.active.find(code);
  if (it != q.active.end()) {
    clear(q, code, now_ns, out);
    raise(q, queue, code, wait.since_ns, now_ns, wait.detail, out);
  }
}

void RingHealth::observe_facts(const VringFacts& f, uint64_t now_ns,
                               std::vector<HealthEvent>& out) {
  QueueState& q = queues_[f.queue];
  update_notifier(q, f.queue, FindingCode::NoKickFd, q.no_kick, f.started, f.kick, now_ns, out);
  update_notifier(q, f.queue, FindingCode::NoCallFd, q.no_call, f.started, f.call, now_ns, out);
  q.enabled = f.enabled;
  update_conditions(q, now_ns, out);
  refresh(f.queue, q, now_ns, out);
}

void RingHealth::settle_notifiers(QueueState& q, uint32_t queue, uint64_t now_ns,
                                  std::vector<HealthEvent>& out) {
  if (q.no_kick.armed)
    raise(q, queue, FindingCode::NoKickFd, q.no_kick.since_ns, now_ns, q.no_kick.detail, out);
  if (q.no_call.armed)
    raise(q, queue, FindingCode::NoCallFd, q.no_call.since_ns, now_ns, q.no_call.detail, out);
}

void RingHealth::settle(uint64_t now_ns, std::vector<HealthEvent>& out) {
  mark_all_stale();  // the notifier findings raised here stop their timers
  for (auto& [queue, q] : queues_) settle_notifiers(q, queue, now_ns, out);
}

void RingHealth::advance(uint64_t now_ns, std::vector<HealthEvent>& out) {
  // Nothing changed since the last look and no threshold is reached yet: evaluate() would raise
  // nothing.
  if (!deadline_stale_ && now_ns < deadline_ns_) return;
  uint64_t least = UINT64_MAX;
  for (auto& [queue, q] : queues_) {
    if (q.stale || q.deadline_ns <= now_ns) {
      evaluate(queue, q, now_ns, out);
      q.deadline_ns = queue_deadline(q);
      q.stale = false;
    }
    least = std::min(least, q.deadline_ns);
  }
  deadline_ns_ = least;
  deadline_stale_ = false;
}

void RingHealth::refresh(uint32_t queue, QueueState& q, uint64_t now_ns,
                         std::vector<HealthEvent>& out) {
  evaluate(queue, q, now_ns, out);
  const uint64_t before = q.deadline_ns;
  q.deadline_ns = queue_deadline(q);
  q.stale = false;
  if (deadline_stale_) return;  // the least is found again at the next advance() anyway
  // A queue's deadline moving earlier may lower the least; one moving later may raise it only if
  // this queue held it.
  if (q.deadline_ns <= deadline_ns_)
    deadline_ns_ = q.deadline_ns;
  else if (before <= deadline_ns_)
    deadline_stale_ = true;
}

void RingHealth::mark_all_stale() {
  for (auto& [queue, q] : queues_) q.stale = true;
  deadline_stale_ = true;
}

uint64_t RingHealth::queue_deadline(const QueueState& q) const {
  // The conditions of evaluate(): a timer that is armed and whose finding is not raised yet
  // fires once elapsed(since, now) reaches its threshold, i.e. at since + threshold.
  const auto at = [](uint64_t since_ns, uint64_t threshold_ns) {
    return since_ns > UINT64_MAX - threshold_ns ? UINT64_MAX : since_ns + threshold_ns;
  };
  uint64_t deadline = UINT64_MAX;
  if (q.no_kick.armed && !q.active.count(FindingCode::NoKickFd))
    deadline = std::min(deadline, at(q.no_kick.since_ns, thresholds_.notifier_grace_ns));
  if (q.no_call.armed && !q.active.count(FindingCode::NoCallFd))
    deadline = std::min(deadline, at(q.no_call.since_ns, thresholds_.notifier_grace_ns));
  if (!q.last) return deadline;
  if (q.stall.armed && !q.active.count(FindingCode::RingStalled))
    deadline = std::min(deadline, at(q.stall.since_ns, thresholds_.stall_ns));
  if (q.suppressed.armed && !q.active.count(FindingCode::NotificationsSuppressed))
    deadline = std::min(deadline, at(q.suppressed.since_ns, thresholds_.suppressed_ns));
  return deadline;
}

void RingHealth::forget(uint32_t queue, uint64_t now_ns, std::vector<HealthEvent>& out) {
  deadline_stale_ = true;  // the least may have been this queue's
  auto it = queues_.find(queue);
  if (it == queues_.end()) return;
  settle_notifiers(it->second, queue, now_ns, out);
  while (!it->second.active.empty())
    clear(it->second, it->second.active.begin()->first, now_ns, out);
  queues_.erase(it);
}

void RingHealth::forget_all(uint64_t now_ns, std::vector<HealthEvent>& out) {
  while (!queues_.empty()) forget(queues_.begin()->first, now_ns, out);
}

std::vector<HealthEvent> RingHealth::active() const {
  std::vector<HealthEvent> all;
  for (const auto& [queue, q] : queues_)
    for (const auto& [code, e] : q.active) all.push_back(e);
  return all;
}

std::vector<Finding> reply_timeouts(std::span<const WaitingForReply> waiting, uint64_t now_ns,
                                    uint64_t threshold_ns) {
  std::vector<Finding> out;
  for (const WaitingForReply& w : waiting) {
    const uint64_t waited = elapsed(w.since_ns, now_ns);
    if (waited < threshold_ns) continue;
    std::string what(w.name.empty() ? std::string_view("request") : w.name);
    if (w.vring) what += fmt::format(" (queue {})", *w.vring);
    if (w.channel == Channel::Backend) what += " on the back-end channel";
    out.push_back(
        {FindingCode::ReplyTimeout, fmt::format("{} has waited {} for its reply (threshold {})",
                                                what, seconds(waited), seconds(threshold_ns))});
  }
  return out;
}

}  // namespace vhs
