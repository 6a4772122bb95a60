// The checker's rules. Facts about requests (reply rules, gates, fd roles) come from the registry
// through the SessionAnalyser; what this file adds is the judgement: which rule a finding is
// evidence of, who is to blame, and the session-level rules no single finding states.
#include "decoders/conformance/checker.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/virtio/split_follower.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace vhs {
namespace {

// VIRTIO "Device Status Field" bits as masks (the indices are in decoders/vhost_user/features).
constexpr uint64_t kAcknowledge = status_bit(kStatusAcknowledge);
constexpr uint64_t kDriver = status_bit(kStatusDriver);
constexpr uint64_t kDriverOk = status_bit(kStatusDriverOk);
constexpr uint64_t kFeaturesOk = status_bit(kStatusFeaturesOk);
constexpr uint64_t kNeedsReset = status_bit(kStatusNeedsReset);

constexpr size_t kMaxWaitingRequests = 1024;

Side sender_of(Direction d) { return d == Direction::ToBackend ? Side::Frontend : Side::Backend; }
Side other(Side s) { return s == Side::Frontend ? Side::Backend : Side::Frontend; }
Side channel_sender(Channel c) { return c == Channel::Frontend ? Side::Frontend : Side::Backend; }

Side blame_for(RuleSide side, Side sender) {
  switch (side) {
    case RuleSide::Frontend: return Side::Frontend;
    case RuleSide::Backend: return Side::Backend;
    case RuleSide::Sender: return sender;
    case RuleSide::Receiver: return other(sender);
  }
  return sender;
}

template <typename T>
const T* payload_as(const DecodedMessage& msg) {
  return std::get_if<T>(&msg.payload);
}

std::optional<uint64_t> u64_of(const DecodedMessage& msg) {
  if (const auto* v = payload_as<U64Value>(msg)) return v->value;
  return std::nullopt;
}

// The user-address range [start, start + len) lies in one region of the table.
bool mapped(const std::vector<MemRegionState>& regions, uint64_t uva, uint64_t len) {
  for (const MemRegionState& r : regions) {
    const uint64_t base = r.region.userspace_addr;
    if (uva >= base && uva - base < r.region.memory_size &&
        len <= r.region.memory_size - (uva - base))
      return true;
  }
  return false;
}

bool is_ring_start_setup(const RequestInfo* info) {
  return is_request(info, FrontendRequest::SET_MEM_TABLE) ||
         is_request(info, FrontendRequest::ADD_MEM_REG) ||
         is_request(info, FrontendRequest::SET_VRING_NUM) ||
         is_request(info, FrontendRequest::SET_VRING_ADDR) ||
         is_request(info, FrontendRequest::SET_VRING_BASE) ||
         is_request(info, FrontendRequest::SET_VRING_KICK);
}

// The fd kinds a role allows (spec "Front-end message types" says what each request passes);
// empty: the role is not judged (userfaultfds, dmabufs and pipes come in too many forms).
std::vector<FdKind> kinds_for(FdRole role) {
  switch (role) {
    case FdRole::Kick:
    case FdRole::Call:
    case FdRole::Err:
    case FdRole::LogEventfd:
      // eventfds, or pipes on hosts without eventfd
      return {FdKind::Eventfd, FdKind::Pipe};
    case FdRole::MemoryRegion:
    case FdRole::MemoryRegionRemoved:
    case FdRole::LogBitmap:
    case FdRole::Inflight:
      // memfd, a file (hugetlbfs, tmpfs) or a memory device (DAX)
      return {FdKind::Memfd, FdKind::File, FdKind::Other};
    case FdRole::BackendChannel:
    case FdRole::GpuSocket: return {FdKind::Socket};
    default: return {};
  }
}

std::string seconds(uint64_t ns) { return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9); }

}  // namespace

std::optional<RuleId> rule_for_finding(const Finding& f, const DecodedMessage* msg,
                                       Direction direction) {
  const RequestInfo* info = msg ? msg->info : nullptr;
  switch (f.code) {
    case FindingCode::FeatureNotNegotiated:
      if (is_request(info, FrontendRequest::GET_PROTOCOL_FEATURES) ||
          is_request(info, FrontendRequest::SET_PROTOCOL_FEATURES))
        return RuleId::NegProtocolNeedsBit30;
      if (is_request(info, FrontendRequest::SET_VRING_ENABLE)) return RuleId::RingEnableGated;
      if (is_request(info, FrontendRequest::ADD_MEM_REG) ||
          is_request(info, FrontendRequest::REM_MEM_REG))
        return RuleId::MemSlotsGated;
      return RuleId::NegGatedRequest;
    case FindingCode::FdCountMismatch:
      if (is_request(info, FrontendRequest::SET_LOG_BASE) && msg && !msg->is_reply)
        return RuleId::LogFdWithShmfd;
      return RuleId::FrmFdCount;
    case FindingCode::UnexpectedReply:
      // A reply flag on a message travelling the request way is a framing error; a reply with no
      // request waiting for it answers something twice (or nothing).
      if (msg && direction == request_direction(msg->channel)) return RuleId::FrmReplyFlag;
      return RuleId::NegReplyOnceInOrder;
    case FindingCode::UnknownRegion:
      if (is_request(info, FrontendRequest::REM_MEM_REG)) return RuleId::MemRemoveKnown;
      return std::nullopt;
    case FindingCode::InvalidField:
      // A GET_CONFIG reply of config size 0 is the back-end reporting failure, which it may.
      if (is_request(info, FrontendRequest::GET_CONFIG) && msg && msg->is_reply)
        return std::nullopt;
      return RuleId::FrmFieldValue;
    case FindingCode::MissingReply:
      return std::nullopt;  // judged once it is known whether the answer came late or never
    default: return finding_rule(f.code).rule;
  }
}

ConformanceChecker::ConformanceChecker(Options options)
    : options_(options),
      analyser_(SessionAnalyser::Options{options.device, options.seen_from_start}) {}

void ConformanceChecker::add(RuleId rule, Side blamed, MessageRef ref, uint64_t ts,
                             std::string expected, std::string observed,
                             std::vector<MessageRef> related) {
  Violation v;
  v.rule = rule;
  v.blamed = blamed;
  v.message = ref;
  v.related = std::move(related);
  v.timestamp_ns = ts;
  v.expected = std::move(expected);
  v.observed = std::move(observed);
  violations_.push_back(std::move(v));
}

void ConformanceChecker::add_finding(const Finding& f, MessageRef ref, uint64_t ts,
                                     Direction direction, const DecodedMessage* msg) {
  const std::optional<RuleId> rule = rule_for_finding(f, msg, direction);
  if (!rule) return;
  const Rule& r = rule_info(*rule);
  // A finding on a reply is about the answer itself: the side that should have answered right is
  // the one that sent it.
  const Side sender = sender_of(direction);
  const Side blamed =
      r.side == RuleSide::Receiver && msg && msg->is_reply ? sender : blame_for(r.side, sender);
  add(*rule, blamed, ref, ts, std::string(r.statement), f.detail);
}

std::string ConformanceChecker::ref_text(MessageRef ref) const {
  if (ref == kNoMessage) return "(none)";
  return fmt::format("#{}", ref + options_.number_offset);
}

ConformanceChecker::QueueWatch& ConformanceChecker::watch(uint32_t queue) { return queues_[queue]; }

void ConformanceChecker::on_message(MessageRef ref, uint64_t ts, Direction direction,
                                    const DecodedMessage& msg, std::span<const FdInfo> fds) {
  const SessionState& st = analyser_.state();
  // Which rings run before this message, to see what it started or stopped.
  std::vector<std::pair<uint32_t, bool>>& started_before = started_before_;
  started_before.clear();  // kept between messages: no allocation per message
  for (const VringState& v : st.vrings) started_before.emplace_back(v.index, v.started);
  if (!msg.is_reply) check_before(ref, ts, msg);

  const Observation obs = analyser_.on_message(ref, ts, direction, msg, fds);
  last_sent_ns_[static_cast<size_t>(sender_of(direction))] = ts;

  for (const Finding& f : msg.findings) add_finding(f, ref, ts, direction, &msg);
  check_fd_kinds(ref, ts, direction, msg, fds);
  for (const Finding& f : obs.findings) add_finding(f, ref, ts, direction, &msg);
  for (const AttributedFinding& a : obs.earlier) {
    auto w = waiting_.find(a.ref);
    if (a.finding.code == FindingCode::MissingReply && w != waiting_.end()) {
      w->second.missing = true;
      w->second.overtaken_by = ref;
      continue;
    }
    const Direction d =
        w != waiting_.end() ? request_direction(w->second.channel) : request_direction(msg.channel);
    add_finding(a.finding, a.ref, ts, d, nullptr);
  }

  if (obs.role == MessageRole::Request) {
    if (obs.expects == ReplyExpectation::Reply || obs.expects == ReplyExpectation::Ack) {
      Waiting w;
      w.ref = ref;
      w.timestamp_ns = ts;
      w.channel = msg.channel;
      w.info = msg.info;
      w.expects = obs.expects;
      if (const auto* c = payload_as<ConfigValue>(msg)) w.config_size = c->size;
      if (const auto* in = payload_as<InflightValue>(msg)) w.inflight = *in;
      waiting_[ref] = w;
      // A peer that never answers must not grow this without bound (the analyser forgets the
      // oldest too); references increase, so the first entry is the oldest.
      if (waiting_.size() > kMaxWaitingRequests) waiting_.erase(waiting_.begin());
    }
    check_after(ref, ts, msg, obs);
  } else if (obs.answers != kNoMessage) {
    auto w = waiting_.find(obs.answers);
    if (w != waiting_.end()) {
      if (w->second.missing) {
        // The answer came, but only after the sender had moved on.
        const Side sender = channel_sender(w->second.channel);
        add(RuleId::FrmWaitForReply, sender, w->second.overtaken_by, ts,
            fmt::format("the {} waits for the answer to {} {} before its next request",
                        side_name(sender), w->second.info ? w->second.info->name : "request",
                        ref_text(w->first)),
            fmt::format("{} came first; the answer arrived later as {}",
                        ref_text(w->second.overtaken_by), ref_text(ref)),
            {w->first, ref});
      }
      check_reply(ref, ts, msg, w->second, fds);
      waiting_.erase(w);
    }
  }

  // Rings this message started or stopped.
  for (const VringState& v : analyser_.state().vrings) {
    bool before = false;
    for (const auto& [index, started] : started_before)
      if (index == v.index) before = started;
    if (!before && v.started) check_ring_start(ref, ts, v.index);
    if (before && !v.started) {
      QueueWatch& q = watch(v.index);
      check_unprocessed(q, v.index, ts);
      q.work_pending = false;
    }
  }
  if (!msg.is_reply && msg.channel == Channel::Frontend) check_lifecycle(ref, ts, msg);
}

void ConformanceChecker::check_fd_kinds(MessageRef ref, uint64_t ts, Direction direction,
                                        const DecodedMessage& msg, std::span<const FdInfo> fds) {
  if (!msg.info || fds.empty()) return;
  const FdRole role = msg.is_reply ? msg.info->reply_fd_role : msg.info->fd_role;
  const std::vector<FdKind> allowed = kinds_for(role);
  if (allowed.empty()) return;
  for (const FdInfo& fd : fds) {
    if (fd.kind == FdKind::Unknown ||
        std::find(allowed.begin(), allowed.end(), fd.kind) != allowed.end())
      continue;
    const bool log = role == FdRole::LogBitmap || role == FdRole::LogEventfd;
    std::string kinds;
    for (FdKind k : allowed) kinds += (kinds.empty() ? "" : " or ") + std::string(fd_kind_name(k));
    add(log ? RuleId::LogFdKinds : RuleId::FrmFdCount, log ? Side::Frontend : sender_of(direction),
        ref, ts,
        fmt::format("{}{}'s fd ({}) is {}", msg.info->name, msg.is_reply ? " reply" : "",
                    fd_role_name(role), kinds),
        fmt::format("it is {} ({})", fd_kind_name(fd.kind), fd.name));
    return;
  }
}

void ConformanceChecker::check_before(MessageRef ref, uint64_t ts, const DecodedMessage& msg) {
  const SessionState& st = analyser_.state();
  const RequestInfo* info = msg.info;
  if (!info) return;
  if (msg.channel == Channel::Backend) {
    const bool negotiated = st.protocol_features.acked_has(ProtocolFeature::BACKEND_REQ);
    if (!negotiated || !st.backend_channel.established)
      add(RuleId::ChanNeedsBackendReq, Side::Backend, ref, ts,
          "back-end requests only after SET_BACKEND_REQ_FD, with BACKEND_REQ acked",
          fmt::format("{} on the back-end channel, but {}", info->name,
                      !negotiated ? "BACKEND_REQ was not acked by SET_PROTOCOL_FEATURES"
                                  : "SET_BACKEND_REQ_FD was never sent"));
    return;
  }
  const bool from_start = options_.seen_from_start;
  if (info->is(FrontendRequest::SET_FEATURES)) {
    if (from_start && !st.features.offered)
      add(RuleId::NegGetBeforeSet, Side::Frontend, ref, ts,
          "GET_FEATURES answered before SET_FEATURES",
          "SET_FEATURES was sent before the back-end's features were read");
    const auto value = u64_of(msg);
    const bool status = st.protocol_features.acked_has(ProtocolFeature::STATUS);
    bool any_started = false;
    for (const VringState& v : st.vrings) any_started = any_started || v.started;
    const bool fixed = features_ok_ || (!status && any_started);
    const uint64_t log_all = uint64_t{1} << kFeatureLogAll;
    if (value && fixed && st.features.acked && ((*value ^ *st.features.acked) & ~log_all) != 0)
      add(RuleId::LifeFeaturesFixed, Side::Frontend, ref, ts,
          fmt::format("the acked features stay {:#x} until a reset ({})", *st.features.acked,
                      features_ok_ ? fmt::format("FEATURES_OK set by {}", ref_text(features_ok_by_))
                                   : std::string("rings are running")),
          fmt::format("SET_FEATURES changes them to {:#x} (bits {:#x} differ)", *value,
                      (*value ^ *st.features.acked) & ~log_all),
          {features_ok_by_});
  }
  if (from_start && !st.owner_set && is_ring_start_setup(info))
    add(RuleId::OwnOwnerFirst, Side::Frontend, ref, ts, "SET_OWNER before memory and ring set-up",
        fmt::format("{} was sent while no SET_OWNER was in force", info->name));
  if (info->is(FrontendRequest::SET_VRING_NUM) || info->is(FrontendRequest::SET_VRING_BASE)) {
    const auto* vs = payload_as<VringStateValue>(msg);
    const VringState* v = vs ? st.vring(vs->index) : nullptr;
    if (v && v->started)
      add(RuleId::RingNoResizeStarted, Side::Frontend, ref, ts,
          fmt::format("queue {} stopped (GET_VRING_BASE) before {}", vs->index, info->name),
          fmt::format("{} for queue {}, which is started", info->name, vs->index),
          {v->kick.set_by});
  }
  if (info->is(FrontendRequest::SET_VRING_ADDR)) {
    const auto* a = payload_as<VringAddrValue>(msg);
    if (a && (a->flags & kVringAddrFlagLog) && !st.log.log)
      add(RuleId::LogFlagNeedsBase, Side::Frontend, ref, ts,
          "SET_LOG_BASE before a SET_VRING_ADDR with the LOG flag",
          fmt::format("SET_VRING_ADDR for queue {} sets the LOG flag, but no dirty log was set up",
                      a->index));
  }
  if (info->is(FrontendRequest::IOTLB_MSG) && (st.features.acked || from_start) &&
      !st.features.acked_has(kFeatureAccessPlatform))
    add(RuleId::MemIotlbGated, Side::Frontend, ref, ts,
        "IOTLB_MSG only with ACCESS_PLATFORM (bit 33) acked",
        st.features.acked
            ? fmt::format("IOTLB_MSG, but SET_FEATURES acked {:#x}", *st.features.acked)
            : std::string("IOTLB_MSG before any SET_FEATURES"));
  if (info->is(FrontendRequest::SET_INFLIGHT_FD)) check_inflight_set(ref, ts, msg);
  if (info->is(FrontendRequest::SET_VRING_KICK)) {
    if (needs_reset_)
      add(RuleId::LifeNeedsReset, Side::Frontend, ref, ts,
          fmt::format("a reset after DEVICE_NEEDS_RESET ({}) before a ring starts again",
                      ref_text(needs_reset_by_)),
          "SET_VRING_KICK starts a ring of a device that needs a reset", {needs_reset_by_});
    else if (reset_pending_)
      add(RuleId::LifeFeaturesAfterReset, Side::Frontend, ref, ts,
          fmt::format("SET_FEATURES after the reset {} before a ring starts", ref_text(reset_by_)),
          "SET_VRING_KICK starts a ring with no features negotiated since the reset", {reset_by_});
  }
}

void ConformanceChecker::check_after(MessageRef ref, uint64_t ts, const DecodedMessage& msg,
                                     const Observation& /*obs*/) {
  const SessionState& st = analyser_.state();
  const RequestInfo* info = msg.info;
  if (!info || msg.channel != Channel::Frontend) return;
  if ((info->is(FrontendRequest::ADD_MEM_REG) || info->is(FrontendRequest::SET_MEM_TABLE)) &&
      st.max_mem_slots && st.regions.size() > *st.max_mem_slots)
    add(RuleId::MemSlotLimit, Side::Frontend, ref, ts,
        fmt::format("at most {} regions (GET_MAX_MEM_SLOTS)", *st.max_mem_slots),
        fmt::format("{} leaves {} regions in the table", info->name, st.regions.size()));
  if (info->is(FrontendRequest::SET_VRING_ENABLE)) {
    const auto* vs = payload_as<VringStateValue>(msg);
    if (vs && vs->num == 1) {
      QueueWatch& q = watch(vs->index);
      if (q.work_pending && q.work_while_disabled && q.enabled_by == kNoMessage) {
        q.enabled_by = ref;
        q.enabled_ns = ts;
      }
    }
  }
}

void ConformanceChecker::check_ring_start(MessageRef ref, uint64_t ts, uint32_t index) {
  QueueWatch& q = watch(index);
  q.started_by = ref;
  q.started_ns = ts;
  q.used_moved_since_start = false;
  q.work_pending = false;
  q.enabled_by = kNoMessage;
  q.lost_kick_reported = false;
  q.reported_used_ahead = false;
  q.reported_used_before_driver_ok = false;
  q.base_reply.reset();
  q.fault_rules_reported.clear();

  const SessionState& st = analyser_.state();
  const VringState* v = st.vring(index);
  // A back-end has no way to tell the driver about used buffers unless the call notifier was set
  // (or NOFD said the driver polls). Counted over the whole session: front-ends set it once at
  // connect and may re-set it after the ring starts (to unmask the guest's interrupt).
  if (options_.seen_from_start && v &&
      v->count_of(&request_info(FrontendRequest::SET_VRING_CALL)) == 0)
    add(RuleId::RingCallBeforeStart, Side::Frontend, ref, ts,
        fmt::format("SET_VRING_CALL for queue {} (an eventfd, or NOFD) before the ring starts",
                    index),
        fmt::format("queue {} started with no call notifier set", index));
  // With ACCESS_PLATFORM the ring addresses are IOVAs, translated through the IOTLB, not the table.
  if (!v || !v->addr || st.features.acked_has(kFeatureAccessPlatform)) return;
  const VringAddrValue& a = *v->addr;
  const struct {
    const char* part;
    uint64_t uva;
  } parts[] = {{"descriptor table", a.desc_user_addr},
               {"avail ring", a.avail_user_addr},
               {"used ring", a.used_user_addr}};
  for (const auto& p : parts) {
    if (mapped(st.regions, p.uva, 1)) continue;
    add(RuleId::MemRingMapped, Side::Frontend, ref, ts,
        fmt::format("queue {}'s {} inside the memory table when the ring starts", index, p.part),
        fmt::format("its address {:#x} (SET_VRING_ADDR) is in none of the {} regions", p.uva,
                    st.regions.size()));
    break;
  }
}

void ConformanceChecker::check_reply(MessageRef ref, uint64_t ts, const DecodedMessage& msg,
                                     const Waiting& req, std::span<const FdInfo> fds) {
  const RequestInfo* info = req.info;
  if (is_request(info, FrontendRequest::GET_INFLIGHT_FD))
    check_inflight_reply(ref, ts, msg, req, fds);
  if (is_request(info, FrontendRequest::GET_CONFIG) && req.config_size) {
    const auto* c = payload_as<ConfigValue>(msg);
    if (msg.header.size != 0 && c && c->size != *req.config_size)
      add(RuleId::CfgReplySize, Side::Backend, ref, ts,
          fmt::format("a GET_CONFIG reply of {} config bytes, as {} asked (or size 0 for failure)",
                      *req.config_size, ref_text(req.ref)),
          fmt::format("the reply carries {} config bytes", c->size), {req.ref});
  }
  if (is_request(info, FrontendRequest::GET_VRING_BASE)) {
    if (const auto* vs = payload_as<VringStateValue>(msg)) {
      QueueWatch& q = watch(vs->index);
      q.base_reply = vs->num;
      q.base_reply_ref = ref;
      q.base_reply_ns = req.timestamp_ns;
      check_base_reply(q, vs->index);
    }
  }
  if (is_request(info, FrontendRequest::GET_STATUS)) {
    const auto value = u64_of(msg);
    if (value && (*value & kNeedsReset)) {
      needs_reset_ = true;
      needs_reset_by_ = ref;
      // The device changed its own status: a step of the lifecycle the front-end did not set.
      set_status(ref, ts, static_cast<uint8_t>(*value), false);
    }
  }
}

void ConformanceChecker::check_base_reply(QueueWatch& q, uint32_t queue) {
  if (!q.base_reply || !q.last || q.last->type != RingType::Split || !q.last->indices_ok) return;
  const RingSnapshot& s = *q.last;
  const auto base = static_cast<uint16_t>(*q.base_reply & 0xffff);
  const auto behind_used = static_cast<int16_t>(static_cast<uint16_t>(base - s.used_idx));
  const auto past_avail = static_cast<int16_t>(static_cast<uint16_t>(base - s.avail_idx));
  // A sample taken before GET_VRING_BASE may predate buffers the driver added since; only one
  // taken after the request (the ring is stopped, nothing moves) bounds the reply from above.
  const bool sample_after_stop = q.last_ns >= q.base_reply_ns;
  const bool wrong = behind_used < 0 || (sample_after_stop && past_avail > 0);
  const MessageRef reply = q.base_reply_ref;
  q.base_reply.reset();
  if (!wrong) return;
  add(RuleId::RingBaseReply, Side::Backend, reply, q.base_reply_ns,
      fmt::format("queue {}: the next avail index the back-end would process, between used idx {} "
                  "and avail idx {} (ring state {})",
                  queue, s.used_idx, s.avail_idx, ref_text(q.last_ref)),
      fmt::format("GET_VRING_BASE reply {} {}", base,
                  base == 0 && s.used_idx != 0
                      ? "(a reset value: the back-end reset the ring instead of stopping it)"
                  : behind_used < 0 ? "(behind buffers it already used)"
                                    : "(ahead of anything the driver made available)"),
      {q.last_ref});
}

void ConformanceChecker::check_unprocessed(QueueWatch& q, uint32_t queue, uint64_t now_ns) {
  if (!q.work_pending || q.lost_kick_reported || !q.last) return;
  const RingSnapshot& s = *q.last;
  if (q.work_while_disabled && q.enabled_by != kNoMessage &&
      now_ns - q.enabled_ns >= kUnprocessedRingNs) {
    q.lost_kick_reported = true;
    add(RuleId::RingLostKick, Side::Backend, q.enabled_by, q.enabled_ns,
        fmt::format("queue {}: the buffers made available while the ring was started but "
                    "disabled (ring state {}) are processed once SET_VRING_ENABLE(1) {} enables it",
                    queue, ref_text(q.work_ref), ref_text(q.enabled_by)),
        fmt::format("used idx stayed {} (avail idx {}) for {} after the enable: the kick that "
                    "arrived while the ring was disabled was lost",
                    s.used_idx, s.avail_idx, seconds(now_ns - q.enabled_ns)),
        {q.work_ref});
    return;
  }
  const SessionState& st = analyser_.state();
  if (st.features.acked && !st.features.acked_has(kFeatureProtocolFeatures) &&
      q.started_by != kNoMessage && !q.used_moved_since_start &&
      now_ns - q.work_ns >= kUnprocessedRingNs) {
    q.lost_kick_reported = true;
    add(RuleId::RingEnabledByDefault, Side::Backend, q.started_by, q.started_ns,
        fmt::format("queue {} is enabled as it starts ({} acked {:#x}, without PROTOCOL_FEATURES "
                    "bit 30): the back-end processes it after the kick",
                    queue, ref_text(st.features.acked_by), *st.features.acked),
        fmt::format("the ring was never processed: used idx stayed {} with {} buffer(s) "
                    "available (ring state {}) for {}; the back-end treated the ring as disabled",
                    s.used_idx, static_cast<uint16_t>(s.avail_idx - s.used_idx),
                    ref_text(q.work_ref), seconds(now_ns - q.work_ns)),
        {q.work_ref, st.features.acked_by});
  }
}

void ConformanceChecker::on_ring_state(MessageRef ref, uint64_t ts, const RingSnapshot& s) {
  QueueWatch& q = watch(s.queue);
  const VringState* v = analyser_.state().vring(s.queue);
  const bool started = v && v->started;
  const bool enabled = v && v->enabled;
  if (s.indices_ok && s.type == RingType::Split) {
    if (started && !q.reported_used_ahead &&
        static_cast<int16_t>(static_cast<uint16_t>(s.used_idx - s.avail_idx)) > 0) {
      q.reported_used_ahead = true;
      add(RuleId::RingUsedBehindAvail, Side::Backend, ref, ts,
          fmt::format("queue {}: used idx at most avail idx {}", s.queue, s.avail_idx),
          fmt::format("used idx {} is {} past it", s.used_idx,
                      static_cast<uint16_t>(s.used_idx - s.avail_idx)));
    }
    const bool moved = q.last && q.last->indices_ok && q.last->used_idx != s.used_idx;
    if (moved) {
      last_used_move_ns_ = ts;
      if (!started && !q.last_while_started)
        add(RuleId::RingStoppedUntouched, Side::Backend, ref, ts,
            fmt::format("queue {} is stopped: its used idx stays {}", s.queue, q.last->used_idx),
            fmt::format("used idx moved to {} while the ring was stopped (ring states {} and {})",
                        s.used_idx, ref_text(q.last_ref), ref_text(ref)),
            {q.last_ref});
      if (started) q.used_moved_since_start = true;
      // Both samples from this run of the ring: a driver that re-initialised the ring between
      // runs moves the index too.
      const bool same_run = started && q.last_while_started && q.last_ns >= q.started_ns;
      if (same_run && !q.reported_used_before_driver_ok && driver_ok_withheld()) {
        q.reported_used_before_driver_ok = true;
        add(RuleId::LifeNoUseBeforeDriverOk, Side::Backend, ref, ts,
            fmt::format("queue {}'s used idx stays {} until DRIVER_OK is set", s.queue,
                        q.last->used_idx),
            fmt::format("used idx moved to {} while the status was {:#x} ({})", s.used_idx,
                        lifecycle_.back().status, ref_text(lifecycle_.back().ref)),
            {q.last_ref, lifecycle_.back().ref});
      }
      q.work_pending = false;
      q.enabled_by = kNoMessage;
    }
    if (started && !q.work_pending && s.avail_idx != s.used_idx) {
      q.work_pending = true;
      q.work_ref = ref;
      q.work_ns = ts;
      q.work_while_disabled = !enabled;
    }
  }
  if (started) {
    for (const RingFault& f : s.faults) {
      std::optional<RuleId> rule;
      Side blamed = Side::Frontend;
      std::string what;
      switch (f.kind) {
        case RingFaultKind::UsedIdOutOfRange:
          rule = RuleId::RingUsedIdInRange;
          blamed = Side::Backend;
          what = fmt::format("used ring entry {} names head {}, queue size {}", f.index, f.value,
                             s.size);
          break;
        case RingFaultKind::HeadOutOfRange:
          rule = RuleId::RingAvailHeadInRange;
          what = fmt::format("avail ring entry {} names head {}, queue size {}", f.index, f.value,
                             s.size);
          break;
        case RingFaultKind::UsedNotInFlight:
        case RingFaultKind::UsedLenBeyondChain:
          rule = f.kind == RingFaultKind::UsedNotInFlight ? RuleId::RingUsedWasInFlight
                                                          : RuleId::RingUsedLenWithinChain;
          blamed = Side::Backend;
          what = used_entry_fault_text(f);
          break;
        case RingFaultKind::Chain:
          rule = RuleId::RingChainWellFormed;
          what = fmt::format("the chain of head {} breaks at descriptor {} ({})", f.head, f.index,
                             chain_error_name(f.chain));
          break;
        default: break;
      }
      if (!rule || std::find(q.fault_rules_reported.begin(), q.fault_rules_reported.end(), *rule) !=
                       q.fault_rules_reported.end())
        continue;
      q.fault_rules_reported.push_back(*rule);
      add(*rule, blamed, ref, ts, std::string(rule_info(*rule).statement),
          fmt::format("queue {}: {}", s.queue, what));
    }
  }
  q.last = s;
  q.last_ref = ref;
  q.last_ns = ts;
  q.last_while_started = started;
  if (q.base_reply) check_base_reply(q, s.queue);
}

void ConformanceChecker::check_lifecycle(MessageRef ref, uint64_t ts, const DecodedMessage& msg) {
  const RequestInfo* info = msg.info;
  if (!info) return;
  const SessionState& st = analyser_.state();
  const bool status_acked = st.protocol_features.acked_has(ProtocolFeature::STATUS);
  auto reset = [&] {
    if (!lifecycle_.empty()) set_status(ref, ts, 0, true);
    features_ok_ = false;
    reset_pending_ = st.features.acked.has_value();
    reset_by_ = ref;
    needs_reset_ = false;
  };
  if (info->is(FrontendRequest::RESET_DEVICE) || info->is(FrontendRequest::RESET_OWNER)) reset();
  if (info->is(FrontendRequest::SET_FEATURES)) {
    reset_pending_ = false;
    if (!status_acked) set_status(ref, ts, kAcknowledge | kDriver | kFeaturesOk, true);
  }
  if (info->is(FrontendRequest::SET_VRING_KICK) && !status_acked && !lifecycle_.empty() &&
      (lifecycle_.back().status & kFeaturesOk)) {
    const VringState* v = st.vring(vring_index_of(msg).value_or(kMaxTrackedVrings));
    if (v && v->started) set_status(ref, ts, lifecycle_.back().status | kDriverOk, true);
  }
  if (info->is(FrontendRequest::SET_STATUS)) {
    const auto value = u64_of(msg);
    if (!value) return;
    set_status(ref, ts, static_cast<uint8_t>(*value), false);
    if (*value == 0) {
      reset();
      return;
    }
    if ((*value & kDriverOk) && !(*value & kFeaturesOk) && st.features.acked_has(kFeatureVersion1))
      add(RuleId::LifeDriverOkAfterFeaturesOk, Side::Frontend, ref, ts,
          "FEATURES_OK set with or before DRIVER_OK (VERSION_1 was acked)",
          fmt::format("SET_STATUS {:#x} sets DRIVER_OK without FEATURES_OK", *value));
    if ((*value & kDriverOk) && needs_reset_)
      add(RuleId::LifeNeedsReset, Side::Frontend, ref, ts,
          fmt::format("a reset after DEVICE_NEEDS_RESET ({}) before DRIVER_OK",
                      ref_text(needs_reset_by_)),
          fmt::format("SET_STATUS {:#x} sets DRIVER_OK without a reset", *value),
          {needs_reset_by_});
    if (*value & kFeaturesOk) {
      if (!features_ok_) features_ok_by_ = ref;
      features_ok_ = true;
    }
  }
}

// The front-end set the status itself (STATUS negotiated) and has not set DRIVER_OK (yet).
bool ConformanceChecker::driver_ok_withheld() const {
  if (!analyser_.state().protocol_features.acked_has(ProtocolFeature::STATUS)) return false;
  if (lifecycle_.empty() || lifecycle_.back().inferred) return false;
  return (lifecycle_.back().status & kDriverOk) == 0;
}

void ConformanceChecker::check_inflight_reply(MessageRef ref, uint64_t ts,
                                              const DecodedMessage& msg, const Waiting& req,
                                              std::span<const FdInfo> fds) {
  const auto* given = payload_as<InflightValue>(msg);
  if (!given) return;
  // mmap_size 0 is how a back-end declines to keep a buffer; the front-end then runs without one.
  if (given->mmap_size == 0) return;
  InflightValue buffer = *given;
  if (req.inflight) {
    buffer.num_queues = req.inflight->num_queues;
    buffer.queue_size = req.inflight->queue_size;
  }
  inflight_given_ = buffer;
  inflight_given_by_ = ref;
  const FdInfo* fd = fds.empty() ? nullptr : &fds.front();
  if (!fd || fd->kind == FdKind::Unknown) return;  // no fd: VU-FRM-006 reports it
  const bool shared = fd->kind == FdKind::Memfd || fd->kind == FdKind::File;
  const bool fits =
      given->mmap_offset <= fd->size && given->mmap_size <= fd->size - given->mmap_offset;
  if (shared && fits) return;
  add(RuleId::InfReplyBuffer, Side::Backend, ref, ts,
      fmt::format("a shared-memory fd holding offset {:#x} + size {:#x}", given->mmap_offset,
                  given->mmap_size),
      shared
          ? fmt::format("its fd {} holds only {:#x} bytes",
                        fd->name.empty() ? std::string(fd_kind_name(fd->kind)) : fd->name, fd->size)
          : fmt::format("its fd is {} ({})", fd_kind_name(fd->kind), fd->name),
      {req.ref});
}

void ConformanceChecker::check_inflight_set(MessageRef ref, uint64_t ts,
                                            const DecodedMessage& msg) {
  const auto* set = payload_as<InflightValue>(msg);
  // Without a GET_INFLIGHT_FD in this session the buffer came from an earlier connection (a
  // reconnect hands the old buffer to the new back-end): nothing here to compare it with.
  if (!set || !inflight_given_) return;
  const InflightValue& got = *inflight_given_;
  if (set->mmap_size == got.mmap_size && set->mmap_offset == got.mmap_offset &&
      set->num_queues == got.num_queues && set->queue_size == got.queue_size)
    return;
  add(RuleId::InfSetMatchesGet, Side::Frontend, ref, ts,
      fmt::format("the buffer of {}: size {:#x} offset {:#x}, {} queues of {}",
                  ref_text(inflight_given_by_), got.mmap_size, got.mmap_offset, got.num_queues,
                  got.queue_size),
      fmt::format("SET_INFLIGHT_FD names size {:#x} offset {:#x}, {} queues of {}", set->mmap_size,
                  set->mmap_offset, set->num_queues, set->queue_size),
      {inflight_given_by_});
}

void ConformanceChecker::set_status(MessageRef ref, uint64_t ts, uint8_t status, bool inferred) {
  if (!lifecycle_.empty() && lifecycle_.back().status == status) return;
  lifecycle_.push_back({ref, ts, status, inferred});
}

void ConformanceChecker::judge_unanswered(const Waiting& w) {
  const Side receiver = other(channel_sender(w.channel));
  const std::string_view name = w.info ? w.info->name : "request";
  const SessionState& st = analyser_.state();
  if (is_request(w.info, FrontendRequest::SET_LOG_BASE)) {
    add(RuleId::LogBaseReply, Side::Backend, w.ref, w.timestamp_ns,
        fmt::format("a u64 reply to SET_LOG_BASE: LOG_SHMFD was negotiated ({})",
                    ref_text(st.protocol_features.acked_by)),
        "SET_LOG_BASE was never answered; the front-end waits for the reply forever",
        {st.protocol_features.acked_by});
    return;
  }
  if (w.expects == ReplyExpectation::Ack) {
    const RuleId rule =
        w.channel == Channel::Frontend ? RuleId::NegReplyAck : RuleId::ChanFrontendAcks;
    add(rule, receiver, w.ref, w.timestamp_ns,
        fmt::format("an ack to {} {}: it carries NEED_REPLY and REPLY_ACK was negotiated", name,
                    ref_text(w.ref)),
        "no ack ever came", {st.protocol_features.acked_by});
    return;
  }
  // An intrinsic reply that never came: a hang (a diagnostic) unless the receiver went on
  // talking or working, which shows it was alive and chose not to answer.
  const bool alive = last_sent_ns_[static_cast<size_t>(receiver)] > w.timestamp_ns ||
                     (receiver == Side::Backend && last_used_move_ns_ > w.timestamp_ns);
  if (!alive) return;
  add(RuleId::NegReplyOnceInOrder, receiver, w.ref, w.timestamp_ns,
      fmt::format("a reply to {} {}", name, ref_text(w.ref)),
      fmt::format("the {} went on working after it but never answered", side_name(receiver)));
}

void ConformanceChecker::finish(uint64_t end_ns, SessionAnalyser::End end) {
  if (finished_) return;
  finished_ = true;
  for (auto& [queue, q] : queues_) {
    const VringState* v = analyser_.state().vring(queue);
    if (v && v->started) check_unprocessed(q, queue, end_ns);
  }
  const auto found = analyser_.finish(end_ns, end);
  std::vector<MessageRef> unanswered;
  for (const AttributedFinding& a : found)
    if (a.finding.code == FindingCode::Unanswered) unanswered.push_back(a.ref);
  for (const auto& [ref, w] : waiting_)
    if (w.missing || std::find(unanswered.begin(), unanswered.end(), ref) != unanswered.end())
      judge_unanswered(w);
}

}  // namespace vhs
