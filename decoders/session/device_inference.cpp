// DeviceInference: the device-kind guess (see device_inference.hpp).
#include "decoders/session/device_inference.hpp"

#include <vector>

#include "decoders/vhost_user/registry.hpp"

namespace vhs {
namespace {

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

DeviceKind kind_from_config(const ConfigValue& config) {
  if (looks_like_fs_config(config.data)) return DeviceKind::Fs;
  // virtio_blk_config starts with capacity, size_max, seg_max, geometry, blk_size (24 bytes);
  // net back-ends do not serve GET_CONFIG through vhost-user in QEMU.
  if (config.data.size() >= 24) return DeviceKind::Blk;
  return DeviceKind::Unknown;
}

// Net-only protocol features: the registry names the bits gating SEND_RARP and NET_SET_MTU.
bool offers_net_only_features(uint64_t offered) {
  for (FrontendRequest r : {FrontendRequest::SEND_RARP, FrontendRequest::NET_SET_MTU})
    if (const auto& gate = request_info(r).gate; gate && has_feature(offered, *gate)) return true;
  return false;
}

}  // namespace

DeviceInference::DeviceInference(DeviceKind user)
    : kind_(user), from_user_(user != DeviceKind::Unknown) {}

void DeviceInference::reset() {
  if (!from_user_) kind_ = DeviceKind::Unknown;
}

bool DeviceInference::decide(DeviceKind kind) {
  if (kind == DeviceKind::Unknown || kind_ != DeviceKind::Unknown) return false;
  kind_ = kind;
  return true;
}

bool DeviceInference::on_request(const DecodedMessage& request) {
  if (request.is_reply) return false;
  if (is_request(request.info, FrontendRequest::SEND_RARP) ||
      is_request(request.info, FrontendRequest::NET_SET_MTU))
    return decide(DeviceKind::Net);
  return false;
}

bool DeviceInference::on_reply(const DecodedMessage& reply) {
  if (!reply.is_reply) return false;
  if (is_request(reply.info, FrontendRequest::GET_CONFIG)) {
    if (const auto* c = std::get_if<ConfigValue>(&reply.payload))
      return decide(kind_from_config(*c));
  } else if (is_request(reply.info, FrontendRequest::GET_PROTOCOL_FEATURES)) {
    if (const auto* u = std::get_if<U64Value>(&reply.payload);
        u && offers_net_only_features(u->value))
      return decide(DeviceKind::Net);
  }
  return false;
}

}  // namespace vhs
