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
inline constexpr unsigned kFeatureAnyLayout = 27;
inline constexpr unsigned kFeatureIndirectDesc = 28;
inline constexpr unsigned kFeatureInOrder = 35;  // VIRTIO_F_IN_ORDER: used entries may be batched
constexpr uint64_t feature_bit(unsigned bit) { return uint64_t{1} << bit; }

// Device feature bits that code acts on (VIRTIO "Block Device" / "Network Device", "Feature
// bits"); the name tables in features.cpp use the same constants.
namespace blk_feature {
inline constexpr unsigned kSizeMax = 1, kSegMax = 2, kGeometry = 4, kRo = 5, kBlkSize = 6,
                          kFlush = 9, kTopology = 10, kConfigWce = 11, kMq = 12, kDiscard = 13,
                          kWriteZeroes = 14;
}  // namespace blk_feature
namespace net_feature {
inline constexpr unsigned kMtu = 3, kMac = 5, kGuestTso4 = 7, kGuestTso6 = 8, kGuestUfo = 10,
                          kMrgRxbuf = 15, kStatus = 16, kMq = 22;
}  // namespace net_feature

// VIRTIO "Device Status Field": the bits of SET_STATUS / GET_STATUS (spec "Front-end message
// types"), as bit indices like the feature bits above.
inline constexpr unsigned kStatusAcknowledge = 0;
inline constexpr unsigned kStatusDriver = 1;
inline constexpr unsigned kStatusDriverOk = 2;
inline constexpr unsigned kStatusFeaturesOk = 3;
inline constexpr unsigned kStatusNeedsReset = 6;
inline constexpr unsigned kStatusFailed = 7;
constexpr uint64_t status_bit(unsigned bit) { return uint64_t{1} << bit; }

// SET_VRING_ADDR flags: the ring's used writes are logged (spec "Migration", VHOST_VRING_F_LOG).
inline constexpr uint32_t kVringAddrFlagLog = 1;
inline constexpr unsigned kFeatureAccessPlatform = 33;

// vhost-user protocol feature bits (spec "Protocol features"), every bit the spec names:
// NAME, bit. Expanded into the ProtocolFeature enum here and the bit-name table in features.cpp.
// clang-format off
#define VHS_PROTOCOL_FEATURES(X) \
  X(MQ, 0) \
  X(LOG_SHMFD, 1) \
  X(RARP, 2) \
  X(REPLY_ACK, 3) \
  X(NET_MTU, 4) \
  X(BACKEND_REQ, 5) \
  X(CROSS_ENDIAN, 6) \
  X(CRYPTO_SESSION, 7) \
  X(PAGEFAULT, 8) \
  X(CONFIG, 9) \
  X(BACKEND_SEND_FD, 10) \
  X(HOST_NOTIFIER, 11) \
  X(INFLIGHT_SHMFD, 12) \
  X(RESET_DEVICE, 13) \
  X(INBAND_NOTIFICATIONS, 14) \
  X(CONFIGURE_MEM_SLOTS, 15) \
  X(STATUS, 16) \
  X(XEN_MMAP, 17) \
  X(SHARED_OBJECT, 18) \
  X(DEVICE_STATE, 19) \
  X(SHMEM, 20)
// clang-format on

enum class ProtocolFeature : uint8_t {
#define VHS_ENUMERATOR(NAME, bit) NAME = bit,
  VHS_PROTOCOL_FEATURES(VHS_ENUMERATOR)
#undef VHS_ENUMERATOR
};

constexpr uint64_t feature_mask(ProtocolFeature f) {
  return uint64_t{1} << static_cast<unsigned>(f);
}
constexpr bool has_feature(uint64_t protocol_features, ProtocolFeature f) {
  return (protocol_features & feature_mask(f)) != 0;
}
std::string_view protocol_feature_name(ProtocolFeature f);

}  // namespace vhs
