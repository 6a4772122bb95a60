// Feature-bit tables: virtio common bits, vhost-user protocol bits, and device-specific bits
// (blk, net, fs, ...). The only place bit names live.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vhs {

// Virtio device id (virtio spec 5.x). vhost-user never carries it: the user says it, or the
// session analyser infers it (config size, feature bits).
enum class DeviceKind : uint8_t {
  Unknown = 0,
  Net = 1,
  Blk = 2,
  Fs = 26,
  Vsock = 19,
  Gpu = 16,
  Scsi = 8
};

std::string_view device_kind_name(DeviceKind d);
DeviceKind device_kind_from_name(
    std::string_view name);  // "blk", "net", "fs", ...; Unknown if none

// Name of a GET/SET_FEATURES bit for the given device; "" when the bit has no known name.
std::string_view feature_name(DeviceKind device, unsigned bit);
// Name of a protocol feature bit; "" when unknown.
std::string_view protocol_feature_name(unsigned bit);

// "VERSION_1|RING_EVENT_IDX|bit45" style rendering of a whole word.
std::string describe_features(uint64_t bits, DeviceKind device);
std::string describe_protocol_features(uint64_t bits);

// Names for other small enumerations.
std::string describe_status(uint8_t status);  // "ACKNOWLEDGE|DRIVER|DRIVER_OK"

inline constexpr unsigned kFeatureProtocolFeatures = 30;  // VHOST_USER_F_PROTOCOL_FEATURES
inline constexpr unsigned kFeatureLogAll = 26;
inline constexpr unsigned kFeatureVersion1 = 32;
inline constexpr unsigned kFeatureRingPacked = 34;
inline constexpr unsigned kFeatureEventIdx = 29;
inline constexpr unsigned kFeatureAccessPlatform = 33;

// Protocol feature bits the analyser needs by name.
enum ProtocolFeature : unsigned {
  kProtoMq = 0,
  kProtoLogShmfd = 1,
  kProtoReplyAck = 3,
  kProtoBackendReq = 5,
  kProtoConfig = 9,
  kProtoBackendSendFd = 10,
  kProtoInflightShmfd = 12,
  kProtoConfigureMemSlots = 15,
  kProtoStatus = 16,
  kProtoXenMmap = 17,
};

}  // namespace vhs
