// Per-vring state as the back-end holds it, followed from the front-end's vring messages: size,
// addresses, base, endianness, the kick/call/err notifiers, enabled and started, and the acked
// virtio features the ring layout depends on. The one place the ring-state rules live: the session
// analyser and the proxy's ring sampler both read the rings this tracker keeps. Pure: fed decoded
// messages; no I/O, no findings.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "decoders/session/message_ref.hpp"
#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs {

// A kick/call/err notifier slot of a vring.
struct NotifierSlot {
  enum class State : uint8_t { Unset, NoFd, Fd };
  State state = State::Unset;
  FdInfo fd;
  MessageRef set_by = kNoMessage;
};

// How many times one request touched a vring.
struct RequestCount {
  const RequestInfo* info = nullptr;
  uint32_t count = 0;
};

struct VringState {
  uint32_t index = 0;
  std::optional<uint32_t> num;         // SET_VRING_NUM
  std::optional<VringAddrValue> addr;  // SET_VRING_ADDR
  std::optional<uint32_t> base;        // SET_VRING_BASE
  std::optional<uint32_t> last_base;   // last GET_VRING_BASE reply
  std::optional<uint32_t> endian;      // SET_VRING_ENDIAN (0 LE, 1 BE)
  NotifierSlot kick, call, err;
  bool enabled = false;  // SET_VRING_ENABLE, or at once when PROTOCOL_FEATURES (bit 30) not acked
  bool started = false;  // SET_VRING_KICK starts; GET_VRING_BASE, RESET_DEVICE, RESET_OWNER stop
  std::vector<RequestCount> counts;  // per request, in first-seen order
  uint32_t count_of(const RequestInfo* info) const;
};

// Vrings beyond this index are not tracked (a hostile index must not allocate unbounded state).
inline constexpr uint32_t kMaxTrackedVrings = 1024;

// The queue a message talks about, for payloads that name one.
std::optional<uint32_t> vring_index_of(const DecodedMessage& msg);

// What one message did to the vrings.
struct VringUpdate {
  std::optional<uint32_t> index;  // the vring the message named (tracked or not)
  bool untracked = false;         // that index is >= kMaxTrackedVrings: nothing was recorded
  bool all_rings = false;         // SET_FEATURES / resets: every vring may have changed
  bool started = false;           // the message started the named ring (it was stopped)
  bool stopped = false;           // the message stopped the named ring (it was started)
};

class VringTracker {
 public:
  // Feeds one request of either channel. Front-end vring requests set state; every message that
  // names a queue counts on that queue (and creates it).
  VringUpdate on_request(MessageRef ref, const DecodedMessage& msg, std::span<const FdInfo> fds);
  // The GET_VRING_BASE reply for the ring its request named: the back-end's position once
  // stopped.
  void on_vring_base_reply(uint32_t index, const DecodedMessage& reply);

  // Sorted by index.
  const std::vector<VringState>& vrings() const { return vrings_; }
  const VringState* vring(uint32_t index) const;
  bool any_started() const;
  // SET_FEATURES: the acked virtio + vhost bits (event idx and packed rings change the layout).
  std::optional<uint64_t> features_acked() const { return features_acked_; }
  // Bumped whenever a vring's started or enabled flag or kick/call/err setting changes, so
  // consumers re-read notifier facts only when they moved.
  uint64_t notifier_changes() const { return notifier_changes_; }
  void clear();

 private:
  VringState* vring_for(uint32_t index);

  std::vector<VringState> vrings_;
  std::optional<uint64_t> features_acked_;
  bool enabled_by_default_ = false;  // SET_FEATURES without PROTOCOL_FEATURES (bit 30)
  uint64_t notifier_changes_ = 0;
};

}  // namespace vhs
