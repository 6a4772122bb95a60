#include "proxy/exercise/message_build.hpp"

#include <cstring>

#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs::exercise {
namespace {

// Writes `value` into the slot's bytes at `base + slot.offset` (host-native, as the spec says
// for every vhost-user field). The buffer is grown when the slot lies past its end.
void write_slot(Bytes& out, const PayloadSlot& slot, uint64_t value, size_t base = 0) {
  const size_t at = base + slot.offset;
  if (out.size() < at + slot.size) out.resize(at + slot.size);
  switch (slot.size) {
    case 1: out[at] = static_cast<uint8_t>(value); break;
    case 2: {
      const auto v = static_cast<uint16_t>(value);
      std::memcpy(out.data() + at, &v, 2);
      break;
    }
    case 4: {
      const auto v = static_cast<uint32_t>(value);
      std::memcpy(out.data() + at, &v, 4);
      break;
    }
    case 8: std::memcpy(out.data() + at, &value, 8); break;
    default: break;  // padding: left zero
  }
}

void write_region(Bytes& out, const MemRegionValue& r, size_t base) {
  write_slot(out, layout::kRegionGpa, r.guest_phys_addr, base);
  write_slot(out, layout::kRegionSize, r.memory_size, base);
  write_slot(out, layout::kRegionUva, r.userspace_addr, base);
  write_slot(out, layout::kRegionMmapOffset, r.mmap_offset, base);
}

Bytes with_header(uint32_t request, uint32_t flags, std::span<const uint8_t> payload) {
  Bytes out;
  write_slot(out, layout::kHeaderRequest, request);
  write_slot(out, layout::kHeaderFlags, flags);
  write_slot(out, layout::kHeaderSizeField, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

}  // namespace

Bytes build_request(FrontendRequest request, std::span<const uint8_t> payload, bool need_reply) {
  return with_header(static_cast<uint32_t>(request),
                     kProtocolVersion | (need_reply ? kFlagNeedReply : 0), payload);
}

Bytes build_reply(uint32_t request, std::span<const uint8_t> payload) {
  return with_header(request, kProtocolVersion | kFlagReply, payload);
}

Bytes encode_u64(uint64_t value) {
  Bytes out;
  write_slot(out, layout::kU64, value);
  return out;
}

Bytes encode_vring_state(uint32_t index, uint32_t num) {
  Bytes out;
  write_slot(out, layout::kVringStateIndex, index);
  write_slot(out, layout::kVringStateNum, num);
  return out;
}

Bytes encode_vring_addr(const VringAddrValue& a) {
  Bytes out;
  write_slot(out, layout::kVringAddrIndex, a.index);
  write_slot(out, layout::kVringAddrFlags, a.flags);
  write_slot(out, layout::kVringAddrDesc, a.desc_user_addr);
  write_slot(out, layout::kVringAddrUsed, a.used_user_addr);
  write_slot(out, layout::kVringAddrAvail, a.avail_user_addr);
  write_slot(out, layout::kVringAddrLog, a.log_guest_addr);
  return out;
}

Bytes encode_vring_index_fd(uint8_t index, bool nofd) {
  Bytes out;
  write_slot(out, layout::kVringIndexFd, uint64_t{index} | (nofd ? kVringNoFdFlag : 0));
  return out;
}

Bytes encode_mem_table(std::span<const MemRegionValue> regions) {
  Bytes out;
  write_slot(out, layout::kMemNregions, regions.size());
  write_slot(out, layout::kMemPadding, 0);
  for (size_t i = 0; i < regions.size(); ++i)
    write_region(out, regions[i], kMemTableHeaderSize + i * kMemRegionSize);
  return out;
}

Bytes encode_single_region(const MemRegionValue& region) {
  Bytes out;
  write_slot(out, layout::kSingleRegionPadding, 0);
  write_region(out, region, slots_size(layout::kSingleRegion));
  return out;
}

Bytes encode_log(uint64_t mmap_size, uint64_t mmap_offset) {
  Bytes out;
  write_slot(out, layout::kLogMmapSize, mmap_size);
  write_slot(out, layout::kLogMmapOffset, mmap_offset);
  return out;
}

Bytes encode_inflight(const InflightValue& inflight) {
  Bytes out;
  write_slot(out, layout::kInflightMmapSize, inflight.mmap_size);
  write_slot(out, layout::kInflightMmapOffset, inflight.mmap_offset);
  write_slot(out, layout::kInflightNumQueues, inflight.num_queues);
  write_slot(out, layout::kInflightQueueSize, inflight.queue_size);
  write_slot(out, layout::kInflightPadding, 0);
  return out;
}

Bytes encode_config(uint32_t offset, uint32_t size, uint32_t flags, std::span<const uint8_t> data) {
  Bytes out;
  write_slot(out, layout::kConfigOffset, offset);
  write_slot(out, layout::kConfigSize, size);
  write_slot(out, layout::kConfigFlags, flags);
  // GET_CONFIG carries `size` bytes of room for the answer (spec "Front-end message types").
  out.resize(kConfigHeaderSize + size, 0);
  // An empty span may have a null data(): memcpy must not see it, even for 0 bytes.
  const size_t n = std::min<size_t>(data.size(), size);
  if (n) std::memcpy(out.data() + kConfigHeaderSize, data.data(), n);
  return out;
}

}  // namespace vhs::exercise
