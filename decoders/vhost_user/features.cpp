// Feature-bit name tables (virtio common, vhost-user protocol, per-device) and their renderers.
// The only place bit names live; everything else asks these functions.
#include "decoders/vhost_user/features.hpp"

#include <array>
#include <cctype>
#include <span>

namespace vhs {
namespace {

struct BitName {
  unsigned bit;
  std::string_view name;
};

// Virtio transport / vhost bits shared by every device (virtio spec 6, vhost-user spec).
constexpr std::array kCommonBits = {
    BitName{24, "NOTIFY_ON_EMPTY"},
    BitName{kFeatureLogAll, "LOG_ALL"},
    BitName{kFeatureAnyLayout, "ANY_LAYOUT"},
    BitName{kFeatureIndirectDesc, "RING_INDIRECT_DESC"},
    BitName{kFeatureEventIdx, "RING_EVENT_IDX"},
    BitName{kFeatureProtocolFeatures, "PROTOCOL_FEATURES"},
    BitName{kFeatureVersion1, "VERSION_1"},
    BitName{kFeatureAccessPlatform, "ACCESS_PLATFORM"},
    BitName{kFeatureRingPacked, "RING_PACKED"},
    BitName{35, "IN_ORDER"},
    BitName{36, "ORDER_PLATFORM"},
    BitName{37, "SR_IOV"},
    BitName{38, "NOTIFICATION_DATA"},
    BitName{39, "NOTIF_CONFIG_DATA"},
    BitName{40, "RING_RESET"},
    BitName{41, "ADMIN_VQ"},
};

constexpr std::array kBlkBits = {
    BitName{0, "BARRIER"},
    BitName{blk_feature::kSizeMax, "SIZE_MAX"},
    BitName{blk_feature::kSegMax, "SEG_MAX"},
    BitName{blk_feature::kGeometry, "GEOMETRY"},
    BitName{blk_feature::kRo, "RO"},
    BitName{blk_feature::kBlkSize, "BLK_SIZE"},
    BitName{7, "SCSI"},
    BitName{blk_feature::kFlush, "FLUSH"},
    BitName{blk_feature::kTopology, "TOPOLOGY"},
    BitName{blk_feature::kConfigWce, "CONFIG_WCE"},
    BitName{blk_feature::kMq, "MQ"},
    BitName{blk_feature::kDiscard, "DISCARD"},
    BitName{blk_feature::kWriteZeroes, "WRITE_ZEROES"},
    BitName{15, "LIFETIME"},
    BitName{16, "SECURE_ERASE"},
    BitName{17, "ZONED"},
    BitName{18, "OUT_FUA"},
};

constexpr std::array kNetBits = {
    BitName{0, "CSUM"},
    BitName{1, "GUEST_CSUM"},
    BitName{2, "CTRL_GUEST_OFFLOADS"},
    BitName{net_feature::kMtu, "MTU"},
    BitName{net_feature::kMac, "MAC"},
    BitName{6, "GSO"},
    BitName{net_feature::kGuestTso4, "GUEST_TSO4"},
    BitName{net_feature::kGuestTso6, "GUEST_TSO6"},
    BitName{9, "GUEST_ECN"},
    BitName{net_feature::kGuestUfo, "GUEST_UFO"},
    BitName{11, "HOST_TSO4"},
    BitName{12, "HOST_TSO6"},
    BitName{13, "HOST_ECN"},
    BitName{14, "HOST_UFO"},
    BitName{net_feature::kMrgRxbuf, "MRG_RXBUF"},
    BitName{net_feature::kStatus, "STATUS"},
    BitName{17, "CTRL_VQ"},
    BitName{18, "CTRL_RX"},
    BitName{19, "CTRL_VLAN"},
    BitName{20, "CTRL_RX_EXTRA"},
    BitName{21, "GUEST_ANNOUNCE"},
    BitName{net_feature::kMq, "MQ"},
    BitName{23, "CTRL_MAC_ADDR"},
    BitName{50, "DEVICE_STATS"},
    BitName{52, "VQ_NOTF_COAL"},
    BitName{53, "NOTF_COAL"},
    BitName{54, "GUEST_USO4"},
    BitName{55, "GUEST_USO6"},
    BitName{56, "HOST_USO"},
    BitName{57, "HASH_REPORT"},
    BitName{59, "GUEST_HDRLEN"},
    BitName{60, "RSS"},
    BitName{61, "RSC_EXT"},
    BitName{62, "STANDBY"},
    BitName{63, "SPEED_DUPLEX"},
};

constexpr std::array kFsBits = {BitName{0, "NOTIFICATION"}};

constexpr std::array kVsockBits = {BitName{0, "STREAM"}, BitName{1, "SEQPACKET"},
                                   BitName{2, "NO_IMPLIED_STREAM"}};

constexpr std::array kGpuBits = {BitName{0, "VIRGL"}, BitName{1, "EDID"},
                                 BitName{2, "RESOURCE_UUID"}, BitName{3, "RESOURCE_BLOB"},
                                 BitName{4, "CONTEXT_INIT"}};

constexpr std::array kScsiBits = {BitName{0, "INOUT"}, BitName{1, "HOTPLUG"}, BitName{2, "CHANGE"},
                                  BitName{3, "T10_PI"}};

// vhost-user protocol features (spec "Protocol features"); spec names without the prefix.
constexpr std::array kProtocolBits = {
#define VHS_BIT_NAME(NAME, bit) BitName{bit, #NAME},
    VHS_PROTOCOL_FEATURES(VHS_BIT_NAME)
#undef VHS_BIT_NAME
};

// Virtio device status bits (VIRTIO "Device Status Field").
constexpr std::array kStatusBits = {
    BitName{kStatusAcknowledge, "ACKNOWLEDGE"}, BitName{kStatusDriver, "DRIVER"},
    BitName{kStatusDriverOk, "DRIVER_OK"},      BitName{kStatusFeaturesOk, "FEATURES_OK"},
    BitName{kStatusNeedsReset, "NEEDS_RESET"},  BitName{kStatusFailed, "FAILED"},
};

template <size_t N>
std::string_view lookup(const std::array<BitName, N>& table, unsigned bit) {
  for (const BitName& b : table)
    if (b.bit == bit) return b.name;
  return {};
}

std::span<const BitName> device_bits(DeviceKind device) {
  switch (device) {
    case DeviceKind::Blk: return kBlkBits;
    case DeviceKind::Net: return kNetBits;
    case DeviceKind::Fs: return kFsBits;
    case DeviceKind::Vsock: return kVsockBits;
    case DeviceKind::Gpu: return kGpuBits;
    case DeviceKind::Scsi: return kScsiBits;
    case DeviceKind::Unknown: break;
  }
  return {};
}

bool is_device_specific(unsigned bit) { return bit < 24 || (bit >= 50 && bit < 64); }

// "A|B|bit45": names from `name_of`, unnamed bits as "bitN"; "0" renders as "" (caller decides).
template <typename NameOf>
std::string render_bits(uint64_t bits, NameOf name_of) {
  std::string out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if ((bits & (uint64_t{1} << bit)) == 0) continue;
    if (!out.empty()) out += '|';
    std::string_view name = name_of(bit);
    if (name.empty()) {
      out += "bit";
      out += std::to_string(bit);
    } else {
      out += name;
    }
  }
  return out;
}

}  // namespace

std::string_view device_kind_name(DeviceKind d) {
  switch (d) {
    case DeviceKind::Unknown: return "unknown";
    case DeviceKind::Net: return "net";
    case DeviceKind::Blk: return "blk";
    case DeviceKind::Fs: return "fs";
    case DeviceKind::Vsock: return "vsock";
    case DeviceKind::Gpu: return "gpu";
    case DeviceKind::Scsi: return "scsi";
  }
  return "unknown";
}

DeviceKind device_kind_from_name(std::string_view name) {
  std::string lower;
  lower.reserve(name.size());
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (DeviceKind d : {DeviceKind::Net, DeviceKind::Blk, DeviceKind::Fs, DeviceKind::Vsock,
                       DeviceKind::Gpu, DeviceKind::Scsi}) {
    if (lower == device_kind_name(d)) return d;
  }
  // Common spellings from QEMU device names.
  if (lower == "block" || lower == "vhost-user-blk") return DeviceKind::Blk;
  if (lower == "virtiofs" || lower == "vhost-user-fs" || lower == "virtio-fs")
    return DeviceKind::Fs;
  if (lower == "vhost-user-net" || lower == "virtio-net") return DeviceKind::Net;
  return DeviceKind::Unknown;
}

std::string_view feature_name(DeviceKind device, unsigned bit) {
  if (bit >= 64) return {};
  if (is_device_specific(bit)) {
    for (const BitName& b : device_bits(device))
      if (b.bit == bit) return b.name;
    return {};
  }
  return lookup(kCommonBits, bit);
}

std::string_view protocol_feature_name(unsigned bit) { return lookup(kProtocolBits, bit); }
std::string_view protocol_feature_name(ProtocolFeature f) {
  return protocol_feature_name(static_cast<unsigned>(f));
}

std::string describe_features(uint64_t bits, DeviceKind device) {
  return render_bits(bits, [device](unsigned bit) { return feature_name(device, bit); });
}

std::string describe_protocol_features(uint64_t bits) {
  return render_bits(bits, [](unsigned bit) { return protocol_feature_name(bit); });
}

std::string describe_status(uint8_t status) {
  if (status == 0) return "RESET";
  return render_bits(status, [](unsigned bit) { return lookup(kStatusBits, bit); });
}

}  // namespace vhs
