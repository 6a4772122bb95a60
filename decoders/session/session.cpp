// SessionAnalyser: request/reply pairing, negotiation, memory table, vring and back-end channel
// state of one vhost-user session, fed one decoded message at a time.
#include "decoders/session/session.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vhs {
namespace {

// Registry rows the analyser gives meaning to, by enumerator, so messages are compared with a
// pointer test.
struct KnownRequests {
  const RequestInfo* get_features = &request_info(FrontendRequest::GET_FEATURES);
  const RequestInfo* set_features = &request_info(FrontendRequest::SET_FEATURES);
  const RequestInfo* set_owner = &request_info(FrontendRequest::SET_OWNER);
  const RequestInfo* reset_owner = &request_info(FrontendRequest::RESET_OWNER);
  const RequestInfo* set_mem_table = &request_info(FrontendRequest::SET_MEM_TABLE);
  const RequestInfo* set_log_base = &request_info(FrontendRequest::SET_LOG_BASE);
  const RequestInfo* set_vring_num = &request_info(FrontendRequest::SET_VRING_NUM);
  const RequestInfo* set_vring_addr = &request_info(FrontendRequest::SET_VRING_ADDR);
  const RequestInfo* set_vring_base = &request_info(FrontendRequest::SET_VRING_BASE);
  const RequestInfo* get_vring_base = &request_info(FrontendRequest::GET_VRING_BASE);
  const RequestInfo* set_vring_kick = &request_info(FrontendRequest::SET_VRING_KICK);
  const RequestInfo* set_vring_call = &request_info(FrontendRequest::SET_VRING_CALL);
  const RequestInfo* set_vring_err = &request_info(FrontendRequest::SET_VRING_ERR);
  const RequestInfo* get_protocol_features = &request_info(FrontendRequest::GET_PROTOCOL_FEATURES);
  const RequestInfo* set_protocol_features = &request_info(FrontendRequest::SET_PROTOCOL_FEATURES);
  const RequestInfo* get_queue_num = &request_info(FrontendRequest::GET_QUEUE_NUM);
  const RequestInfo* set_vring_enable = &request_info(FrontendRequest::SET_VRING_ENABLE);
  const RequestInfo* send_rarp = &request_info(FrontendRequest::SEND_RARP);
  const RequestInfo* net_set_mtu = &request_info(FrontendRequest::NET_SET_MTU);
  const RequestInfo* set_backend_req_fd = &request_info(FrontendRequest::SET_BACKEND_REQ_FD);
  const RequestInfo* set_vring_endian = &request_info(FrontendRequest::SET_VRING_ENDIAN);
  const RequestInfo* get_config = &request_info(FrontendRequest::GET_CONFIG);
  const RequestInfo* set_config = &request_info(FrontendRequest::SET_CONFIG);
  const RequestInfo* postcopy_listen = &request_info(FrontendRequest::POSTCOPY_LISTEN);
  const RequestInfo* postcopy_end = &request_info(FrontendRequest::POSTCOPY_END);
  const RequestInfo* get_inflight_fd = &request_info(FrontendRequest::GET_INFLIGHT_FD);
  const RequestInfo* set_inflight_fd = &request_info(FrontendRequest::SET_INFLIGHT_FD);
  const RequestInfo* reset_device = &request_info(FrontendRequest::RESET_DEVICE);
  const RequestInfo* get_max_mem_slots = &request_info(FrontendRequest::GET_MAX_MEM_SLOTS);
  const RequestInfo* add_mem_reg = &request_info(FrontendRequest::ADD_MEM_REG);
  const RequestInfo* rem_mem_reg = &request_info(FrontendRequest::REM_MEM_REG);
  const RequestInfo* set_status = &request_info(FrontendRequest::SET_STATUS);
  const RequestInfo* get_status = &request_info(FrontendRequest::GET_STATUS);
};

const KnownRequests& known() {
  static const KnownRequests k;  // immutable after first use
  return k;
}

// Most requests wait on one outstanding reply; a short queue tolerates pipelining senders, a bound
// keeps a garbage stream from growing it.
constexpr size_t kMaxWaiting = 32;

// The u64 of a U64-shaped payload (features, acks, status, queue counts).
std::optional<uint64_t> u64_of(const DecodedMessage& msg) {
  if (const auto* v = std::get_if<U64Value>(&msg.payload)) return v->value;
  return std::nullopt;
}

// The queue a request talks about, for payloads that name one.
std::optional<uint32_t> vring_index_of(const DecodedMessage& msg) {
  if (const auto* s = std::get_if<VringStateValue>(&msg.payload)) return s->index;
  if (const auto* a = std::get_if<VringAddrValue>(&msg.payload)) return a->index;
  if (const auto* f = std::get_if<VringIndexFdValue>(&msg.payload)) return f->index();
  if (const auto* r = std::get_if<VringAreaValue>(&msg.payload)) return r->index();
  return std::nullopt;
}

std::string_view name_of(const RequestInfo* info) { return info ? info->name : "UNKNOWN"; }

std::string request_label(const PendingRequest& p) {
  if (p.vring) return fmt::format("{} (index {})", name_of(p.info), *p.vring);
  if (!p.info) return fmt::format("request {}", p.request);
  return std::string(p.info->name);
}

bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) {
  if (a_len == 0 || b_len == 0) return false;
  // End addresses may overflow for hostile values; compare lengths instead of ends.
  return a < b ? b - a < a_len : a - b < b_len;
}

std::string format_ms(uint64_t ns) { return fmt::format("{} ms", ns / 1'000'000); }

// virtio-fs config: a NUL-padded printable tag of 36 bytes, then num_request_queues.
bool looks_like_fs_config(const std::vector<uint8_t>& d) {
  if (d.size() != 40 && d.size() != 44) return false;
  if (d[0] == 0) return false;
  bool ended = false;
  for (size_t i = 0; i < 36; ++i) {
    if (ended) {
      if (d[i] != 0) return false;
    } else if (d[i] == 0) {
      ended = true;
    } else if (d[i] < 0x20 || d[i] == 0x7f) {
      return false;
    }
  }
  uint32_t queues =
      uint32_t{d[36]} | uint32_t{d[37]} << 8 | uint32_t{d[38]} << 16 | uint32_t{d[39]} << 24;
  return queues >= 1 && queues <= 1024;
}

}  // namespace

uint32_t VringState::count_of(const RequestInfo* info) const {
  for (const auto& c : counts)
    if (c.info == info) return c.count;
  return 0;
}

const VringState* SessionState::vring(uint32_t index) const {
  auto it = std::lower_bound(vrings.begin(), vrings.end(), index,
                             [](const VringState& v, uint32_t i) { return v.index < i; });
  return it != vrings.end() && it->index == index ? &*it : nullptr;
}

SessionAnalyser::SessionAnalyser(Options options) : options_(options) {
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
  const KnownRequests& k = known();
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
      if (state_.postcopy_listening && (info == k.set_mem_table || info == k.add_mem_reg) &&
          msg.header.size != sizeof(uint64_t))
        return ReplyExpectation::Reply;
      return ack;
  }
  return ack;
}

void SessionAnalyser::check_gating(const DecodedMessage& msg, Observation& out) const {
  const RequestInfo* info = msg.info;
  if (!info) return;
  const KnownRequests& k = known();
  const FeatureWord& vf = state_.features;
  // Protocol-feature negotiation itself needs virtio bit 30 offered (spec "Protocol features").
  if ((info == k.get_protocol_features || info == k.set_protocol_features) && vf.offered &&
      !vf.offered_has(kFeatureProtocolFeatures)) {
    out.findings.push_back(
        {FindingCode::FeatureNotNegotiated,
         fmt::format("{} needs virtio feature PROTOCOL_FEATURES (bit 30), which GET_FEATURES did "
                     "not offer (offered {:#x})",
                     info->name, *vf.offered)});
  }
  // SET_VRING_ENABLE is meaningful only once bit 30 is acked; without it rings start enabled.
  if (info == k.set_vring_enable && vf.acked && !vf.acked_has(kFeatureProtocolFeatures)) {
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

VringState* SessionAnalyser::vring_for(uint32_t index, Observation& out) {
  if (index >= kMaxTrackedVrings) {
    out.findings.push_back(
        {FindingCode::VringIndexOutOfRange,
         fmt::format("queue index {} is beyond any plausible queue count (tracking stops at {})",
                     index, kMaxTrackedVrings)});
    return nullptr;
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
  auto& vs = state_.vrings;
  auto it = std::lower_bound(vs.begin(), vs.end(), index,
                             [](const VringState& v, uint32_t i) { return v.index < i; });
  if (it == vs.end() || it->index != index) {
    VringState v;
    v.index = index;
    v.enabled = rings_enabled_by_default_;
    it = vs.insert(it, v);
  }
  return &*it;
}

void SessionAnalyser::install_region(MessageRef ref, const MemRegionValue& r, const FdInfo* fd,
                                     Observation& out) {
  for (const auto& existing : state_.regions) {
    const auto& e = existing.region;
    const bool gpa =
        ranges_overlap(e.guest_phys_addr, e.memory_size, r.guest_phys_addr, r.memory_size);
    const bool uva =
        ranges_overlap(e.userspace_addr, e.memory_size, r.userspace_addr, r.memory_size);
    if (gpa || uva)
      out.findings.push_back(
          {FindingCode::OverlappingRegion,
           fmt::format("region GPA {:#x}+{:#x} UVA {:#x} overlaps region GPA {:#x}+{:#x} UVA {:#x} "
                       "({} range)",
                       r.guest_phys_addr, r.memory_size, r.userspace_addr, e.guest_phys_addr,
                       e.memory_size, e.userspace_addr, gpa ? "guest-physical" : "user address")});
  }
  MemRegionState s;
  s.region = r;
  if (fd) {
    s.has_fd = true;
    s.fd = *fd;
  }
  s.added_by = ref;
  state_.regions.push_back(std::move(s));
}

void SessionAnalyser::apply_request(MessageRef ref, const DecodedMessage& msg,
                                    std::span<const FdInfo> fds, Observation& out) {
  const RequestInfo* info = msg.info;
  if (!info) return;
  const KnownRequests& k = known();
  SessionState& st = state_;

  if (auto index = vring_index_of(msg)) {
    if (VringState* v = vring_for(*index, out)) {
      auto c = std::find_if(v->counts.begin(), v->counts.end(),
                            [&](const RequestCount& rc) { return rc.info == info; });
      if (c == v->counts.end())
        v->counts.push_back({info, 1});
      else
        ++c->count;
      const auto* state = std::get_if<VringStateValue>(&msg.payload);
      if (info == k.set_vring_num && state) v->num = state->num;
      if (info == k.set_vring_base && state) v->base = state->num;
      if (info == k.set_vring_endian && state) v->endian = state->num;
      if (info == k.set_vring_enable && state) v->enabled = state->num != 0;
      if (info == k.get_vring_base && v->started) {  // the back-end stops the ring
        v->started = false;
        ++st.vring_notifier_changes;
      }
      if (const auto* a = std::get_if<VringAddrValue>(&msg.payload); a && info == k.set_vring_addr)
        v->addr = *a;
      if (const auto* f = std::get_if<VringIndexFdValue>(&msg.payload)) {
        NotifierSlot* slot = info == k.set_vring_kick   ? &v->kick
                             : info == k.set_vring_call ? &v->call
                             : info == k.set_vring_err  ? &v->err
                                                        : nullptr;
        if (slot) {
          slot->set_by = ref;
          const auto was = slot->state;
          if (f->nofd() || fds.empty()) {
            slot->state = NotifierSlot::State::NoFd;
            slot->fd = {};
          } else {
            slot->state = NotifierSlot::State::Fd;
            slot->fd = fds.front();
          }
          if (slot->state != was) ++st.vring_notifier_changes;
        }
        // libvhost-user and rust-vmm start the ring when the kick fd arrives (spec 7.1 differs).
        if (info == k.set_vring_kick && !v->started) {
          v->started = true;
          ++st.vring_notifier_changes;
        }
      }
    }
    return;
  }

  if (info == k.set_features) {
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
      // Without PROTOCOL_FEATURES the back-end enables every ring at once (spec "Ring states").
      rings_enabled_by_default_ = ((*v >> kFeatureProtocolFeatures) & 1u) == 0;
      if (rings_enabled_by_default_)
        for (auto& vr : st.vrings) vr.enabled = true;
    }
  } else if (info == k.set_protocol_features) {
    if (auto v = u64_of(msg)) {
      st.protocol_features.acked = *v;
      st.protocol_features.acked_by = ref;
      if (st.protocol_features.offered && (*v & ~*st.protocol_features.offered) != 0) {
        const uint64_t extra = *v & ~*st.protocol_features.offered;
        out.findings.push_back(
            {FindingCode::ProtocolAckedNotOffered,
             fmt::format("SET_PROTOCOL_FEATURES acks {:#x} ({}) that GET_PROTOCOL_FEATURES did not "
                         "offer",
                         extra, describe_protocol_features(extra))});
      }
    }
  } else if (info == k.set_owner) {
    st.owner_set = true;
  } else if (info == k.reset_owner || info == k.reset_device) {
    if (info == k.reset_owner) st.owner_set = false;
    for (auto& vr : st.vrings) {
      if (vr.started) ++st.vring_notifier_changes;
      vr.started = false;
    }
  } else if (info == k.set_mem_table) {
    // The postcopy acknowledgement (u64 0, size 8) reuses the code but is not a table.
    if (const auto* t = std::get_if<MemTableValue>(&msg.payload);
        t && !(st.postcopy_listening && msg.header.size == sizeof(uint64_t))) {
      st.regions.clear();
      for (size_t i = 0; i < t->regions.size(); ++i)
        install_region(ref, t->regions[i], i < fds.size() ? &fds[i] : nullptr, out);
    }
  } else if (info == k.add_mem_reg) {
    if (const auto* s = std::get_if<SingleRegionValue>(&msg.payload);
        s && msg.header.size != sizeof(uint64_t))
      install_region(ref, s->region, fds.empty() ? nullptr : &fds.front(), out);
  } else if (info == k.rem_mem_reg) {
    if (const auto* s = std::get_if<SingleRegionValue>(&msg.payload)) {
      // Matched on GPA + UVA + size; mmap_offset is ignored (spec REM_MEM_REG).
      const auto& r = s->region;
      auto it = std::find_if(st.regions.begin(), st.regions.end(), [&](const MemRegionState& m) {
        return m.region.guest_phys_addr == r.guest_phys_addr &&
               m.region.userspace_addr == r.userspace_addr && m.region.memory_size == r.memory_size;
      });
      if (it == st.regions.end())
        out.findings.push_back(
            {FindingCode::UnknownRegion,
             fmt::format("REM_MEM_REG GPA {:#x} size {:#x} UVA {:#x} matches none of the {} "
                         "regions in the memory table",
                         r.guest_phys_addr, r.memory_size, r.userspace_addr, st.regions.size())});
      else
        st.regions.erase(it);
    }
  } else if (info == k.set_log_base) {
    if (const auto* l = std::get_if<LogValue>(&msg.payload)) st.log.log = *l;
    st.log.has_fd = !fds.empty();
    st.log.fd = fds.empty() ? FdInfo{} : fds.front();
  } else if (info == k.set_backend_req_fd) {
    st.backend_channel.established = true;
    st.backend_channel.set_by = ref;
    st.backend_channel.fd = fds.empty() ? FdInfo{} : fds.front();
  } else if (info == k.set_config) {
    ++st.config_writes;
  } else if (info == k.postcopy_listen) {
    st.postcopy_listening = true;
  } else if (info == k.postcopy_end) {
    st.postcopy_listening = false;
  } else if (info == k.get_inflight_fd) {
    if (const auto* f = std::get_if<InflightValue>(&msg.payload)) st.inflight.requested = *f;
  } else if (info == k.set_inflight_fd) {
    if (const auto* f = std::get_if<InflightValue>(&msg.payload)) st.inflight.set = *f;
    if (!fds.empty()) {
      st.inflight.fd = fds.front();
      st.inflight.has_fd = true;
    }
  } else if (info == k.set_status) {
    if (auto v = u64_of(msg)) st.status_set = static_cast<uint8_t>(*v);
  } else if (info == k.send_rarp || info == k.net_set_mtu) {
    if (!st.device_from_user && st.device == DeviceKind::Unknown) st.device = DeviceKind::Net;
  }
}

void SessionAnalyser::apply_reply(MessageRef ref, const PendingRequest& req,
                                  const DecodedMessage& msg, std::span<const FdInfo> fds,
                                  Observation& out) {
  const KnownRequests& k = known();
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
  if (info == k.get_features) {
    if (auto v = u64_of(msg)) {
      st.features.offered = *v;
      st.features.offered_by = ref;
    }
  } else if (info == k.get_protocol_features) {
    if (auto v = u64_of(msg)) {
      st.protocol_features.offered = *v;
      st.protocol_features.offered_by = ref;
      infer_device();
    }
  } else if (info == k.get_queue_num) {
    if (auto v = u64_of(msg)) st.queue_num = *v;
  } else if (info == k.get_max_mem_slots) {
    if (auto v = u64_of(msg)) st.max_mem_slots = *v;
  } else if (info == k.get_status) {
    if (auto v = u64_of(msg)) st.status_read = static_cast<uint8_t>(*v);
  } else if (info == k.get_vring_base) {
    const auto* s = std::get_if<VringStateValue>(&msg.payload);
    if (s && req.vring && *req.vring < kMaxTrackedVrings) {
      Observation scratch;  // the request already reported index problems
      if (VringState* v = vring_for(*req.vring, scratch)) v->last_base = s->num;
    }
  } else if (info == k.get_config) {
    if (const auto* c = std::get_if<ConfigValue>(&msg.payload)) {
      st.config = *c;
      infer_device();
    }
  } else if (info == k.get_inflight_fd) {
    if (const auto* f = std::get_if<InflightValue>(&msg.payload)) st.inflight.received = *f;
    if (!fds.empty()) {
      st.inflight.fd = fds.front();
      st.inflight.has_fd = true;
    }
  }
}

void SessionAnalyser::infer_device() {
  if (state_.device_from_user || state_.device != DeviceKind::Unknown) return;
  if (state_.config) {
    const auto& data = state_.config->data;
    if (looks_like_fs_config(data)) {
      state_.device = DeviceKind::Fs;
      return;
    }
    // virtio_blk_config starts with capacity, size_max, seg_max, geometry, blk_size (24 bytes);
    // net back-ends do not serve GET_CONFIG through vhost-user in QEMU.
    if (data.size() >= 24) {
      state_.device = DeviceKind::Blk;
      return;
    }
  }
  // Net-only protocol features (the registry names the bits gating SEND_RARP / NET_SET_MTU).
  const KnownRequests& k = known();
  for (const RequestInfo* r : {k.send_rarp, k.net_set_mtu})
    if (r->gate && state_.protocol_features.offered_has(*r->gate)) {
      state_.device = DeviceKind::Net;
      return;
    }
}

std::vector<AttributedFinding> SessionAnalyser::finish(uint64_t end_timestamp_ns,
                                                       bool disconnected) {
  std::vector<AttributedFinding> found;
  if (finished_) return found;
  finished_ = true;
  for (const auto& q : queues_) {
    for (const auto& p : q.waiting) {
      if (p.reported_missing || p.expects == ReplyExpectation::OptionalAck) continue;
      const uint64_t waited =
          end_timestamp_ns >= p.timestamp_ns ? end_timestamp_ns - p.timestamp_ns : 0;
      if (disconnected)
        found.push_back(
            {p.ref,
             {FindingCode::DisconnectWithPending,
              fmt::format("{} was still waiting for its {} when the connection "
                          "closed, {} after it was sent",
                          request_label(p), p.expects == ReplyExpectation::Ack ? "ack" : "reply",
                          format_ms(waited))}});
      else
        found.push_back({p.ref,
                         {FindingCode::Unanswered,
                          fmt::format("{} unanswered: waiting for {} when the capture ended",
                                      request_label(p), format_ms(waited))}});
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
