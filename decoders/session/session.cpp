// SessionAnalyser: request/reply pairing, negotiation, memory table, vring and back-end channel
// state of one vhost-user session, fed one decoded message at a time.
#include "decoders/session/session.hpp"

#include "decoders/session/ring_health.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vhs {
namespace {

// Most requests wait on one outstanding reply; a short queue tolerates pipelining senders, a bound
// keeps a garbage stream from growing it.
constexpr size_t kMaxWaiting = 32;

// The u64 of a U64-shaped payload (features, acks, status, queue counts).
std::optional<uint64_t> u64_of(const DecodedMessage& msg) {
  if (const auto* v = std::get_if<U64Value>(&msg.payload)) return v->value;
  return std::nullopt;
}

std::string_view name_of(const RequestInfo* info) { return info ? info->name : "UNKNOWN"; }

std::string request_label(const PendingRequest& p) {
  if (p.vring) return fmt::format("{} (index {})", name_of(p.info), *p.vring);
  if (!p.info) return fmt::format("request {}", p.request);
  return std::string(p.info->name);
}

std::string format_ms(uint64_t ns) { return fmt::format("{} ms", ns / 1'000'000); }

}  // namespace

const VringState* SessionState::vring(uint32_t index) const {
  auto it = std::lower_bound(vrings.begin(), vrings.end(), index,
                             [](const VringState& v, uint32_t i) { return v.index < i; });
  return it != vrings.end() && it->index == index ? &*it : nullptr;
}

SessionAnalyser::SessionAnalyser(Options options) : options_(options), device_(options.device) {
  if (options_.device != DeviceKind::Unknown) {
    state_.device = options_.device;
    state_.device_from_user = true;
  }
}

DecodeContext SessionAnalyser::decode_context() const {
  DecodeContext ctx;
  ctx.protocol_features = state_.protocol_features.acked.value_or(0);
  ctx.protocol_features_known = state_.protocol_features.acked.has_value();
  ctx.device = state_.device;
  return ctx;
}

Observation SessionAnalyser::on_message(MessageRef ref, uint64_t timestamp_ns, Direction direction,
                                        const DecodedMessage& msg, std::span<const FdInfo> fds) {
  Observation out;
  if (state_.messages == 0) state_.first_timestamp_ns = timestamp_ns;
  ++state_.messages;
  state_.last_timestamp_ns = timestamp_ns;
  if (msg.channel == Channel::Backend) ++state_.backend_channel.messages;
  // Without a complete header there is no code or flag to reason about.
  if (!msg.header_complete) return out;
  if (msg.is_reply)
    on_reply(ref, timestamp_ns, direction, msg, fds, out);
  else
    on_request(ref, timestamp_ns, msg, fds, out);
  return out;
}

ReplyExpectation SessionAnalyser::expectation(const DecodedMessage& msg) const {
  const bool need = msg.header.needs_reply();
  const bool reply_ack = state_.protocol_features.acked_has(ProtocolFeature::REPLY_ACK);
  // NEED_REPLY asks for an ack; the sender only waits for it when REPLY_ACK was negotiated
  // (spec "REPLY_ACK"), but libvhost-user acks regardless, so then the ack is optional.
  const ReplyExpectation ack = !need       ? ReplyExpectation::None
                               : reply_ack ? ReplyExpectation::Ack
                                           : ReplyExpectation::OptionalAck;
  const RequestInfo* info = msg.info;
  if (!info) return need ? ReplyExpectation::OptionalAck : ReplyExpectation::None;
  switch (info->reply) {
    case ReplyRule::Always: return ReplyExpectation::Reply;
    case ReplyRule::IfLogShmfd:
      // The fd form of SET_LOG_BASE exists only with LOG_SHMFD, and then the back-end replies.
      if (state_.protocol_features.acked_has(ProtocolFeature::LOG_SHMFD) ||
          (!state_.protocol_features.acked && msg.fd_count > 0))
        return ReplyExpectation::Reply;
      return ack;
    case ReplyRule::AckIfNeedReply:
      // Postcopy listen mode: the back-end echoes the table with its own mapping bases (spec
      // "postcopy"); the u64 0 that follows (size 8) is the front-end's acknowledgement.
      if (state_.postcopy_listening &&
          (info->is(FrontendRequest::SET_MEM_TABLE) || info->is(FrontendRequest::ADD_MEM_REG)) &&
          msg.header.size != sizeof(uint64_t))
        return ReplyExpectation::Reply;
      return ack;
  }
  return ack;
}

void SessionAnalyser::check_gating(const DecodedMessage& msg, Observation& out) const {
  const RequestInfo* info = msg.info;
  if (!info) return;
  const FeatureWord& vf = state_.features;
  // Protocol-feature negotiation itself needs virtio bit 30 offered (spec "Protocol features").
  if ((info->is(FrontendRequest::GET_PROTOCOL_FEATURES) ||
       info->is(FrontendRequest::SET_PROTOCOL_FEATURES)) &&
      vf.offered && !vf.offered_has(kFeatureProtocolFeatures)) {
    out.findings.push_back(
        {FindingCode::FeatureNotNegotiated,
         fmt::format("{} needs virtio feature PROTOCOL_FEATURES (bit 30), which GET_FEATURES did "
                     "not offer (offered {:#x})",
                     info->name, *vf.offered)});
  }
  // SET_VRING_ENABLE is meaningful only once bit 30 is acked; without it rings start enabled.
  if (info->is(FrontendRequest::SET_VRING_ENABLE) && vf.acked &&
      !vf.acked_has(kFeatureProtocolFeatures)) {
    out.findings.push_back(
        {FindingCode::FeatureNotNegotiated,
         fmt::format("SET_VRING_ENABLE needs virtio feature PROTOCOL_FEATURES (bit 30) acked; "
                     "SET_FEATURES acked {:#x}",
                     *vf.acked)});
  }
  if (!info->gate) return;
  const unsigned bit = static_cast<unsigned>(*info->gate);
  const FeatureWord& pf = state_.protocol_features;
  const std::string_view fname = protocol_feature_name(bit);
  if (pf.acked) {
    if (!pf.acked_has(bit))
      out.findings.push_back(
          {FindingCode::FeatureNotNegotiated,
           fmt::format("{} needs protocol feature {} (bit {}), not acked by SET_PROTOCOL_FEATURES "
                       "(acked {:#x})",
                       info->name, fname, bit, *pf.acked)});
  } else if (pf.offered && !pf.offered_has(bit)) {
    out.findings.push_back(
        {FindingCode::FeatureNotNegotiated,
         fmt::format("{} needs protocol feature {} (bit {}), which the back-end did not offer "
                     "(offered {:#x})",
                     info->name, fname, bit, *pf.offered)});
  } else if (options_.seen_from_start) {
    out.findings.push_back(
        {FindingCode::RequestBeforeNegotiation,
         fmt::format("{} depends on protocol feature {} (bit {}) but SET_PROTOCOL_FEATURES has "
                     "not been sent yet",
                     info->name, fname, bit)});
  }
}

void SessionAnalyser::on_request(MessageRef ref, uint64_t ts, const DecodedMessage& msg,
                                 std::span<const FdInfo> fds, Observation& out) {
  out.role = MessageRole::Request;
  check_gating(msg, out);
  out.expects = expectation(msg);

  // A sender has at most one synchronous request outstanding per channel (spec
  // "Communication"): a new request while a required answer is missing means the sender gave up
  // waiting, or the answer was lost. Optional acks (NEED_REPLY without REPLY_ACK) are not
  // waited for, so they stay quietly in the queue in case they still arrive.
  auto& waiting = queues_[static_cast<size_t>(msg.channel) & 1].waiting;
  for (auto& p : waiting) {
    if (p.reported_missing || p.expects == ReplyExpectation::OptionalAck) continue;
    p.reported_missing = true;
    out.earlier.push_back(
        {p.ref,
         {FindingCode::MissingReply,
          fmt::format("{} got no {} before the next request {}", request_label(p),
                      p.expects == ReplyExpectation::Ack ? "ack" : "reply", msg.name())}});
  }
  if (out.expects != ReplyExpectation::None) {
    if (waiting.size() >= kMaxWaiting) waiting.pop_front();
    PendingRequest p;
    p.ref = ref;
    p.channel = msg.channel;
    p.info = msg.info;
    p.request = msg.header.request;
    p.timestamp_ns = ts;
    p.expects = out.expects;
    p.vring = vring_index_of(msg);
    waiting.push_back(p);
  }
  apply_request(ref, msg, fds, out);
}

void SessionAnalyser::on_reply(MessageRef ref, uint64_t ts, Direction direction,
                               const DecodedMessage& msg, std::span<const FdInfo> fds,
                               Observation& out) {
  out.role = MessageRole::Reply;
  // Replies travel against the channel's request direction.
  if (direction == request_direction(msg.channel)) {
    out.findings.push_back(
        {FindingCode::UnexpectedReply,
         fmt::format("{} reply travelled in the request direction of the {} channel", msg.name(),
                     msg.channel == Channel::Frontend ? "front-end" : "back-end")});
    return;
  }
  auto& waiting = queues_[static_cast<size_t>(msg.channel) & 1].waiting;
  if (waiting.empty()) {
    out.findings.push_back(
        {FindingCode::UnexpectedReply,
         fmt::format("{} reply, but no request on this channel is waiting for one", msg.name())});
    return;
  }
  // Matched by order and code: the oldest waiting request with this code. Requests skipped on the
  // way were already reported (MissingReply) or were optional acks that never came.
  auto match = std::find_if(waiting.begin(), waiting.end(), [&](const PendingRequest& p) {
    return p.request == msg.header.request;
  });
  PendingRequest req;
  const bool code_matched = match != waiting.end();
  if (!code_matched) {
    req = waiting.front();
    waiting.pop_front();
    out.findings.push_back(
        {FindingCode::ReplyCodeMismatch,
         fmt::format("reply carries request code {} ({}) but the waiting request is {} (code {})",
                     msg.header.request, msg.name(), name_of(req.info), req.request)});
  } else {
    req = *match;
    waiting.erase(waiting.begin(), match + 1);
  }
  out.answers = req.ref;
  out.latency_ns = ts >= req.timestamp_ns ? ts - req.timestamp_ns : 0;
  const bool is_ack =
      req.expects == ReplyExpectation::Ack || req.expects == ReplyExpectation::OptionalAck;
  out.role = is_ack ? MessageRole::Ack : MessageRole::Reply;
  apply_reply(ref, req, msg, fds, out);
}

void SessionAnalyser::check_vring_index(uint32_t index, Observation& out) const {
  if (index >= kMaxTrackedVrings) {
    out.findings.push_back(
        {FindingCode::VringIndexOutOfRange,
         fmt::format("queue index {} is beyond any plausible queue count (tracking stops at {})",
                     index, kMaxTrackedVrings)});
    return;
  }
  if (state_.queue_num) {
    // GET_QUEUE_NUM counts queue pairs for net back-ends (QEMU compares it with queue pairs), all
    // queues for the others.
    const uint64_t limit =
        (state_.device == DeviceKind::Net || state_.device == DeviceKind::Unknown)
            ? *state_.queue_num * 2
            : *state_.queue_num;
    if (index >= limit)
      out.findings.push_back(
          {FindingCode::VringIndexOutOfRange,
           limit == 0 ? fmt::format("queue index {}, but GET_QUEUE_NUM reported 0 queues", index)
                      : fmt::format("queue index {}, but GET_QUEUE_NUM reported {}, so the highest "
                                    "valid index is {}",
                                    index, *state_.queue_num, limit - 1)});
  }
}

void SessionAnalyser::sync_device() {
  state_.device = device_.kind();
  if (state_.device_reason != device_.reason()) state_.device_reason = device_.reason();
}

bool SessionAnalyser::on_ring_state(const RingSnapshot& snapshot) {
  const DeviceKind before = state_.device;
  device_.on_ring_state(snapshot, state_.features.acked.value_or(0));
  sync_device();
  return state_.device != before;
}

void SessionAnalyser::inherit_device(DeviceKind kind, std::string reason) {
  device_.inherit(kind, std::move(reason));
  sync_device();
}

void SessionAnalyser::sync_vring(uint32_t index) {
  const VringState* tracked = vrings_.vring(index);
  if (!tracked) return;
  auto& vs = state_.vrings;
  auto it = std::lower_bound(vs.begin(), vs.end(), index,
                             [](const VringState& v, uint32_t i) { return v.index < i; });
  if (it == vs.end() || it->index != index)
    vs.insert(it, *tracked);
  else
    *it = *tracked;
}

void SessionAnalyser::apply_memory_change(const MemoryTableChange& change,
                                          std::span<const FdInfo> fds, Observation& out) {
  // The back-end maps each region from its fd at the region's mmap offset (spec "Memory region
  // description"); bytes past the end of that file are not memory, and touching them faults. Only
  // files and memfds have a size that means something (a device's st_size does not).
  for (const InstalledRegion& installed : change.installed) {
    if (!installed.fd_index || *installed.fd_index >= fds.size()) continue;
    const FdInfo& fd = fds[*installed.fd_index];
    if (fd.kind != FdKind::Memfd && fd.kind != FdKind::File) continue;
    const MemRegionValue& r = installed.region;
    const bool fits = r.memory_size == 0 ||
                      (r.mmap_offset <= fd.size && r.memory_size <= fd.size - r.mmap_offset);
    if (fits) continue;
    out.findings.push_back(
        {FindingCode::RegionBeyondFd,
         fmt::format("region GPA {:#x}+{:#x} maps fd offset {:#x}+{:#x}, but its fd {} holds only "
                     "{:#x} bytes",
                     r.guest_phys_addr, r.memory_size, r.mmap_offset, r.memory_size,
                     fd.name.empty() ? std::string(fd_kind_name(fd.kind)) : fd.name, fd.size)});
  }
  for (const RegionOverlap& o : change.overlaps)
    out.findings.push_back(
        {FindingCode::OverlappingRegion,
         fmt::format("region GPA {:#x}+{:#x} UVA {:#x} overlaps region GPA {:#x}+{:#x} UVA {:#x} "
                     "({} range)",
                     o.added.guest_phys_addr, o.added.memory_size, o.added.userspace_addr,
                     o.existing.guest_phys_addr, o.existing.memory_size, o.existing.userspace_addr,
                     o.guest_physical ? "guest-physical" : "user address")});
  if (change.kind == MemoryTableChange::Kind::NotFound) {
    const MemRegionValue& r = change.removed;
    out.findings.push_back(
        {FindingCode::UnknownRegion,
         fmt::format("REM_MEM_REG GPA {:#x} size {:#x} UVA {:#x} matches none of the {} "
                     "regions in the memory table",
                     r.guest_phys_addr, r.memory_size, r.userspace_addr, change.regions_before)});
  }
  if (change.changed()) state_.regions = memory_.regions();
}

void SessionAnalyser::apply_request(MessageRef ref, const DecodedMessage& msg,
                                    std::span<const FdInfo> fds, Observation& out) {
  const RequestInfo* info = msg.info;
  if (!info) return;
  SessionState& st = state_;

  // Rings, the memory table and the device guess follow the shared trackers' rules.
  if (auto index = vring_index_of(msg)) check_vring_index(*index, out);
  const VringUpdate update = vrings_.on_request(ref, msg, fds);
  if (update.all_rings)
    st.vrings = vrings_.vrings();
  else if (update.index && !update.untracked)
    sync_vring(*update.index);
  st.vring_notifier_changes = vrings_.notifier_changes();
  if (update.index) return;
  apply_memory_change(memory_.on_request(ref, msg, fds), fds, out);
  st.postcopy_listening = memory_.postcopy_listening();
  device_.on_request(msg);
  sync_device();
  if (info->channel != Channel::Frontend) return;

  switch (info->frontend()) {
    case FrontendRequest::SET_FEATURES:
      if (auto v = u64_of(msg)) {
        st.features.acked = *v;
        st.features.acked_by = ref;
        if (st.features.offered && (*v & ~*st.features.offered) != 0) {
          const uint64_t extra = *v & ~*st.features.offered;
          out.findings.push_back(
              {FindingCode::AckedNotOffered,
               fmt::format("SET_FEATURES acks {:#x} ({}) that GET_FEATURES did not offer", extra,
                           describe_features(extra, st.device))});
        }
      }
      break;
    case FrontendRequest::SET_PROTOCOL_FEATURES:
      if (auto v = u64_of(msg)) {
        st.protocol_features.acked = *v;
        st.protocol_features.acked_by = ref;
        if (st.protocol_features.offered && (*v & ~*st.protocol_features.offered) != 0) {
          const uint64_t extra = *v & ~*st.protocol_features.offered;
          out.findings.push_back(
              {FindingCode::ProtocolAckedNotOffered,
               fmt::format("SET_PROTOCOL_FEATURES acks {:#x} ({}) that GET_PROTOCOL_FEATURES did "
                           "not offer",
                           extra, describe_protocol_features(extra))});
        }
      }
      break;
    case FrontendRequest::SET_OWNER: st.owner_set = true; break;
    case FrontendRequest::RESET_OWNER: st.owner_set = false; break;
    case FrontendRequest::SET_LOG_BASE:
      if (const auto* l = std::get_if<LogValue>(&msg.payload)) st.log.log = *l;
      st.log.has_fd = !fds.empty();
      st.log.fd = fds.empty() ? FdInfo{} : fds.front();
      break;
    case FrontendRequest::SET_BACKEND_REQ_FD:
      st.backend_channel.established = true;
      st.backend_channel.set_by = ref;
      st.backend_channel.fd = fds.empty() ? FdInfo{} : fds.front();
      break;
    case FrontendRequest::SET_CONFIG: ++st.config_writes; break;
    case FrontendRequest::GET_INFLIGHT_FD:
      if (const auto* f = std::get_if<InflightValue>(&msg.payload)) st.inflight.requested = *f;
      break;
    case FrontendRequest::SET_INFLIGHT_FD:
      if (const auto* f = std::get_if<InflightValue>(&msg.payload)) st.inflight.set = *f;
      if (!fds.empty()) {
        st.inflight.fd = fds.front();
        st.inflight.has_fd = true;
      }
      break;
    case FrontendRequest::SET_STATUS:
      if (auto v = u64_of(msg)) st.status_set = static_cast<uint8_t>(*v);
      break;
    default: break;
  }
}

void SessionAnalyser::apply_reply(MessageRef ref, const PendingRequest& req,
                                  const DecodedMessage& msg, std::span<const FdInfo> fds,
                                  Observation& out) {
  SessionState& st = state_;
  const RequestInfo* info = req.info;
  // Acks (and intrinsic replies shaped as acks) report failure with a non-zero u64.
  const bool ack_shaped = req.expects == ReplyExpectation::Ack ||
                          req.expects == ReplyExpectation::OptionalAck ||
                          (info && info->reply_payload == PayloadKind::Ack);
  if (ack_shaped && msg.header.request == req.request) {
    if (auto v = u64_of(msg); v && *v != 0)
      out.findings.push_back(
          {FindingCode::NonzeroAck, fmt::format("{} answered {:#x}; 0 means success, the front-end "
                                                "treats anything else as failure",
                                                request_label(req), *v)});
  }
  if (!info || msg.header.request != req.request) return;
  // Reply payloads feed state only when they answer the request they claim to.
  device_.on_reply(msg);
  sync_device();
  if (info->channel != Channel::Frontend) return;
  switch (info->frontend()) {
    case FrontendRequest::GET_FEATURES:
      if (auto v = u64_of(msg)) {
        st.features.offered = *v;
        st.features.offered_by = ref;
      }
      break;
    case FrontendRequest::GET_PROTOCOL_FEATURES:
      if (auto v = u64_of(msg)) {
        st.protocol_features.offered = *v;
        st.protocol_features.offered_by = ref;
      }
      break;
    case FrontendRequest::GET_QUEUE_NUM:
      if (auto v = u64_of(msg)) st.queue_num = *v;
      break;
    case FrontendRequest::GET_MAX_MEM_SLOTS:
      if (auto v = u64_of(msg)) st.max_mem_slots = *v;
      break;
    case FrontendRequest::GET_STATUS:
      if (auto v = u64_of(msg)) st.status_read = static_cast<uint8_t>(*v);
      break;
    case FrontendRequest::GET_VRING_BASE:
      // The request already reported index problems.
      if (req.vring) {
        vrings_.on_vring_base_reply(*req.vring, msg);
        sync_vring(*req.vring);
      }
      break;
    case FrontendRequest::GET_CONFIG:
      if (const auto* c = std::get_if<ConfigValue>(&msg.payload)) st.config = *c;
      break;
    case FrontendRequest::GET_INFLIGHT_FD:
      if (const auto* f = std::get_if<InflightValue>(&msg.payload)) st.inflight.received = *f;
      if (!fds.empty()) {
        st.inflight.fd = fds.front();
        st.inflight.has_fd = true;
      }
      break;
    default: break;
  }
}

std::vector<AttributedFinding> SessionAnalyser::finish(uint64_t end_timestamp_ns, End end) {
  std::vector<AttributedFinding> found;
  if (finished_) return found;
  finished_ = true;
  for (const auto& q : queues_) {
    for (const auto& p : q.waiting) {
      if (p.reported_missing || p.expects == ReplyExpectation::OptionalAck) continue;
      const uint64_t waited =
          end_timestamp_ns >= p.timestamp_ns ? end_timestamp_ns - p.timestamp_ns : 0;
      const char* answer = p.expects == ReplyExpectation::Ack ? "ack" : "reply";
      switch (end) {
        case End::PeerClosed:
          found.push_back({p.ref,
                           {FindingCode::DisconnectWithPending,
                            fmt::format("{} was still waiting for its {} when the connection "
                                        "closed, {} after it was sent",
                                        request_label(p), answer, format_ms(waited))}});
          break;
        case End::RecorderStopped:
          found.push_back({p.ref,
                           {FindingCode::Unanswered,
                            fmt::format("{} unanswered: waiting for {} when the capture ended",
                                        request_label(p), format_ms(waited))}});
          break;
        case End::CaptureCut:
          // The capture itself shows a long wait: a hang, whether or not the file was cut.
          if (waited >= kReplyTimeoutNs) {
            found.push_back({p.ref,
                             {FindingCode::Unanswered,
                              fmt::format("{} unanswered: waiting for {} when the capture ended",
                                          request_label(p), format_ms(waited))}});
            break;
          }
          found.push_back(
              {p.ref,
               {FindingCode::NoReplyYet,
                fmt::format("{} had no {} yet when the capture ends ({} after it was sent; "
                            "the file ends without the recorder's closing record)",
                            request_label(p), answer, format_ms(waited))}});
          break;
      }
    }
  }
  return found;
}

std::vector<PendingRequest> SessionAnalyser::pending() const {
  std::vector<PendingRequest> out;
  for (const auto& q : queues_)
    for (const auto& p : q.waiting)
      if (p.expects != ReplyExpectation::OptionalAck && !p.reported_missing) out.push_back(p);
  return out;
}

}  // namespace vhs
