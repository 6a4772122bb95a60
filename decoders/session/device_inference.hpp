// Which virtio device a session drives, when the user did not say. vhost-user never carries the
// device id, so it is guessed from evidence the session shows: the GET_CONFIG reply (a virtio-fs
// tag, a virtio_blk_config), net-only requests (SEND_RARP, NET_SET_MTU) and the net-only protocol
// features the back-end offers. The first evidence decides; later evidence never changes it. The
// session analyser and the proxy's ring sampler both use this one rule.
#pragma once

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/message.hpp"

namespace vhs {

class DeviceInference {
 public:
  // `user`: the device kind the user forced; Unknown lets the evidence decide.
  explicit DeviceInference(DeviceKind user = DeviceKind::Unknown);

  // A front-end request (SEND_RARP / NET_SET_MTU mean net). True when the kind was decided now.
  bool on_request(const DecodedMessage& request);
  // A reply that answers its own request code (GET_CONFIG, GET_PROTOCOL_FEATURES). True when the
  // kind was decided now.
  bool on_reply(const DecodedMessage& reply);

  DeviceKind kind() const { return kind_; }
  bool from_user() const { return from_user_; }
  // Forget the evidence (a new session); a forced kind stays.
  void reset();

 private:
  bool decide(DeviceKind kind);

  DeviceKind kind_;
  bool from_user_;
};

}  // namespace vhs
