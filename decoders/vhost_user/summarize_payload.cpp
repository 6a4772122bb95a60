// One-line summaries of decoded payloads for `dump` lines and the GUI's message list:
// only the key fields, built from the typed payload (no byte access).
#include <fmt/format.h>

#include "decoders/vhost_user/field_format.hpp"
#include "decoders/vhost_user/message.hpp"

namespace vhs {
namespace {

// The payload variant matches payload_kind when produced by decode_message; a hand-built message
// might not, and then its summary shows default values rather than throwing.
template <typename T>
const T& value_of(const Payload& p) {
  static const T empty{};
  const T* v = std::get_if<T>(&p);
  return v ? *v : empty;
}

std::string summarize(const DecodedMessage& msg, const DecodeContext& ctx) {
  const Payload& p = msg.payload;
  switch (msg.payload_kind) {
    case PayloadKind::None: return {};
    case PayloadKind::U64: return fmt::format("value={}", value_of<U64Value>(p).value);
    case PayloadKind::Features: return features_short(value_of<U64Value>(p).value, ctx.device);
    case PayloadKind::ProtocolFeatures: return protocol_features_short(value_of<U64Value>(p).value);
    case PayloadKind::Ack: {
      const uint64_t v = value_of<U64Value>(p).value;
      return v == 0 ? std::string("ack=0") : fmt::format("ack={} (failure)", v);
    }
    case PayloadKind::Mac: return fmt::format("mac={}", mac_text(value_of<U64Value>(p).value));
    case PayloadKind::Status:
      return fmt::format("status={}", status_text(value_of<U64Value>(p).value));
    case PayloadKind::VringIndexFd: {
      const auto& v = value_of<VringIndexFdValue>(p);
      return fmt::format("index={} {}", v.index(), v.nofd() ? "NOFD" : "fd");
    }
    case PayloadKind::VringState: {
      const auto& v = value_of<VringStateValue>(p);
      return fmt::format("index={} num={}", v.index, v.num);
    }
    case PayloadKind::VringAddr: {
      const auto& v = value_of<VringAddrValue>(p);
      return fmt::format("index={} desc=0x{:x} used=0x{:x} avail=0x{:x}{}", v.index,
                         v.desc_user_addr, v.used_user_addr, v.avail_user_addr,
                         (v.flags & 1) ? " LOG" : "");
    }
    case PayloadKind::MemTable: {
      const auto& t = value_of<MemTableValue>(p);
      uint64_t total = 0;
      for (const auto& r : t.regions) total += r.memory_size;
      return fmt::format("regions={} total={}", t.nregions, human_size(total));
    }
    case PayloadKind::SingleRegion: {
      const auto& r = value_of<SingleRegionValue>(p).region;
      return fmt::format("gpa=0x{:x} size={} uva=0x{:x}", r.guest_phys_addr,
                         human_size(r.memory_size), r.userspace_addr);
    }
    case PayloadKind::Log: {
      const auto& v = value_of<LogValue>(p);
      return fmt::format("size={} offset=0x{:x}", human_size(v.mmap_size), v.mmap_offset);
    }
    case PayloadKind::Iotlb: {
      const auto& v = value_of<IotlbValue>(p);
      const std::string_view type = iotlb_type_name(v.type);
      const std::string_view perm = iotlb_perm_name(v.perm);
      return fmt::format("{} iova=0x{:x} size={} perm={}",
                         type.empty() ? unknown_value(v.type) : std::string(type), v.iova,
                         human_size(v.size),
                         perm.empty() ? unknown_value(v.perm) : std::string(perm));
    }
    case PayloadKind::Config: {
      const auto& v = value_of<ConfigValue>(p);
      return fmt::format("offset={} size={}{}", v.offset, v.size, v.flags == 1 ? " MIGRATION" : "");
    }
    case PayloadKind::VringArea: {
      const auto& v = value_of<VringAreaValue>(p);
      if (v.nofd()) return fmt::format("index={} NOFD", v.index());
      return fmt::format("index={} size={} offset=0x{:x}", v.index(), human_size(v.size), v.offset);
    }
    case PayloadKind::Inflight: {
      const auto& v = value_of<InflightValue>(p);
      return fmt::format("queues={} queue_size={} mmap_size={}", v.num_queues, v.queue_size,
                         human_size(v.mmap_size));
    }
    case PayloadKind::SharedObject:
      return fmt::format("uuid={}", uuid_text(value_of<SharedObjectValue>(p).uuid));
    case PayloadKind::DeviceStateParams: {
      const auto& v = value_of<DeviceStateParamsValue>(p);
      const std::string_view dir = device_state_direction_name(v.direction);
      const std::string_view phase = device_state_phase_name(v.phase);
      return fmt::format("direction={} phase={}",
                         dir.empty() ? unknown_value(v.direction) : std::string(dir),
                         phase.empty() ? unknown_value(v.phase) : std::string(phase));
    }
    case PayloadKind::DeviceStateResult: {
      const auto& v = value_of<DeviceStateResultValue>(p);
      return fmt::format("error={} {}", v.error(), v.no_fd() ? "NOFD" : "fd");
    }
    case PayloadKind::ShmemMap: {
      const auto& v = value_of<ShmemMapValue>(p);
      return fmt::format("shmid={} shm_offset=0x{:x} len={} fd_offset=0x{:x} flags=0x{:x}", v.shmid,
                         v.shm_offset, human_size(v.len), v.fd_offset, v.flags);
    }
    case PayloadKind::ShmemConfig: {
      const auto& v = value_of<ShmemConfigValue>(p);
      std::string s = fmt::format("regions={}", v.nregions);
      for (size_t i = 0; i < v.sizes.size() && i < v.nregions && i < 4; ++i)
        s += fmt::format(" [{}]={}", i, human_size(v.sizes[i]));
      return s;
    }
    case PayloadKind::Opaque: return fmt::format("{} bytes", value_of<OpaqueValue>(p).length);
  }
  return {};
}

}  // namespace

std::string summarize_payload(const DecodedMessage& msg, const DecodeContext& ctx) {
  if (!msg.header_complete) return {};
  return summarize(msg, ctx);
}

}  // namespace vhs
