// Builds the feature matrices from the analyser's FeatureWord and the decoders' name tables.
#include "app/common/view_features.hpp"

#include <functional>
#include <string_view>

namespace vhs::view {
namespace {

FeatureMatrix build(const FeatureWord& word,
                    const std::function<std::string_view(unsigned)>& name_of) {
  FeatureMatrix m;
  m.offered_known = word.offered.has_value();
  m.acked_known = word.acked.has_value();
  for (unsigned bit = 0; bit < 64; ++bit) {
    FeatureBit r;
    r.bit = bit;
    std::string_view n = name_of(bit);
    r.named = !n.empty();
    r.offered = word.offered_has(bit);
    r.acked = word.acked_has(bit);
    if (!r.named && !r.offered && !r.acked) continue;
    r.name = r.named ? std::string(n) : "bit " + std::to_string(bit);
    if (r.acked && !r.offered && m.offered_known)
      r.state = BitState::AckedNotOffered;
    else if (r.acked)
      r.state = BitState::Negotiated;
    else if (r.offered)
      r.state = BitState::OfferedOnly;
    m.offered += r.offered;
    m.acked += r.acked;
    m.negotiated += r.offered && r.acked;
    m.mismatches += r.state == BitState::AckedNotOffered;
    m.rows.push_back(std::move(r));
  }
  return m;
}

}  // namespace

FeatureMatrix feature_matrix(const FeatureWord& word, DeviceKind device) {
  return build(word, [device](unsigned bit) { return feature_name(device, bit); });
}

FeatureMatrix protocol_feature_matrix(const FeatureWord& word) {
  return build(word, [](unsigned bit) { return protocol_feature_name(bit); });
}

}  // namespace vhs::view
