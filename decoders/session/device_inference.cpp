// DeviceInference: recognising the device kind from weighted evidence (see device_inference.hpp).
#include "decoders/session/device_inference.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "decoders/vhost_user/registry.hpp"

namespace vhs {
namespace {

// Weights. A kind is decided at DeviceInference::kDecideWeight (4) with a lead of kDecideLead (2).
//
// The device's configuration space (VIRTIO spec "File System Device" / "Block Device", "Device
// configuration layout"): a 36-byte printable tag and a queue count is nothing but virtio-fs; a
// virtio_blk_config whose blk_size is a block size is blk; 24 bytes or more is only the size of
// one.
constexpr int kFsConfigWeight = 10;
constexpr int kBlkConfigWeight = 8;
constexpr int kBlkConfigSizeWeight = 5;
// vhost-user spec "Front-end message types": only a virtio-net front-end sends SEND_RARP and
// NET_SET_MTU; spec "Protocol features": RARP and NET_MTU gate them.
constexpr int kNetRequestWeight = 8;
constexpr int kNetProtocolWeight = 6;
// VIRTIO spec "Feature Bits" (device-specific bits 0 to 23 and 50 and up) and each device's
// "Feature bits": the kind the whole word fits alone, one of several, one typical bit only; a bit
// the kind does not define, or net's "Feature bit requirements" broken, speaks against it.
// virtio-fs defines only NOTIFICATION, which virtiofsd does not offer: no device bits hint at fs.
constexpr int kFeatureWordWeight = 5;
constexpr int kFeatureSharedWeight = 2;
constexpr int kFeatureWeakWeight = 1;
constexpr int kFeatureContradiction = -2;
constexpr int kNoDeviceBitsWeight = 1;
// The earlier session on the same front-end socket: decides alone, own evidence may overrule it.
constexpr int kInheritedWeight = 5;
// A request on a ring whose header and readable/writable split fit one kind only (VIRTIO spec
// "Block Device" / "File System Device" / "Network Device", "Device Operation"); without header
// bytes (older ring states) only the split, which never decides alone.
constexpr int kRequestWeight = 3;
constexpr int kRequestCap = 6;
constexpr int kShapeWeight = 1;
constexpr int kShapeCap = 2;

constexpr std::array kKinds = {DeviceKind::Net, DeviceKind::Blk, DeviceKind::Fs};

std::string_view kind_label(DeviceKind k) {
  switch (k) {
    case DeviceKind::Net: return "virtio-net";
    case DeviceKind::Blk: return "virtio-blk";
    case DeviceKind::Fs: return "virtio-fs";
    default: return device_kind_name(k);
  }
}

// virtio-fs config (VIRTIO spec "File System Device", "Device configuration layout"): a
// NUL-padded printable tag of 36 bytes, then num_request_queues.
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

std::vector<DeviceEvidence> config_evidence(const ConfigValue& config) {
  const auto& d = config.data;
  if (looks_like_fs_config(d))
    return {{EvidenceSource::Config, DeviceKind::Fs, kFsConfigWeight,
             "from the virtio-fs tag in its GET_CONFIG reply"}};
  // virtio_blk_config (VIRTIO spec "Block Device", "Device configuration layout"): capacity,
  // size_max, seg_max, geometry, then blk_size at offset 20, a power of two of 512 or more.
  // Net back-ends do not serve GET_CONFIG through vhost-user in QEMU.
  if (d.size() < 24) return {};
  const uint32_t blk_size =
      uint32_t{d[20]} | uint32_t{d[21]} << 8 | uint32_t{d[22]} << 16 | uint32_t{d[23]} << 24;
  const bool block_size =
      blk_size >= 512 && blk_size <= (1u << 16) && (blk_size & (blk_size - 1)) == 0;
  return {{EvidenceSource::Config, DeviceKind::Blk,
           block_size ? kBlkConfigWeight : kBlkConfigSizeWeight,
           block_size ? "from the virtio_blk_config in its GET_CONFIG reply"
                      : fmt::format("from its GET_CONFIG reply of {} bytes", d.size())}};
}

// Net-only protocol features: the registry names the bits gating SEND_RARP and NET_SET_MTU.
bool offers_net_only_features(uint64_t offered) {
  for (FrontendRequest r : {FrontendRequest::SEND_RARP, FrontendRequest::NET_SET_MTU})
    if (const auto& gate = request_info(r).gate; gate && has_feature(offered, *gate)) return true;
  return false;
}

// Device-specific feature bits: 0 to 23 and 50 and up (VIRTIO spec "Feature Bits").
constexpr uint64_t kDeviceBitsMask = 0xffffffull | (~0ull << 50);

bool bit(uint64_t word, unsigned b) { return ((word >> b) & 1u) != 0; }

// VIRTIO spec "Network Device", "Feature bit requirements": some net bits require others.
bool net_requirements_hold(uint64_t w) {
  enum : unsigned {
    CSUM = 0,
    GUEST_CSUM = 1,
    CTRL_GUEST_OFFLOADS = 2,
    GUEST_TSO4 = 7,
    GUEST_TSO6 = 8,
    GUEST_ECN = 9,
    GUEST_UFO = 10,
    HOST_TSO4 = 11,
    HOST_TSO6 = 12,
    HOST_ECN = 13,
    HOST_UFO = 14,
    CTRL_VQ = 17,
    CTRL_RX = 18,
    CTRL_VLAN = 19,
    CTRL_RX_EXTRA = 20,
    GUEST_ANNOUNCE = 21,
    MQ = 22,
    CTRL_MAC_ADDR = 23
  };
  for (unsigned b : {GUEST_TSO4, GUEST_TSO6, GUEST_UFO})
    if (bit(w, b) && !bit(w, GUEST_CSUM)) return false;
  for (unsigned b : {HOST_TSO4, HOST_TSO6, HOST_UFO})
    if (bit(w, b) && !bit(w, CSUM)) return false;
  if (bit(w, GUEST_ECN) && !bit(w, GUEST_TSO4) && !bit(w, GUEST_TSO6)) return false;
  if (bit(w, HOST_ECN) && !bit(w, HOST_TSO4) && !bit(w, HOST_TSO6)) return false;
  for (unsigned b : {CTRL_GUEST_OFFLOADS, CTRL_RX, CTRL_VLAN, GUEST_ANNOUNCE, MQ, CTRL_MAC_ADDR})
    if (bit(w, b) && !bit(w, CTRL_VQ)) return false;
  if (bit(w, CTRL_RX_EXTRA) && !bit(w, CTRL_RX)) return false;
  return true;
}

// Bits typical of a kind: what its back-ends offer. Several are shared with the other kind's
// bits of the same number (net MAC is blk RO), so they count only where the word fits the kind.
constexpr uint64_t kNetTypical = (1ull << 0) | (1ull << 3) | (1ull << 5) | (1ull << 7) |
                                 (1ull << 8) | (1ull << 15) | (1ull << 16) | (1ull << 17) |
                                 (0x3full << 18);
constexpr uint64_t kBlkTypical = (1ull << 1) | (1ull << 2) | (1ull << 4) | (1ull << 6) |
                                 (1ull << 9) | (1ull << 10) | (1ull << 11) | (1ull << 12) |
                                 (1ull << 13) | (1ull << 14);

int popcount(uint64_t v) { return __builtin_popcountll(v); }

// The whole device-bit word against each kind: a bit the kind does not define, or a net word that
// breaks net's requirements, rules the kind out; typical bits count for it where it fits. One
// typical bit never decides.
std::vector<DeviceEvidence> feature_evidence(uint64_t word, const char* what) {
  const uint64_t device_bits = word & kDeviceBitsMask;
  std::vector<DeviceEvidence> out;
  if (device_bits == 0) {
    out.push_back({EvidenceSource::FeatureBits, DeviceKind::Fs, kNoDeviceBitsWeight,
                   fmt::format("from its {}: no device feature bits", what)});
    return out;
  }
  struct Fit {
    DeviceKind kind;
    bool fits;
    int typical;
  };
  std::vector<Fit> fits;
  for (DeviceKind k : kKinds) {
    bool defined = true;
    for (unsigned b = 0; b < 64 && defined; ++b)
      if (bit(device_bits, b) && feature_name(k, b).empty()) defined = false;
    const bool fits_kind = defined && (k != DeviceKind::Net || net_requirements_hold(word));
    const uint64_t typical = k == DeviceKind::Net   ? kNetTypical
                             : k == DeviceKind::Blk ? kBlkTypical
                                                    : 0;
    fits.push_back({k, fits_kind, popcount(device_bits & typical)});
  }
  const auto strong = std::count_if(fits.begin(), fits.end(),
                                    [](const Fit& f) { return f.fits && f.typical >= 2; });
  for (const Fit& f : fits) {
    std::string names;
    for (unsigned b = 0; b < 64; ++b)
      if (bit(device_bits, b) && !feature_name(f.kind, b).empty())
        names += (names.empty() ? "" : ", ") + std::string(feature_name(f.kind, b));
    if (!f.fits) {
      out.push_back({EvidenceSource::FeatureBits, f.kind, kFeatureContradiction,
                     fmt::format("its {} do not fit {}", what, kind_label(f.kind))});
    } else if (f.typical >= 2) {
      out.push_back({EvidenceSource::FeatureBits, f.kind,
                     strong == 1 ? kFeatureWordWeight : kFeatureSharedWeight,
                     fmt::format("from its {} {}", what, names)});
    } else if (f.typical == 1) {
      out.push_back({EvidenceSource::FeatureBits, f.kind, kFeatureWeakWeight,
                     fmt::format("from its {} {}", what, names)});
    }
  }
  return out;
}

std::string request_kind_text(DeviceKind k) {
  switch (k) {
    case DeviceKind::Net: return "virtio-net transmit headers";
    case DeviceKind::Blk: return "virtio-blk requests";
    case DeviceKind::Fs: return "FUSE requests";
    default: return "requests";
  }
}

}  // namespace

DeviceInference::DeviceInference(DeviceKind user)
    : kind_(user), from_user_(user != DeviceKind::Unknown) {}

void DeviceInference::reset() {
  evidence_.clear();
  recognised_queues_.clear();
  features_offered_ = false;
  reason_.clear();
  if (!from_user_) kind_ = DeviceKind::Unknown;
}

bool DeviceInference::replace(EvidenceSource source, std::vector<DeviceEvidence> items) {
  std::erase_if(evidence_, [source](const DeviceEvidence& e) { return e.source == source; });
  for (auto& e : items) evidence_.push_back(std::move(e));
  return decide();
}

void DeviceInference::accumulate(EvidenceSource source, DeviceKind kind, int weight, int cap,
                                 const std::string& reason) {
  auto it = std::find_if(evidence_.begin(), evidence_.end(), [&](const DeviceEvidence& e) {
    return e.source == source && e.kind == kind;
  });
  if (it == evidence_.end()) {
    evidence_.push_back({source, kind, std::min(weight, cap), reason});
    return;
  }
  it->weight = std::min(it->weight + weight, cap);
  it->reason = reason;
}

bool DeviceInference::decide() {
  if (from_user_) return false;
  std::array<int, kKinds.size()> total{};
  for (const DeviceEvidence& e : evidence_)
    for (size_t k = 0; k < kKinds.size(); ++k)
      if (kKinds[k] == e.kind) total[k] += e.weight;
  size_t best = 0;
  for (size_t k = 1; k < kKinds.size(); ++k)
    if (total[k] > total[best]) best = k;
  int runner_up = INT32_MIN;
  for (size_t k = 0; k < kKinds.size(); ++k)
    if (k != best) runner_up = std::max(runner_up, total[k]);
  const bool decided = total[best] >= kDecideWeight && total[best] - runner_up >= kDecideLead;
  const DeviceKind before = kind_;
  kind_ = decided ? kKinds[best] : DeviceKind::Unknown;
  reason_.clear();
  auto strongest_reason = [&](DeviceKind kind) {
    const DeviceEvidence* strongest = nullptr;
    for (const DeviceEvidence& e : evidence_)
      if (e.kind == kind && e.weight > 0 && (!strongest || e.weight > strongest->weight))
        strongest = &e;
    return strongest ? strongest->reason : std::string();
  };
  if (decided) {
    reason_ = strongest_reason(kind_);
  } else if (total[best] >= kDecideWeight) {
    // Strong evidence, but for more than one kind: say which.
    for (size_t k = 0; k < kKinds.size(); ++k)
      if (total[best] - total[k] < kDecideLead)
        reason_ += fmt::format("{}{} ({})", reason_.empty() ? "evidence disagrees: " : " vs ",
                               kind_label(kKinds[k]), strongest_reason(kKinds[k]));
  }
  return kind_ != before;
}

bool DeviceInference::on_request(const DecodedMessage& request) {
  if (request.is_reply || !request.info) return false;
  if (is_request(request.info, FrontendRequest::SEND_RARP) ||
      is_request(request.info, FrontendRequest::NET_SET_MTU))
    return replace(EvidenceSource::NetRequest,
                   {{EvidenceSource::NetRequest, DeviceKind::Net, kNetRequestWeight,
                     fmt::format("from its {} request", request.info->name)}});
  // The acked word is a subset of the offer: it speaks only when the offer was not seen.
  if (is_request(request.info, FrontendRequest::SET_FEATURES) && !features_offered_)
    if (const auto* u = std::get_if<U64Value>(&request.payload))
      return replace(EvidenceSource::FeatureBits, feature_evidence(u->value, "acked features"));
  return false;
}

bool DeviceInference::on_reply(const DecodedMessage& reply) {
  if (!reply.is_reply) return false;
  if (is_request(reply.info, FrontendRequest::GET_CONFIG)) {
    if (const auto* c = std::get_if<ConfigValue>(&reply.payload))
      return replace(EvidenceSource::Config, config_evidence(*c));
  } else if (is_request(reply.info, FrontendRequest::GET_PROTOCOL_FEATURES)) {
    if (const auto* u = std::get_if<U64Value>(&reply.payload)) {
      std::vector<DeviceEvidence> items;
      if (offers_net_only_features(u->value))
        items.push_back({EvidenceSource::ProtocolFeatures, DeviceKind::Net, kNetProtocolWeight,
                         "from the RARP / NET_MTU protocol features it offers"});
      return replace(EvidenceSource::ProtocolFeatures, std::move(items));
    }
  } else if (is_request(reply.info, FrontendRequest::GET_FEATURES)) {
    if (const auto* u = std::get_if<U64Value>(&reply.payload)) {
      features_offered_ = true;
      return replace(EvidenceSource::FeatureBits, feature_evidence(u->value, "feature bits"));
    }
  }
  return false;
}

bool DeviceInference::on_ring_state(const RingSnapshot& snapshot, uint64_t features) {
  if (from_user_) return false;
  bool any = false;
  auto recognised = [&](DeviceKind kind, EvidenceSource source) {
    const bool requests = source == EvidenceSource::RingRequests;
    const int weight = requests ? kRequestWeight : kShapeWeight;
    const int cap = requests ? kRequestCap : kShapeCap;
    auto& seen = recognised_queues_;
    const RecognisedQueue key{source, kind, snapshot.queue};
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      // A queue already named: only the weight can still grow.
      const auto it = std::find_if(evidence_.begin(), evidence_.end(), [&](const auto& e) {
        return e.source == source && e.kind == kind;
      });
      if (it != evidence_.end() && it->weight >= cap) return;
    } else {
      seen.push_back(key);
    }
    std::vector<uint32_t> queues;
    for (const RecognisedQueue& r : seen)
      if (r.source == source && r.kind == kind) queues.push_back(r.queue);
    std::sort(queues.begin(), queues.end());
    std::string list;
    for (size_t i = 0; i < queues.size(); ++i)
      list += fmt::format("{}{}", i == 0 ? "" : i + 1 == queues.size() ? " and " : ", ", queues[i]);
    const std::string what = requests ? request_kind_text(kind)
                                      : fmt::format("the shape of {}", request_kind_text(kind));
    accumulate(source, kind, weight, cap,
               fmt::format("from {} on queue{} {}", what, queues.size() == 1 ? "" : "s", list));
    any = true;
  };
  if (!snapshot.chain_heads.empty()) {
    // The raw request headers: read as each kind, the one kind they fit.
    for (const ChainHead& h : snapshot.chain_heads)
      if (DeviceKind k = recognise_chain_head(h, snapshot.queue, features);
          k != DeviceKind::Unknown)
        recognised(k, EvidenceSource::RingRequests);
  } else if (snapshot.oldest) {
    // An older record: only the oldest buffer, read as the recorder's device (checked again
    // here), or only its shape.
    const BufferSummary& b = *snapshot.oldest;
    if (b.detail_ok && plausible_request(b, snapshot.queue))
      recognised(b.device, EvidenceSource::RingRequests);
    else if (DeviceKind k = request_shape_kind(b); k != DeviceKind::Unknown)
      recognised(k, EvidenceSource::RingShapes);
  }
  return any && decide();
}

bool DeviceInference::inherit(DeviceKind kind, std::string reason) {
  if (kind == DeviceKind::Unknown) return false;
  return replace(EvidenceSource::EarlierSession,
                 {{EvidenceSource::EarlierSession, kind, kInheritedWeight, std::move(reason)}});
}

}  // namespace vhs
