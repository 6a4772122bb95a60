// VringTracker: the ring-state rules (see vring_tracker.hpp).
#include "decoders/session/vring_tracker.hpp"

#include <algorithm>

#include "decoders/vhost_user/features.hpp"

namespace vhs {

uint32_t VringState::count_of(const RequestInfo* info) const {
  for (const RequestCount& c : counts)
    if (c.info == info) return c.count;
  return 0;
}

std::optional<uint32_t> vring_index_of(const DecodedMessage& msg) {
  if (const auto* s = std::get_if<VringStateValue>(&msg.payload)) return s->index;
  if (const auto* a = std::get_if<VringAddrValue>(&msg.payload)) return a->index;
  if (const auto* f = std::get_if<VringIndexFdValue>(&msg.payload)) return f->index();
  if (const auto* r = std::get_if<VringAreaValue>(&msg.payload)) return r->index();
  return std::nullopt;
}

const VringState* VringTracker::vring(uint32_t index) const {
  auto it = std::lower_bound(vrings_.begin(), vrings_.end(), index,
                             [](const VringState& v, uint32_t i) { return v.index < i; });
  return it != vrings_.end() && it->index == index ? &*it : nullptr;
}

bool VringTracker::any_started() const {
  return std::any_of(vrings_.begin(), vrings_.end(), [](const VringState& v) { return v.started; });
}

void VringTracker::clear() { *this = VringTracker{}; }

VringState* VringTracker::vring_for(uint32_t index) {
  if (index >= kMaxTrackedVrings) return nullptr;
  auto it = std::lower_bound(vrings_.begin(), vrings_.end(), index,
                             [](const VringState& v, uint32_t i) { return v.index < i; });
  if (it == vrings_.end() || it->index != index) {
    VringState v;
    v.index = index;
    v.enabled = enabled_by_default_;
    it = vrings_.insert(it, v);
  }
  return &*it;
}

VringUpdate VringTracker::on_request(MessageRef ref, const DecodedMessage& msg,
                                     std::span<const FdInfo> fds) {
  VringUpdate update;
  const RequestInfo* info = msg.info;
  if (!info || msg.is_reply) return update;
  const bool frontend = info->channel == Channel::Frontend;

  if (auto index = vring_index_of(msg)) {
    update.index = index;
    VringState* v = vring_for(*index);
    if (!v) {
      update.untracked = true;
      return update;
    }
    auto c = std::find_if(v->counts.begin(), v->counts.end(),
                          [&](const RequestCount& rc) { return rc.info == info; });
    if (c == v->counts.end())
      v->counts.push_back({info, 1});
    else
      ++c->count;
    if (!frontend) return update;
    const auto* state = std::get_if<VringStateValue>(&msg.payload);
    switch (info->frontend()) {
      case FrontendRequest::SET_VRING_NUM:
        if (state) v->num = state->num;
        break;
      case FrontendRequest::SET_VRING_BASE:
        if (state) v->base = state->num;
        break;
      case FrontendRequest::SET_VRING_ENDIAN:
        if (state) v->endian = state->num;
        break;
      case FrontendRequest::SET_VRING_ENABLE:
        if (state && v->enabled != (state->num != 0)) {
          v->enabled = state->num != 0;
          ++notifier_changes_;  // the hang rules leave a disabled ring alone
        }
        break;
      case FrontendRequest::SET_VRING_ADDR:
        if (const auto* a = std::get_if<VringAddrValue>(&msg.payload)) v->addr = *a;
        break;
      case FrontendRequest::GET_VRING_BASE:
        // The back-end stops the ring and answers with its position (spec "Ring states").
        if (v->started) {
          v->started = false;
          update.stopped = true;
          ++notifier_changes_;
        }
        break;
      case FrontendRequest::SET_VRING_KICK:
      case FrontendRequest::SET_VRING_CALL:
      case FrontendRequest::SET_VRING_ERR: {
        const auto* f = std::get_if<VringIndexFdValue>(&msg.payload);
        if (!f) break;
        const FrontendRequest r = info->frontend();
        NotifierSlot& slot = r == FrontendRequest::SET_VRING_KICK   ? v->kick
                             : r == FrontendRequest::SET_VRING_CALL ? v->call
                                                                    : v->err;
        slot.set_by = ref;
        const auto was = slot.state;
        if (f->nofd() || fds.empty()) {
          slot.state = NotifierSlot::State::NoFd;
          slot.fd = {};
        } else {
          slot.state = NotifierSlot::State::Fd;
          slot.fd = fds.front();
        }
        if (slot.state != was) ++notifier_changes_;
        // Spec "Ring states" starts a ring at the first kick on this fd; the kick itself never
        // crosses the socket, and libvhost-user and rust-vmm start the ring when the fd arrives,
        // so that is the start rule here.
        if (r == FrontendRequest::SET_VRING_KICK && !v->started) {
          v->started = true;
          update.started = true;
          ++notifier_changes_;
        }
        break;
      }
      default: break;
    }
    return update;
  }

  if (!frontend) return update;
  switch (info->frontend()) {
    case FrontendRequest::SET_FEATURES:
      if (const auto* u = std::get_if<U64Value>(&msg.payload)) {
        features_acked_ = u->value;
        // Without PROTOCOL_FEATURES the back-end enables every ring at once (spec "Ring states").
        enabled_by_default_ = ((u->value >> kFeatureProtocolFeatures) & 1u) == 0;
        if (enabled_by_default_)
          for (VringState& v : vrings_) {
            if (!v.enabled) ++notifier_changes_;
            v.enabled = true;
          }
        update.all_rings = true;
      }
      break;
    case FrontendRequest::RESET_OWNER:
    case FrontendRequest::RESET_DEVICE:
      // The back-end disables and stops every ring (spec "Front-end message types").
      for (VringState& v : vrings_) {
        if (v.started) ++notifier_changes_;
        v.started = false;
      }
      update.all_rings = true;
      break;
    default: break;
  }
  return update;
}

void VringTracker::on_vring_base_reply(uint32_t index, const DecodedMessage& reply) {
  const auto* s = std::get_if<VringStateValue>(&reply.payload);
  if (!s || index >= kMaxTrackedVrings) return;
  if (VringState* v = vring_for(index)) v->last_base = s->num;
}

}  // namespace vhs
