// Live virtqueue sampling (see ring_sampler.hpp).
#include "proxy/ring_sampler.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>

#include <fmt/format.h>

#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "proxy/fault_guard.hpp"

namespace vhs {

namespace {

constexpr uint64_t mask_of(std::initializer_list<FrontendRequest> requests) {
  uint64_t m = 0;
  for (FrontendRequest r : requests) m |= uint64_t{1} << static_cast<uint32_t>(r);
  return m;
}

// Front-end requests the trackers give meaning to; everything else is relayed without a decode.
constexpr uint64_t kRequestsFollowed = mask_of({
    FrontendRequest::SET_FEATURES,     FrontendRequest::SET_PROTOCOL_FEATURES,
    FrontendRequest::RESET_OWNER,      FrontendRequest::RESET_DEVICE,
    FrontendRequest::SET_MEM_TABLE,    FrontendRequest::ADD_MEM_REG,
    FrontendRequest::REM_MEM_REG,      FrontendRequest::POSTCOPY_LISTEN,
    FrontendRequest::POSTCOPY_END,     FrontendRequest::SET_VRING_NUM,
    FrontendRequest::SET_VRING_ADDR,   FrontendRequest::SET_VRING_BASE,
    FrontendRequest::GET_VRING_BASE,   FrontendRequest::SET_VRING_KICK,
    FrontendRequest::SET_VRING_CALL,   FrontendRequest::SET_VRING_ERR,
    FrontendRequest::SET_VRING_ENABLE, FrontendRequest::SET_VRING_ENDIAN,
    FrontendRequest::SEND_RARP,        FrontendRequest::NET_SET_MTU,
});
// Replies whose payload the trackers read.
constexpr uint64_t kRepliesFollowed = mask_of({
    FrontendRequest::GET_VRING_BASE,
    FrontendRequest::GET_CONFIG,
    FrontendRequest::GET_PROTOCOL_FEATURES,
});

bool followed(uint64_t mask, uint32_t request) { return request < 64 && ((mask >> request) & 1u); }

// Requests after which a started ring is sampled at once (its layout or position is known anew).
bool resamples(FrontendRequest r) {
  return r == FrontendRequest::SET_VRING_NUM || r == FrontendRequest::SET_VRING_ADDR ||
         r == FrontendRequest::SET_VRING_BASE || r == FrontendRequest::SET_VRING_KICK;
}

bool samplable(const VringState& v) { return v.started && v.addr.has_value(); }

bool has_unreadable_part(const RingSnapshot& s) {
  return std::any_of(s.faults.begin(), s.faults.end(),
                     [](const RingFault& f) { return f.kind == RingFaultKind::PartUnreadable; });
}

}  // namespace

RingSampler::RingSampler(DeviceKind device) : device_(device) {}

RingSampler::Sampling& RingSampler::sampling(uint32_t index) {
  auto it = std::lower_bound(sampling_.begin(), sampling_.end(), index,
                             [](const auto& p, uint32_t i) { return p.first < i; });
  if (it == sampling_.end() || it->first != index) it = sampling_.insert(it, {index, Sampling{}});
  return it->second;
}

void RingSampler::invalidate_all() {
  for (auto& [index, s] : sampling_) {
    s.loc_valid = false;
    s.fault_reported = false;
    s.follower.reset();
  }
}

bool RingSampler::on_message(Direction direction, std::span<const uint8_t> bytes,
                             std::span<const int> fds, Output& out) {
  const std::optional<Header> header = parse_header(bytes);
  if (!header) return false;
  const uint32_t request = header->request;
  const bool reply = header->is_reply();
  // Requests travel to the back-end, replies to the front-end; anything else is not ours.
  if (reply != (direction == Direction::ToFrontend)) return false;
  if (!followed(reply ? kRepliesFollowed : kRequestsFollowed, request)) return false;

  fd_infos_.assign(fds.size(), FdInfo{});
  DecodeContext ctx;
  ctx.protocol_features = protocol_features_.value_or(0);
  ctx.protocol_features_known = protocol_features_.has_value();
  ctx.device = device_.kind();
  const DecodedMessage msg = decode_message(Channel::Frontend, bytes, fd_infos_, ctx);
  if (!msg.info) return false;
  return reply ? on_reply(msg, out) : on_request(msg, fds, out);
}

bool RingSampler::on_request(const DecodedMessage& msg, std::span<const int> fds, Output& out) {
  // Each followed request belongs to one tracker; only that one is fed.
  const FrontendRequest r = msg.info->frontend();
  switch (r) {
    case FrontendRequest::SET_PROTOCOL_FEATURES:
      if (const auto* u = std::get_if<U64Value>(&msg.payload)) protocol_features_ = u->value;
      return false;
    case FrontendRequest::SEND_RARP:
    case FrontendRequest::NET_SET_MTU:
      if (!device_.on_request(msg)) return false;
      invalidate_all();
      return true;
    case FrontendRequest::SET_MEM_TABLE:
    case FrontendRequest::ADD_MEM_REG:
    case FrontendRequest::REM_MEM_REG:
    case FrontendRequest::POSTCOPY_LISTEN:
    case FrontendRequest::POSTCOPY_END:
      return apply_memory_change(table_.on_request(kNoMessage, msg, fd_infos_), fds, out);
    default: break;
  }

  const VringUpdate update = vrings_.on_request(kNoMessage, msg, fd_infos_);
  if (update.all_rings) {
    if (r == FrontendRequest::SET_FEATURES) {
      invalidate_all();  // event idx and packed rings move the ring parts
    } else {
      sampling_.clear();  // reset: every ring stopped
      base_request_.reset();
    }
    return true;
  }
  if (!update.index || update.untracked) return false;
  const VringState* ring = vrings_.vring(*update.index);
  Sampling& s = sampling(*update.index);
  s.loc_valid = false;
  s.fault_reported = false;
  if (r == FrontendRequest::GET_VRING_BASE) {
    s.follower.reset();
    // The back-end stops the ring; its position is in flux until the reply, which gets the
    // ring's last sample.
    s.exact_base.reset();
    s.awaiting_final = update.stopped && ring->addr.has_value();
    base_request_ = *update.index;
    return true;
  }
  if (!resamples(r)) return false;
  s.follower.reset();  // a new layout or position: what was learnt may not hold
  // The base describes the back-end's position only until the ring runs (SET_VRING_BASE, then
  // the kick that starts it).
  if (r == FrontendRequest::SET_VRING_BASE) s.exact_base = ring->base;
  if (update.started) s.have_last = false;
  if (samplable(*ring)) sample_ring(*ring, s, out);
  return true;
}

bool RingSampler::on_reply(const DecodedMessage& msg, Output& out) {
  if (device_.on_reply(msg)) invalidate_all();
  if (!msg.info->is(FrontendRequest::GET_VRING_BASE) || !base_request_) return false;
  const uint32_t index = *base_request_;
  base_request_.reset();
  vrings_.on_vring_base_reply(index, msg);
  const VringState* ring = vrings_.vring(index);
  if (!ring) return false;
  Sampling& s = sampling(index);
  if (!s.awaiting_final) return false;
  // The ring is stopped and this is the back-end's final position: one last, exact sample.
  s.awaiting_final = false;
  s.exact_base = ring->last_base;
  s.loc_valid = false;
  s.follower.reset();
  sample_ring(*ring, s, out);
  s.have_last = false;
  return true;
}

bool RingSampler::apply_memory_change(const MemoryTableChange& change, std::span<const int> fds,
                                      Output& out) {
  auto fd_of = [&](const InstalledRegion& r) { return r.fd_index ? fds[*r.fd_index] : -1; };
  switch (change.kind) {
    case MemoryTableChange::Kind::Replaced: {
      std::vector<MemRegionValue> regions;
      region_fds_.clear();
      for (const InstalledRegion& r : change.installed) {
        regions.push_back(r.region);
        region_fds_.push_back(fd_of(r));
      }
      for (const std::string& e : memory_.set_table(regions, region_fds_))
        out.ring_error("cannot map guest memory " + e);
      break;
    }
    case MemoryTableChange::Kind::Added:
      for (const InstalledRegion& r : change.installed)
        for (const std::string& e : memory_.add_region(r.region, fd_of(r)))
          out.ring_error("cannot map guest memory " + e);
      break;
    case MemoryTableChange::Kind::Removed: memory_.remove_region_at(change.removed_index); break;
    case MemoryTableChange::Kind::None:
    case MemoryTableChange::Kind::NotFound: return false;
  }
  invalidate_all();
  sample(out);
  return true;
}

bool RingSampler::any_started() const {
  const auto& vs = vrings_.vrings();
  return std::any_of(vs.begin(), vs.end(), samplable);
}

void RingSampler::sample(Output& out) {
  for (const VringState& v : vrings_.vrings())
    if (samplable(v)) sample_ring(v, sampling(v.index), out);
}

void RingSampler::locate(const VringState& ring, Sampling& s) {
  if (s.loc_valid) return;
  s.loc = locate_ring(memory_.map(), ring.index, ring.num.value_or(0),
                      ring.addr.value_or(VringAddrValue{}), vrings_.features_acked().value_or(0),
                      device_.kind());
  s.loc_valid = true;
}

// With IN_ORDER a device may write one used entry for a batch of buffers (VIRTIO "In-order use of
// descriptors"): the per-head accounting of the follower does not hold.
bool RingSampler::followed_ring(const Sampling& s) const {
  return s.loc.type == RingType::Split &&
         !((vrings_.features_acked().value_or(0) >> kFeatureInOrder) & 1u);
}

void RingSampler::follow(uint32_t index) {
  const VringState* ring = vrings_.vring(index);
  if (!ring || !samplable(*ring)) return;
  Sampling& s = sampling(index);
  locate(*ring, s);
  if (!followed_ring(s)) return;
  s.follower.follow(memory_.view(), s.loc, scratch_, s.follower_faults);
}

void RingSampler::sample_ring(const VringState& ring, Sampling& s, Output& out) {
  const uint32_t num = ring.num.value_or(0);
  locate(ring, s);
  // The base only describes the back-end's position while it cannot have moved: right at the
  // start (SET_VRING_BASE then KICK) or once stopped (GET_VRING_BASE reply).
  s.loc.vring_base = s.exact_base;
  if (!s.loc.faults.empty() && !s.fault_reported) {
    s.fault_reported = true;
    out.ring_error("vring " + std::to_string(ring.index) + ": ring not readable (size " +
                   std::to_string(num) + (memory_.region_count() == 0 ? ", no memory table" : "") +
                   "); see the RingState record's faults");
  }
  const uint64_t faults_before = guarded_copy_faults();
  take_settled_ring_snapshot(memory_.view(), s.loc, scratch_, snap_, retake_);
  // A read faulted: the front-end shrank a region's file under us. Or the ring is unreadable
  // where a region was already short: its file may have grown back. Either way the files' sizes
  // are looked at again, and when what is backed changed the ring is read again through the
  // corrected view (so its faults name the part that is really gone).
  if (guarded_copy_faults() != faults_before ||
      (has_unreadable_part(snap_) && memory_.any_short())) {
    if (recheck_backing(out))
      take_settled_ring_snapshot(memory_.view(), s.loc, scratch_, snap_, retake_);
  }
  s.exact_base.reset();
  if (followed_ring(s)) {
    for (const RingFault& f : s.follower_faults) push_fault(snap_.faults, f);
    s.follower_faults.clear();
    s.follower.follow(memory_.view(), s.loc, scratch_, snap_.faults);
  }
  if (s.have_last && snap_ == s.last) return;
  s.last = snap_;
  s.have_last = true;
  encode_ring_snapshot(snap_, encoded_);
  out.ring_state(encoded_);
}

bool RingSampler::recheck_backing(Output& out) {
  const std::vector<BackingChange> changes = memory_.recheck_backing();
  for (const BackingChange& c : changes) {
    if (c.backed_after >= c.backed_before) continue;  // grew back: nothing wrong any more
    const MemRegionValue& r = c.value;
    out.region_shrank(fmt::format(
        "memory region {} (GPA {:#x} size {:#x}, fd offset {:#x}) now extends past the end of "
        "its fd: the file shrank to {:#x} bytes, {:#x} of the region's bytes remain; reads past "
        "them are unreadable",
        c.region, r.guest_phys_addr, r.memory_size, r.mmap_offset, c.file_size, c.backed_after));
  }
  return !changes.empty();
}

void RingSampler::reset() {
  table_.clear();
  vrings_.clear();
  device_.reset();
  protocol_features_.reset();
  base_request_.reset();
  sampling_.clear();
  memory_.clear();
}

}  // namespace vhs
