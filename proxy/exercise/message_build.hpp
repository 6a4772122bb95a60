// Builds the front-end's vhost-user messages (spec "Message Specification") from the one payload
// layout table (payload_layout.hpp): every field is written through its slot, so the exercise
// engine has no offsets of its own.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs::exercise {

using Bytes = std::vector<uint8_t>;

// Header (version 1, NEED_REPLY when asked) + payload.
Bytes build_request(FrontendRequest request, std::span<const uint8_t> payload,
                    bool need_reply = false);
// A reply (version 1, REPLY flag set) to `request`, on either channel: an ack is
// build_reply(request, encode_u64(0)).
Bytes build_reply(uint32_t request, std::span<const uint8_t> payload);

Bytes encode_u64(uint64_t value);
Bytes encode_vring_state(uint32_t index, uint32_t num);
Bytes encode_vring_addr(const VringAddrValue& addr);
Bytes encode_vring_index_fd(uint8_t index, bool nofd);
Bytes encode_mem_table(std::span<const MemRegionValue> regions);
Bytes encode_single_region(const MemRegionValue& region);
Bytes encode_log(uint64_t mmap_size, uint64_t mmap_offset);
// GET/SET_INFLIGHT_FD: 24 bytes, the tail padding included (spec "Inflight description").
Bytes encode_inflight(const InflightValue& inflight);
Bytes encode_config(uint32_t offset, uint32_t size, uint32_t flags,
                    std::span<const uint8_t> data = {});

}  // namespace vhs::exercise
