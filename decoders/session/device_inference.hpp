// Which virtio device a session drives, when the user did not say. vhost-user never carries the
// device id, so it is recognised from what the session shows, each piece of evidence with a
// weight (positive: it points at a device kind; negative: it rules one out):
//   - the GET_CONFIG reply's shape (a virtio-fs tag, a virtio_blk_config),
//   - net-only requests (SEND_RARP, NET_SET_MTU) and the net-only protocol features offered,
//   - the device feature bits offered, taken as a whole word (a bit means different things per
//     device, so one bit never decides),
//   - the requests on the rings (a blk request header, a FUSE in-header, a virtio-net header and
//     the Ethernet frame after it, or only the readable/writable shape of old captures),
//   - the device of the earlier session of the same front-end connection (a reconnect: the
//     front-end does not send GET_CONFIG again).
// The kind with the highest total decides once it is strong enough and clearly ahead of every
// other kind; evidence that disagrees leaves the device unknown. The session analyser and the
// proxy's ring sampler both use this one rule.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs {

enum class EvidenceSource : uint8_t {
  EarlierSession,    // the device of the previous session on the same front-end socket
  Config,            // GET_CONFIG reply
  NetRequest,        // SEND_RARP / NET_SET_MTU
  ProtocolFeatures,  // RARP / NET_MTU offered
  FeatureBits,       // the device feature bits of GET_FEATURES (or SET_FEATURES)
  RingRequests,      // request headers read from in-flight buffers
  RingShapes,        // readable/writable split of in-flight buffers (no header bytes)
};

// One source's verdict about one device kind. `reason` completes "recognised ...": "from FUSE
// requests on queue 1".
struct DeviceEvidence {
  EvidenceSource source = EvidenceSource::Config;
  DeviceKind kind = DeviceKind::Unknown;
  int weight = 0;
  std::string reason;
};

class DeviceInference {
 public:
  // A kind needs this total, and this lead over every other kind, to be decided.
  static constexpr int kDecideWeight = 4;
  static constexpr int kDecideLead = 2;

  // `user`: the device kind the user forced; Unknown lets the evidence decide.
  explicit DeviceInference(DeviceKind user = DeviceKind::Unknown);

  // A request (SEND_RARP / NET_SET_MTU mean net; SET_FEATURES' bits when no offer was seen).
  // True when the kind changed now.
  bool on_request(const DecodedMessage& request);
  // A reply that answers its own request code (GET_CONFIG, GET_FEATURES, GET_PROTOCOL_FEATURES).
  // True when the kind changed now.
  bool on_reply(const DecodedMessage& reply);
  // A ring sample: the in-flight requests it carries. `features`: the acked virtio features (the
  // virtio-net header size). True when the kind changed now.
  bool on_ring_state(const RingSnapshot& snapshot, uint64_t features);
  // The earlier session of the same front-end connection drove `kind`; `reason` says which
  // ("from session 1 on the same socket"). True when the kind changed now.
  bool inherit(DeviceKind kind, std::string reason);

  DeviceKind kind() const { return kind_; }
  bool from_user() const { return from_user_; }
  // How the kind was recognised ("from FUSE requests on queue 1"); for an unknown kind whose
  // evidence disagrees, what disagrees; empty otherwise.
  const std::string& reason() const { return reason_; }
  const std::vector<DeviceEvidence>& evidence() const { return evidence_; }
  // Forget the evidence (a new session); a forced kind stays.
  void reset();

 private:
  // Replaces the evidence of `source` (every kind) with `items`.
  bool replace(EvidenceSource source, std::vector<DeviceEvidence> items);
  // Adds `weight` to the (source, kind) evidence, its total capped at `cap`.
  void accumulate(EvidenceSource source, DeviceKind kind, int weight, int cap,
                  const std::string& reason);
  bool decide();

  DeviceKind kind_;
  bool from_user_;
  std::string reason_;
  std::vector<DeviceEvidence> evidence_;
  bool features_offered_ = false;  // a GET_FEATURES word was evaluated (SET_FEATURES then is not)
  // Queues whose requests were recognised, per source and kind (for the reason text).
  struct RecognisedQueue {
    EvidenceSource source;
    DeviceKind kind;
    uint32_t queue;
    bool operator==(const RecognisedQueue&) const = default;
  };
  std::vector<RecognisedQueue> recognised_queues_;
};

}  // namespace vhs
