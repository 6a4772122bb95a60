// The one description of every payload layout (spec "Message Specification", the payload types
// under "Message types" and "Memory regions description"): each fixed field of a payload kind as
// a slot with its field path, byte offset, size and how it is typed and rendered. The payload
// decoders read their typed structs through these slots, the field tree walks them, and the size
// rules are derived from them, so no payload offset is written anywhere else.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "decoders/vhost_user/byte_reader.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

// How a slot's bytes are typed (FieldValue) and rendered in the field tree.
enum class SlotStyle : uint8_t {
  Dec,               // unsigned, decimal
  Size,              // unsigned byte count, "4096 (4.0 KiB)"
  Address,           // u64 address or offset, hex
  HexFlags,          // bit word without bit names, hex
  Padding,           // bytes, shown as hex bytes
  PaddingWord,       // bytes, shown as one hex word ("0x0")
  Features,          // flags: virtio/vhost feature bits of the session's device
  ProtocolFeatures,  // flags: vhost-user protocol feature bits
  Status,            // flags: virtio device status byte
  IndexNofd,         // flags: bits 0-7 queue index, bit 8 NOFD (kVringIndexBits)
  StateResult,       // flags: bits 0-7 error, bit 8 no fd (kStateResultBits)
  VringAddrFlags,    // flags: bit 0 LOG
  Ack,               // unsigned, "0 (success)"
  Mac,               // bytes: the first 6 bytes of a u64
  Uuid,              // bytes: 16
  IotlbType,         // enums ...
  IotlbPerm,
  Direction,
  Phase,
  ConfigFlags,
};

// One fixed field of a payload. `name` is the field path (see field_paths.hpp); inside a repeated
// or nested part (a memory region) it is the name below that part's path.
struct PayloadSlot {
  std::string_view name;
  uint16_t offset;  // bytes from the start of the payload (or of the part)
  uint8_t size;
  SlotStyle style;

  constexpr uint32_t end() const { return uint32_t{offset} + size; }
};

// A bit range of a slot's word that the field tree shows as a child ("vring.index" of a kick).
struct BitSlot {
  std::string_view name;
  uint64_t mask;

  constexpr unsigned first_bit() const { return static_cast<unsigned>(std::countr_zero(mask)); }
  constexpr uint64_t extract(uint64_t word) const { return (word & mask) >> first_bit(); }
  constexpr bool is_flag() const { return std::popcount(mask) == 1; }
  // Bytes of the word that hold the range (little-endian word).
  constexpr uint32_t byte_offset() const { return first_bit() / 8; }
  constexpr uint32_t byte_length() const {
    return (63 - static_cast<unsigned>(std::countl_zero(mask))) / 8 - byte_offset() + 1;
  }
};

namespace layout {

// Message header (spec "Message Specification": request, flags, size). The field tree reads only
// their offsets and sizes (describe_fields types the request and flags itself).
inline constexpr PayloadSlot kHeaderRequest{"header.request", 0, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kHeaderFlags{"header.flags", 4, 4, SlotStyle::HexFlags};
inline constexpr PayloadSlot kHeaderSizeField{"header.size", 8, 4, SlotStyle::Dec};
inline constexpr BitSlot kHeaderFlagBits[] = {
    {"version", kFlagVersionMask}, {"reply", kFlagReply}, {"need_reply", kFlagNeedReply}};

// Payloads that are one u64.
inline constexpr PayloadSlot kU64{"u64", 0, 8, SlotStyle::Dec};
inline constexpr PayloadSlot kFeatures{"features", 0, 8, SlotStyle::Features};
inline constexpr PayloadSlot kProtocolFeatures{"protocol_features", 0, 8,
                                               SlotStyle::ProtocolFeatures};
inline constexpr PayloadSlot kAck{"ack", 0, 8, SlotStyle::Ack};
inline constexpr PayloadSlot kMac{"mac", 0, 8, SlotStyle::Mac};
inline constexpr PayloadSlot kStatus{"status", 0, 8, SlotStyle::Status};
// SET_VRING_KICK/CALL/ERR and the first word of a vring area (spec "Vring descriptor index for
// kick/call": index in bits 0-7, NOFD in bit 8).
inline constexpr PayloadSlot kVringIndexFd{"vring", 0, 8, SlotStyle::IndexNofd};
inline constexpr BitSlot kVringIndexBits[] = {{"index", kVringIndexMask}, {"nofd", kVringNoFdFlag}};
// SET_DEVICE_STATE_FD reply (spec "Device state transfer parameters"): error in bits 0-7, bit 8
// set when no fd follows.
inline constexpr PayloadSlot kStateResult{"device_state.result", 0, 8, SlotStyle::StateResult};
inline constexpr BitSlot kStateResultBits[] = {{"error", kDeviceStateErrorMask},
                                               {"no_fd", kDeviceStateNoFdFlag}};

// A vring state description.
inline constexpr PayloadSlot kVringStateIndex{"vring.index", 0, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kVringStateNum{"vring.num", 4, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kVringState[] = {kVringStateIndex, kVringStateNum};

// A vring address description.
inline constexpr PayloadSlot kVringAddrIndex{"vring.index", 0, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kVringAddrFlags{"vring.flags", 4, 4, SlotStyle::VringAddrFlags};
inline constexpr PayloadSlot kVringAddrDesc{"vring.desc_addr", 8, 8, SlotStyle::Address};
inline constexpr PayloadSlot kVringAddrUsed{"vring.used_addr", 16, 8, SlotStyle::Address};
inline constexpr PayloadSlot kVringAddrAvail{"vring.avail_addr", 24, 8, SlotStyle::Address};
inline constexpr PayloadSlot kVringAddrLog{"vring.log_addr", 32, 8, SlotStyle::Address};
inline constexpr PayloadSlot kVringAddr[] = {kVringAddrIndex, kVringAddrFlags, kVringAddrDesc,
                                             kVringAddrUsed,  kVringAddrAvail, kVringAddrLog};

// One memory region ("Memory regions description"); XEN_MMAP appends flags and domid.
inline constexpr PayloadSlot kRegionGpa{"gpa", 0, 8, SlotStyle::Address};
inline constexpr PayloadSlot kRegionSize{"size", 8, 8, SlotStyle::Size};
inline constexpr PayloadSlot kRegionUva{"uva", 16, 8, SlotStyle::Address};
inline constexpr PayloadSlot kRegionMmapOffset{"mmap_offset", 24, 8, SlotStyle::Address};
inline constexpr PayloadSlot kRegionXenFlags{"xen_mmap_flags", 32, 4, SlotStyle::HexFlags};
inline constexpr PayloadSlot kRegionXenDomid{"xen_domid", 36, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kRegion[] = {kRegionGpa,        kRegionSize,     kRegionUva,
                                          kRegionMmapOffset, kRegionXenFlags, kRegionXenDomid};
inline constexpr size_t kRegionSlotsWithoutXen = 4;
inline constexpr std::string_view kRegionName = "region";

// Multiple memory regions description: nregions, padding, then regions.
inline constexpr PayloadSlot kMemNregions{"mem.nregions", 0, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kMemPadding{"mem.padding", 4, 4, SlotStyle::PaddingWord};
inline constexpr PayloadSlot kMemTable[] = {kMemNregions, kMemPadding};

// Single memory region description: a u64 of padding, then one region.
inline constexpr PayloadSlot kSingleRegionPadding{"mem.padding", 0, 8, SlotStyle::PaddingWord};
inline constexpr PayloadSlot kSingleRegion[] = {kSingleRegionPadding};

// Log description.
inline constexpr PayloadSlot kLogMmapSize{"log.mmap_size", 0, 8, SlotStyle::Size};
inline constexpr PayloadSlot kLogMmapOffset{"log.mmap_offset", 8, 8, SlotStyle::Address};
inline constexpr PayloadSlot kLog[] = {kLogMmapSize, kLogMmapOffset};

// IOTLB message.
inline constexpr PayloadSlot kIotlbIova{"iotlb.iova", 0, 8, SlotStyle::Address};
inline constexpr PayloadSlot kIotlbSize{"iotlb.size", 8, 8, SlotStyle::Size};
inline constexpr PayloadSlot kIotlbUaddr{"iotlb.uaddr", 16, 8, SlotStyle::Address};
inline constexpr PayloadSlot kIotlbPerm{"iotlb.perm", 24, 1, SlotStyle::IotlbPerm};
inline constexpr PayloadSlot kIotlbType{"iotlb.type", 25, 1, SlotStyle::IotlbType};
inline constexpr PayloadSlot kIotlbPadding{"iotlb.padding", 26, 6, SlotStyle::Padding};
inline constexpr PayloadSlot kIotlb[] = {kIotlbIova, kIotlbSize, kIotlbUaddr,
                                         kIotlbPerm, kIotlbType, kIotlbPadding};

// Virtio device config space: offset, size, flags, then `size` bytes of config.
inline constexpr PayloadSlot kConfigOffset{"config.offset", 0, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kConfigSize{"config.size", 4, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kConfigFlags{"config.flags", 8, 4, SlotStyle::ConfigFlags};
inline constexpr PayloadSlot kConfig[] = {kConfigOffset, kConfigSize, kConfigFlags};
inline constexpr std::string_view kConfigDataName = "config.data";

// Vring area description: the index/NOFD word, then the notifier area's size and offset.
inline constexpr PayloadSlot kVringAreaSize{"vring.area_size", 8, 8, SlotStyle::Size};
inline constexpr PayloadSlot kVringAreaOffset{"vring.area_offset", 16, 8, SlotStyle::Address};
inline constexpr PayloadSlot kVringArea[] = {kVringIndexFd, kVringAreaSize, kVringAreaOffset};

// Inflight description.
inline constexpr PayloadSlot kInflightMmapSize{"inflight.mmap_size", 0, 8, SlotStyle::Size};
inline constexpr PayloadSlot kInflightMmapOffset{"inflight.mmap_offset", 8, 8, SlotStyle::Address};
inline constexpr PayloadSlot kInflightNumQueues{"inflight.num_queues", 16, 2, SlotStyle::Dec};
inline constexpr PayloadSlot kInflightQueueSize{"inflight.queue_size", 18, 2, SlotStyle::Dec};
inline constexpr PayloadSlot kInflightPadding{"inflight.padding", 20, 4, SlotStyle::Padding};
inline constexpr PayloadSlot kInflight[] = {kInflightMmapSize, kInflightMmapOffset,
                                            kInflightNumQueues, kInflightQueueSize,
                                            kInflightPadding};

// Virtio shared object (a UUID).
inline constexpr PayloadSlot kSharedObjectUuid{"shared_object.uuid", 0, 16, SlotStyle::Uuid};
inline constexpr PayloadSlot kSharedObject[] = {kSharedObjectUuid};

// Device state transfer parameters.
inline constexpr PayloadSlot kStateDirection{"device_state.direction", 0, 4, SlotStyle::Direction};
inline constexpr PayloadSlot kStatePhase{"device_state.phase", 4, 4, SlotStyle::Phase};
inline constexpr PayloadSlot kStateParams[] = {kStateDirection, kStatePhase};

// MMAP request (back-end SHMEM_MAP / SHMEM_UNMAP).
inline constexpr PayloadSlot kShmemShmid{"shmem.shmid", 0, 1, SlotStyle::Dec};
inline constexpr PayloadSlot kShmemMapPadding{"shmem.padding", 1, 7, SlotStyle::Padding};
inline constexpr PayloadSlot kShmemFdOffset{"shmem.fd_offset", 8, 8, SlotStyle::Address};
inline constexpr PayloadSlot kShmemShmOffset{"shmem.shm_offset", 16, 8, SlotStyle::Address};
inline constexpr PayloadSlot kShmemLen{"shmem.len", 24, 8, SlotStyle::Size};
inline constexpr PayloadSlot kShmemFlags{"shmem.flags", 32, 8, SlotStyle::HexFlags};
inline constexpr PayloadSlot kShmemMap[] = {kShmemShmid,     kShmemMapPadding, kShmemFdOffset,
                                            kShmemShmOffset, kShmemLen,        kShmemFlags};

// VIRTIO Shared Memory Region configuration: nregions, padding, then one u64 size per slot.
inline constexpr PayloadSlot kShmemNregions{"shmem.nregions", 0, 4, SlotStyle::Dec};
inline constexpr PayloadSlot kShmemConfigPadding{"shmem.padding", 4, 4, SlotStyle::PaddingWord};
inline constexpr PayloadSlot kShmemConfig[] = {kShmemNregions, kShmemConfigPadding};
inline constexpr PayloadSlot kShmemSizeSlot{"", 0, 8, SlotStyle::Size};
inline constexpr PayloadSlot kShmemSizeElement[] = {kShmemSizeSlot};
inline constexpr std::string_view kShmemSizeName = "shmem.size";

}  // namespace layout

// Bytes a run of slots spans from offset 0 (they are listed in offset order).
constexpr uint32_t slots_size(std::span<const PayloadSlot> slots) {
  return slots.empty() ? 0 : slots.back().end();
}

// The layout of one payload kind: a fixed part, then optionally a part that follows it once
// (SingleRegion's region) or repeats (MemTable's regions, ShmemConfig's sizes, Config's bytes).
struct PayloadLayout {
  std::span<const PayloadSlot> fixed;
  std::span<const PayloadSlot> tail;  // slots of the part after the fixed one (relative to it)
  uint32_t tail_size = 0;             // bytes of one such part; 0 when there is none
  bool tail_repeats = false;          // true: any number of parts (size = fixed + k * tail_size)
  std::string_view tail_name;         // path of the part: "region" ("region[N]" when repeated)
  bool any_size = false;              // Opaque: no layout at all

  uint32_t fixed_size() const { return slots_size(fixed); }
};

PayloadLayout payload_layout(PayloadKind kind, bool xen_mmap = false);

inline constexpr uint32_t kMaxMemRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS
inline constexpr uint32_t kMemRegionSize = layout::kRegionMmapOffset.end();
inline constexpr uint32_t kXenMemRegionSize = layout::kRegionXenDomid.end();
inline constexpr uint32_t kMemTableHeaderSize = slots_size(layout::kMemTable);
inline constexpr uint32_t kConfigHeaderSize = slots_size(layout::kConfig);
inline constexpr uint32_t kMaxQueueSize = 32768;   // split and packed queues
inline constexpr uint32_t kMaxConfigSpace = 4096;  // offset + size bound (PCI config window)

inline constexpr uint32_t mem_region_size(bool xen_mmap) {
  return xen_mmap ? kXenMemRegionSize : kMemRegionSize;
}

// size == base + k * element for some k >= 0 (element 0: exactly base); any_size: no rule.
struct PayloadSizeRule {
  uint32_t base = 0;
  uint32_t element = 0;
  bool any_size = false;

  bool accepts(uint64_t size) const {
    if (any_size) return true;
    if (size < base) return false;
    return element == 0 ? size == base : (size - base) % element == 0;
  }
  std::string text() const;  // "40", "8 + 32*n", "any"
};

PayloadSizeRule payload_size_rule(PayloadKind kind, bool xen_mmap = false);

// A slot's value read from `r` at `base + slot.offset` (0 when absent), as the struct's type.
inline uint64_t read_slot(const ByteReader& r, const PayloadSlot& slot, size_t base = 0) {
  const size_t at = base + slot.offset;
  switch (slot.size) {
    case 1: return r.get<uint8_t>(at);
    case 2: return r.get<uint16_t>(at);
    case 4: return r.get<uint32_t>(at);
    case 8: return r.get<uint64_t>(at);
    default: return 0;
  }
}
template <typename T>
T read_slot_as(const ByteReader& r, const PayloadSlot& slot, size_t base = 0) {
  return static_cast<T>(read_slot(r, slot, base));
}

}  // namespace vhs
