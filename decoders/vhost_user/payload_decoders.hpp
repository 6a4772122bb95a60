// Payload bytes -> typed Payload for each PayloadKind, with the checks that depend only on the
// payload's own fields (request-specific checks live in message.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs {

struct PayloadDecodeOptions {
  bool xen_mmap = false;         // memory regions are 40 bytes
  bool keep_config_data = true;  // false: GET_CONFIG request, whose data bytes mean nothing
};

// `present` holds the payload bytes that actually arrived (may be fewer than `declared_size`
// when truncated); fields that do not fit decode as zero. Checks use `declared_size` so a
// truncated message is not also reported as inconsistent. Appends InvalidField findings.
Payload decode_payload(PayloadKind kind, std::span<const uint8_t> present, uint32_t declared_size,
                       const PayloadDecodeOptions& options, std::vector<Finding>& findings);

}  // namespace vhs
