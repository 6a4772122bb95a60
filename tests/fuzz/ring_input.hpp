// The byte layout the ring fuzz target reads (and the seed generator writes): a memory table, the
// bytes backing it, a queue size, SET_VRING_ADDR's three addresses and the acked features, so
// every value the ring readers trust from the front-end or the guest comes from the fuzzer.
//
//   u8  flags        bit 0 RING_PACKED, bit 1 RING_EVENT_IDX, bit 2 ACCESS_PLATFORM,
//                    bit 3 a vring base is known, bits 4-5 regions - 1
//   u8  queue        queue index (net: even = rx, odd = tx)
//   u32 num          SET_VRING_NUM
//   u32 vring_base   SET_VRING_BASE / GET_VRING_BASE (used with flags bit 3)
//   u64 desc, avail, used   SET_VRING_ADDR user addresses
//   per region: u64 gpa, u64 size, u64 uva, u32 backing offset, u32 backing length
//   the rest: guest memory; region i is backed by [offset, offset + length) of it, clipped
// Missing bytes read as zero, so every input is a valid (if odd) description. Little endian.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/payloads.hpp"

namespace vhs::fuzz {

struct RingInputRegion {
  MemRegionValue region;
  uint32_t backing_offset = 0;
  uint32_t backing_length = 0;
};

struct RingInput {
  bool packed = false;
  bool event_idx = false;
  bool access_platform = false;
  uint8_t queue = 0;
  uint32_t num = 0;
  std::optional<uint32_t> vring_base;
  VringAddrValue addr;
  std::vector<RingInputRegion> regions;  // 1 to 4
  std::span<const uint8_t> guest;        // the bytes the regions' backing is cut from

  // The acked virtio features these flags stand for (VERSION_1 always: little-endian rings).
  uint64_t features() const {
    uint64_t f = uint64_t{1} << kFeatureVersion1;
    if (packed) f |= uint64_t{1} << kFeatureRingPacked;
    if (event_idx) f |= uint64_t{1} << kFeatureEventIdx;
    if (access_platform) f |= uint64_t{1} << kFeatureAccessPlatform;
    return f;
  }
};

inline constexpr size_t kRingInputMaxRegions = 4;

// Reads the layout above; never fails (short input reads as zeros, guest memory is then empty).
RingInput parse_ring_input(std::span<const uint8_t> bytes);

// The inverse, for seeds: header and regions, then `guest` appended.
std::vector<uint8_t> encode_ring_input(const RingInput& input, std::span<const uint8_t> guest);

// The host bytes backing each region (the proxy's read-only mmap in real life), clipped to `guest`.
std::vector<std::span<const uint8_t>> region_backing(const RingInput& input);

}  // namespace vhs::fuzz
