// Feature negotiation as a matrix: one row per bit that has a name or is set, with what the
// back-end offered, what the front-end acked, and whether the two disagree. (summary_format's
// feature_rows lists only the set bits; the GUI matrix also shows the named bits nobody set.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decoders/session/session.hpp"
#include "decoders/vhost_user/features.hpp"

namespace vhs::view {

enum class BitState : uint8_t {
  Neither,          // known bit, not offered, not acked
  OfferedOnly,      // offered, not acked (normal: the front-end declined it) -> dim
  Negotiated,       // offered and acked
  AckedNotOffered,  // acked without an offer: a protocol violation -> red
};

struct FeatureBit {
  unsigned bit = 0;
  std::string name;  // from the decoders' tables; "bit 45" when the table has none
  bool named = false;
  bool offered = false;
  bool acked = false;
  BitState state = BitState::Neither;
};

struct FeatureMatrix {
  std::vector<FeatureBit> rows;                                     // ascending bit order
  bool offered_known = false;                                       // a GET_* reply was seen
  bool acked_known = false;                                         // a SET_* was seen
  uint32_t offered = 0, acked = 0, negotiated = 0, mismatches = 0;  // counts of bits
};

// Virtio/vhost feature bits (GET/SET_FEATURES) named for `device`.
FeatureMatrix feature_matrix(const FeatureWord& word, DeviceKind device);
// vhost-user protocol feature bits (GET/SET_PROTOCOL_FEATURES).
FeatureMatrix protocol_feature_matrix(const FeatureWord& word);

}  // namespace vhs::view
