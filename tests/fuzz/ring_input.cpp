#include "tests/fuzz/ring_input.hpp"

#include <algorithm>

namespace vhs::fuzz {

namespace {

// Little-endian reads that run out gracefully: past the end every value is zero.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t read(size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) {
      const uint64_t byte = pos_ < bytes_.size() ? bytes_[pos_] : 0;
      v |= byte << (8 * i);
      ++pos_;
    }
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(read(1)); }
  uint32_t u32() { return static_cast<uint32_t>(read(4)); }
  uint64_t u64() { return read(8); }
  std::span<const uint8_t> rest() const {
    return pos_ < bytes_.size() ? bytes_.subspan(pos_) : std::span<const uint8_t>{};
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

void put(std::vector<uint8_t>& out, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

RingInput parse_ring_input(std::span<const uint8_t> bytes) {
  Cursor c(bytes);
  RingInput in;
  const uint8_t flags = c.u8();
  in.packed = (flags & 0x1) != 0;
  in.event_idx = (flags & 0x2) != 0;
  in.access_platform = (flags & 0x4) != 0;
  const bool has_base = (flags & 0x8) != 0;
  const size_t nregions = 1 + ((flags >> 4) & 0x3);
  in.queue = c.u8();
  in.num = c.u32();
  const uint32_t base = c.u32();
  if (has_base) in.vring_base = base;
  in.addr.index = in.queue;
  in.addr.desc_user_addr = c.u64();
  in.addr.avail_user_addr = c.u64();
  in.addr.used_user_addr = c.u64();
  for (size_t i = 0; i < nregions; ++i) {
    RingInputRegion r;
    r.region.guest_phys_addr = c.u64();
    r.region.memory_size = c.u64();
    r.region.userspace_addr = c.u64();
    r.backing_offset = c.u32();
    r.backing_length = c.u32();
    in.regions.push_back(r);
  }
  in.guest = c.rest();
  return in;
}

std::vector<uint8_t> encode_ring_input(const RingInput& input, std::span<const uint8_t> guest) {
  std::vector<uint8_t> out;
  const size_t nregions = std::clamp<size_t>(input.regions.size(), 1, kRingInputMaxRegions);
  const uint64_t flags = (input.packed ? 0x1u : 0u) | (input.event_idx ? 0x2u : 0u) |
                         (input.access_platform ? 0x4u : 0u) | (input.vring_base ? 0x8u : 0u) |
                         ((nregions - 1) << 4);
  put(out, flags, 1);
  put(out, input.queue, 1);
  put(out, input.num, 4);
  put(out, input.vring_base.value_or(0), 4);
  put(out, input.addr.desc_user_addr, 8);
  put(out, input.addr.avail_user_addr, 8);
  put(out, input.addr.used_user_addr, 8);
  for (size_t i = 0; i < nregions; ++i) {
    const RingInputRegion r = i < input.regions.size() ? input.regions[i] : RingInputRegion{};
    put(out, r.region.guest_phys_addr, 8);
    put(out, r.region.memory_size, 8);
    put(out, r.region.userspace_addr, 8);
    put(out, r.backing_offset, 4);
    put(out, r.backing_length, 4);
  }
  out.insert(out.end(), guest.begin(), guest.end());
  return out;
}

std::vector<std::span<const uint8_t>> region_backing(const RingInput& input) {
  std::vector<std::span<const uint8_t>> backing;
  for (const RingInputRegion& r : input.regions) {
    const size_t offset = std::min<size_t>(r.backing_offset, input.guest.size());
    const size_t length = std::min<size_t>(r.backing_length, input.guest.size() - offset);
    backing.push_back(input.guest.subspan(offset, length));
  }
  return backing;
}

}  // namespace vhs::fuzz
