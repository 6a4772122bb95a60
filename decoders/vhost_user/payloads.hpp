// Typed payload values, one struct per PayloadKind. Decoders fill these from bytes; the session
// analyser, ring views and formatters read them. Plain data, copied out of the wire with memcpy.
#pragma once

#include <array>
#include <cstdint>
#include <variant>
#include <vector>

namespace vhs {

// The u64 of SET_VRING_KICK / CALL / ERR and of a vring area (spec "Front-end message types",
// "Back-end message types"): bits 0-7 the queue index, bit 8 (VHOST_USER_VRING_NOFD_MASK) set
// when the message passes no fd.
inline constexpr uint64_t kVringIndexMask = 0xff;
inline constexpr uint64_t kVringNoFdFlag = 0x100;
constexpr uint8_t vring_index_of(uint64_t u64) {
  return static_cast<uint8_t>(u64 & kVringIndexMask);
}
constexpr bool vring_nofd(uint64_t u64) { return (u64 & kVringNoFdFlag) != 0; }

// The u64 a SET_DEVICE_STATE_FD reply carries (spec "Front-end message types"): bits 0-7 an error
// code (0: success), bit 8 set when the back-end passes no fd.
inline constexpr uint64_t kDeviceStateErrorMask = 0xff;
inline constexpr uint64_t kDeviceStateNoFdFlag = 0x100;

struct U64Value {
  uint64_t value = 0;
};  // U64, Features, ProtocolFeatures, Ack, Status, Mac, ...

struct VringIndexFdValue {  // SET_VRING_KICK/CALL/ERR
  uint64_t raw = 0;
  uint8_t index() const { return vring_index_of(raw); }
  bool nofd() const { return vring_nofd(raw); }
};

struct VringStateValue {
  uint32_t index = 0;
  uint32_t num = 0;
};

struct VringAddrValue {
  uint32_t index = 0;
  uint32_t flags = 0;  // bit 0 LOG
  uint64_t desc_user_addr = 0;
  uint64_t used_user_addr = 0;
  uint64_t avail_user_addr = 0;
  uint64_t log_guest_addr = 0;
};

struct MemRegionValue {
  uint64_t guest_phys_addr = 0;
  uint64_t memory_size = 0;
  uint64_t userspace_addr = 0;
  uint64_t mmap_offset = 0;
  uint32_t xen_mmap_flags = 0;  // only with XEN_MMAP (40-byte regions)
  uint32_t xen_domid = 0;       // only with XEN_MMAP
};

struct MemTableValue {
  uint32_t nregions = 0;  // as sent (may disagree with regions.size() when malformed)
  uint32_t padding = 0;
  std::vector<MemRegionValue> regions;  // the ones that fit in the payload
};

struct SingleRegionValue {
  uint64_t padding = 0;
  MemRegionValue region;
};

struct LogValue {
  uint64_t mmap_size = 0;
  uint64_t mmap_offset = 0;
};

struct IotlbValue {
  uint64_t iova = 0, size = 0, uaddr = 0;
  uint8_t perm = 0, type = 0;
};

struct ConfigValue {
  uint32_t offset = 0, size = 0, flags = 0;
  std::vector<uint8_t> data;  // the config bytes present in the payload
};

struct VringAreaValue {
  uint64_t u64 = 0, size = 0, offset = 0;
  uint8_t index() const { return vring_index_of(u64); }
  bool nofd() const { return vring_nofd(u64); }
};

struct InflightValue {
  uint64_t mmap_size = 0, mmap_offset = 0;
  uint16_t num_queues = 0, queue_size = 0;
};

struct SharedObjectValue {
  std::array<uint8_t, 16> uuid{};
};

struct DeviceStateParamsValue {
  uint32_t direction = 0, phase = 0;
};

struct DeviceStateResultValue {
  uint64_t raw = 0;
  uint8_t error() const { return static_cast<uint8_t>(raw & kDeviceStateErrorMask); }
  bool no_fd() const { return (raw & kDeviceStateNoFdFlag) != 0; }
};

struct ShmemMapValue {
  uint8_t shmid = 0;
  uint64_t fd_offset = 0, shm_offset = 0, len = 0, flags = 0;
};

struct ShmemConfigValue {
  uint32_t nregions = 0;
  std::vector<uint64_t> sizes;
};

struct OpaqueValue {
  uint32_t length = 0;
};

using Payload =
    std::variant<std::monostate, U64Value, VringIndexFdValue, VringStateValue, VringAddrValue,
                 MemTableValue, SingleRegionValue, LogValue, IotlbValue, ConfigValue,
                 VringAreaValue, InflightValue, SharedObjectValue, DeviceStateParamsValue,
                 DeviceStateResultValue, ShmemMapValue, ShmemConfigValue, OpaqueValue>;

}  // namespace vhs
