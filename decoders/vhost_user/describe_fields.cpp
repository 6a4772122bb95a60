// The full field tree of one message (header, payload fields, fds) with byte offsets into the
// whole message, for `dump -V` and the GUI's hex highlighting. Not on the hot path.
#include <fmt/format.h>

#include "decoders/vhost_user/byte_reader.hpp"
#include "decoders/vhost_user/field_format.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/vhost_user/payloads.hpp"
#include "decoders/virtio/device_config.hpp"

namespace vhs {
namespace {

enum class Style : uint8_t {
  Dec,
  Hex,
  Size,
  Padding,
  Features,
  ProtocolFeatures,
  Status,
  IndexNofd,
  Mac,
  Uuid,
  IotlbType,
  IotlbPerm,
  Direction,
  Phase,
  VringAddrFlags,
  ConfigFlags,
  Ack,
  StateResult,
};

// One fixed field of a payload layout (facts file section 4); offsets relative to the payload.
struct FieldSpec {
  std::string_view name;
  uint16_t offset;
  uint8_t size;
  Style style;
};

constexpr FieldSpec kVringState[] = {{"index", 0, 4, Style::Dec}, {"num", 4, 4, Style::Dec}};
constexpr FieldSpec kVringAddr[] = {{"index", 0, 4, Style::Dec},
                                    {"flags", 4, 4, Style::VringAddrFlags},
                                    {"desc_user_addr", 8, 8, Style::Hex},
                                    {"used_user_addr", 16, 8, Style::Hex},
                                    {"avail_user_addr", 24, 8, Style::Hex},
                                    {"log_guest_addr", 32, 8, Style::Hex}};
constexpr FieldSpec kRegion[] = {
    {"guest_phys_addr", 0, 8, Style::Hex}, {"memory_size", 8, 8, Style::Size},
    {"userspace_addr", 16, 8, Style::Hex}, {"mmap_offset", 24, 8, Style::Hex},
    {"xen_mmap_flags", 32, 4, Style::Hex}, {"xen_domid", 36, 4, Style::Dec}};
constexpr FieldSpec kLog[] = {{"mmap_size", 0, 8, Style::Size}, {"mmap_offset", 8, 8, Style::Hex}};
constexpr FieldSpec kIotlb[] = {
    {"iova", 0, 8, Style::Hex},        {"size", 8, 8, Style::Size},
    {"uaddr", 16, 8, Style::Hex},      {"perm", 24, 1, Style::IotlbPerm},
    {"type", 25, 1, Style::IotlbType}, {"padding", 26, 6, Style::Padding}};
constexpr FieldSpec kConfigHeader[] = {
    {"offset", 0, 4, Style::Dec}, {"size", 4, 4, Style::Dec}, {"flags", 8, 4, Style::ConfigFlags}};
constexpr FieldSpec kVringArea[] = {
    {"u64", 0, 8, Style::IndexNofd}, {"size", 8, 8, Style::Size}, {"offset", 16, 8, Style::Hex}};
constexpr FieldSpec kInflight[] = {{"mmap_size", 0, 8, Style::Size},
                                   {"mmap_offset", 8, 8, Style::Hex},
                                   {"num_queues", 16, 2, Style::Dec},
                                   {"queue_size", 18, 2, Style::Dec},
                                   {"padding", 20, 4, Style::Padding}};
constexpr FieldSpec kSharedObject[] = {{"uuid", 0, 16, Style::Uuid}};
constexpr FieldSpec kStateParams[] = {{"direction", 0, 4, Style::Direction},
                                      {"phase", 4, 4, Style::Phase}};
constexpr FieldSpec kShmemMap[] = {
    {"shmid", 0, 1, Style::Dec},     {"padding", 1, 7, Style::Padding},
    {"fd_offset", 8, 8, Style::Hex}, {"shm_offset", 16, 8, Style::Hex},
    {"len", 24, 8, Style::Size},     {"flags", 32, 8, Style::Hex}};

std::string bytes_hex(std::span<const uint8_t> b, size_t limit = 64) {
  std::string s;
  for (size_t i = 0; i < b.size() && i < limit; ++i)
    s += fmt::format("{}{:02x}", i ? " " : "", b[i]);
  if (b.size() > limit) s += fmt::format(" ... ({} bytes)", b.size());
  return s;
}

class TreeBuilder {
 public:
  TreeBuilder(std::span<const uint8_t> payload, const DecodeContext& ctx)
      : r_(payload), ctx_(ctx) {}

  std::vector<Field> fields;

  void add(std::string path, std::string value, uint32_t payload_offset, uint32_t length,
           uint8_t depth) {
    fields.push_back({std::move(path), std::move(value),
                      static_cast<uint32_t>(kHeaderSize) + payload_offset, length, depth});
  }

  // Emits the fields of `specs` found at `base`; fields whose bytes are absent are skipped.
  template <size_t N>
  void walk(const std::string& prefix, const FieldSpec (&specs)[N], uint32_t base, uint8_t depth,
            size_t count = N) {
    for (size_t i = 0; i < count && i < N; ++i) {
      const FieldSpec& f = specs[i];
      if (!r_.has(base + f.offset, f.size)) continue;
      const std::string path = fmt::format("{}.{}", prefix, f.name);
      add(path, render(f, base + f.offset), base + f.offset, f.size, depth);
      if (f.style == Style::IndexNofd) index_nofd_children(path, base + f.offset, depth + 1);
    }
  }

  std::string render(const FieldSpec& f, uint32_t at) const {
    uint64_t v = 0;
    switch (f.size) {
      case 1: v = r_.get<uint8_t>(at); break;
      case 2: v = r_.get<uint16_t>(at); break;
      case 4: v = r_.get<uint32_t>(at); break;
      case 8: v = r_.get<uint64_t>(at); break;
      default: break;
    }
    switch (f.style) {
      case Style::Dec: return fmt::format("{}", v);
      case Style::Hex: return hex_u64(v);
      case Style::Size: return size_text(v);
      case Style::Padding: return bytes_hex(r_.sub(at, f.size));
      case Style::Features: return features_text(v, ctx_.device);
      case Style::ProtocolFeatures: return protocol_features_text(v);
      case Style::Status: return status_text(v);
      case Style::IndexNofd:
        return fmt::format("0x{:x} (index {}{})", v, vring_index_of(v),
                           vring_nofd(v) ? ", NOFD" : "");
      case Style::Mac: return mac_text(v);
      case Style::Uuid: {
        std::array<uint8_t, 16> u{};
        r_.copy(at, u);
        return uuid_text(u);
      }
      case Style::IotlbType: return named_value(iotlb_type_name(static_cast<uint8_t>(v)), v);
      case Style::IotlbPerm: return named_value(iotlb_perm_name(static_cast<uint8_t>(v)), v);
      case Style::Direction:
        return named_value(device_state_direction_name(static_cast<uint32_t>(v)), v);
      case Style::Phase: return named_value(device_state_phase_name(static_cast<uint32_t>(v)), v);
      case Style::VringAddrFlags:
        return v == 0 ? std::string("0x0") : fmt::format("0x{:x} ({})", v, (v & 1) ? "LOG" : "?");
      case Style::ConfigFlags: return named_value(config_flags_name(static_cast<uint32_t>(v)), v);
      case Style::Ack: return v == 0 ? std::string("0 (success)") : fmt::format("{} (failure)", v);
      case Style::StateResult:
        return fmt::format("0x{:x} (error {}{})", v, v & kDeviceStateErrorMask,
                           (v & kDeviceStateNoFdFlag) ? ", no fd" : ", fd");
    }
    return {};
  }

  void index_nofd_children(const std::string& path, uint32_t at, uint8_t depth) {
    add(path + ".index", fmt::format("{}", r_.get<uint8_t>(at)), at, 1, depth);
    add(path + ".nofd", (r_.get<uint8_t>(at + 1) & 1) ? "yes" : "no", at + 1, 1, depth);
  }

  // One line per set bit, pointing at the byte that holds it.
  void bit_children(const std::string& path, uint64_t bits, bool protocol) {
    for (unsigned bit = 0; bit < 64; ++bit) {
      if (!((bits >> bit) & 1)) continue;
      std::string_view name =
          protocol ? protocol_feature_name(bit) : feature_name(ctx_.device, bit);
      add(fmt::format("{}.bit[{}]", path, bit),
          name.empty() ? std::string("(unnamed)") : std::string(name), bit / 8, 1, 1);
    }
  }

  void region(const std::string& path, uint32_t at, bool xen, uint8_t depth) {
    const uint32_t size = mem_region_size(xen);
    if (!r_.has(at, 1)) return;
    add(path,
        fmt::format("gpa {} size {}", hex_u64(r_.get<uint64_t>(at)),
                    human_size(r_.get<uint64_t>(at + 8))),
        at, static_cast<uint32_t>(std::min<size_t>(size, r_.size() - at)), depth);
    walk(path, kRegion, at, depth + 1, xen ? 6 : 4);
  }

  const ByteReader& reader() const { return r_; }

 private:
  ByteReader r_;
  const DecodeContext& ctx_;
};

// Device fields that lie wholly inside the carried window [offset, offset + data.size()).
void config_children(TreeBuilder& t, const std::string& path, uint32_t offset,
                     std::span<const uint8_t> data, DeviceKind device) {
  for (const ConfigField& f : device_config_fields(device)) {
    if (f.offset < offset || uint64_t{f.offset} + f.size > uint64_t{offset} + data.size()) continue;
    const uint32_t at = f.offset - offset;
    t.add(fmt::format("{}.{}", path, f.name), render_config_field(f, data.subspan(at, f.size)),
          kConfigHeaderSize + at, f.size, 1);
  }
}

std::string prefix_for(PayloadKind kind) {
  std::string p(payload_kind_name(kind));
  for (char& c : p)
    if (c == '-') c = '_';
  return p;
}

void describe_payload(const DecodedMessage& msg, TreeBuilder& t, const DecodeContext& ctx) {
  const ByteReader& r = t.reader();
  const uint32_t n = static_cast<uint32_t>(r.size());
  const std::string p = prefix_for(msg.payload_kind);
  const bool xen =
      ctx.protocol_features_known && has_feature(ctx.protocol_features, ProtocolFeature::XEN_MMAP);
  uint32_t used = 0;  // bytes of the payload the layout explains
  auto single = [&](Style style) {
    if (n < 8) return;
    FieldSpec f{"", 0, 8, style};
    t.add(p, t.render(f, 0), 0, 8, 0);
    used = 8;
  };
  switch (msg.payload_kind) {
    case PayloadKind::None: break;
    case PayloadKind::U64: single(Style::Dec); break;
    case PayloadKind::Ack: single(Style::Ack); break;
    case PayloadKind::Mac: single(Style::Mac); break;
    case PayloadKind::Status: single(Style::Status); break;
    case PayloadKind::Features:
    case PayloadKind::ProtocolFeatures: {
      const bool proto = msg.payload_kind == PayloadKind::ProtocolFeatures;
      single(proto ? Style::ProtocolFeatures : Style::Features);
      if (n >= 8) t.bit_children(p, r.get<uint64_t>(0), proto);
      break;
    }
    case PayloadKind::VringIndexFd:
      single(Style::IndexNofd);
      if (n >= 8) t.index_nofd_children(p, 0, 1);
      break;
    case PayloadKind::DeviceStateResult:
      single(Style::StateResult);
      if (n >= 8) {
        t.add(p + ".error", fmt::format("{}", r.get<uint8_t>(0)), 0, 1, 1);
        t.add(p + ".no_fd", (r.get<uint8_t>(1) & 1) ? "yes" : "no", 1, 1, 1);
      }
      break;
    case PayloadKind::VringState:
      t.walk(p, kVringState, 0, 0);
      used = 8;
      break;
    case PayloadKind::VringAddr:
      t.walk(p, kVringAddr, 0, 0);
      used = 40;
      break;
    case PayloadKind::Log:
      t.walk(p, kLog, 0, 0);
      used = 16;
      break;
    case PayloadKind::Iotlb:
      t.walk(p, kIotlb, 0, 0);
      used = 32;
      break;
    case PayloadKind::VringArea:
      t.walk(p, kVringArea, 0, 0);
      used = 24;
      break;
    case PayloadKind::Inflight:
      t.walk(p, kInflight, 0, 0);
      used = 24;
      break;
    case PayloadKind::SharedObject:
      t.walk(p, kSharedObject, 0, 0);
      used = 16;
      break;
    case PayloadKind::DeviceStateParams:
      t.walk(p, kStateParams, 0, 0);
      used = 8;
      break;
    case PayloadKind::ShmemMap:
      t.walk(p, kShmemMap, 0, 0);
      used = 40;
      break;
    case PayloadKind::SingleRegion:
      if (r.has(0, 8)) t.add(p + ".padding", hex_u64(r.get<uint64_t>(0)), 0, 8, 0);
      t.region(p + ".region", 8, xen, 0);
      used = 8 + mem_region_size(xen);
      break;
    case PayloadKind::MemTable: {
      if (r.has(0, 4)) t.add(p + ".nregions", fmt::format("{}", r.get<uint32_t>(0)), 0, 4, 0);
      if (r.has(4, 4)) t.add(p + ".padding", hex_u64(r.get<uint32_t>(4)), 4, 4, 0);
      const uint32_t rs = mem_region_size(xen);
      const uint32_t count = n >= 8 ? (n - 8) / rs : 0;
      for (uint32_t i = 0; i < count; ++i)
        t.region(fmt::format("{}.region[{}]", p, i), 8 + i * rs, xen, 0);
      used = 8 + count * rs;
      break;
    }
    case PayloadKind::Config: {
      t.walk(p, kConfigHeader, 0, 0);
      used = std::min<uint32_t>(n, kConfigHeaderSize);
      if (n > kConfigHeaderSize) {
        const bool ignored = !msg.is_reply && std::holds_alternative<ConfigValue>(msg.payload) &&
                             std::get<ConfigValue>(msg.payload).data.empty();
        auto data = r.sub(kConfigHeaderSize, n - kConfigHeaderSize);
        t.add(
            p + ".data",
            ignored ? fmt::format("{} bytes (ignored in a request)", data.size()) : bytes_hex(data),
            kConfigHeaderSize, static_cast<uint32_t>(data.size()), 0);
        if (!ignored) config_children(t, p + ".data", r.get<uint32_t>(0), data, ctx.device);
        used = n;
      }
      break;
    }
    case PayloadKind::ShmemConfig: {
      if (r.has(0, 4)) t.add(p + ".nregions", fmt::format("{}", r.get<uint32_t>(0)), 0, 4, 0);
      if (r.has(4, 4)) t.add(p + ".padding", hex_u64(r.get<uint32_t>(4)), 4, 4, 0);
      const uint32_t count = n >= 8 ? (n - 8) / 8 : 0;
      for (uint32_t i = 0; i < count; ++i)
        t.add(fmt::format("{}.size[{}]", p, i), size_text(r.get<uint64_t>(8 + i * 8)), 8 + i * 8, 8,
              0);
      used = 8 + count * 8;
      break;
    }
    case PayloadKind::Opaque:
      if (n) t.add(p, fmt::format("{} bytes: {}", n, bytes_hex(r.sub(0, n), 32)), 0, n, 0);
      used = n;
      break;
  }
  // Bytes the layout does not explain (size mismatch) still get a line so the hex view covers them.
  if (n > used) t.add(p + ".extra", bytes_hex(r.sub(used, n - used)), used, n - used, 0);
}

std::string fd_text(const FdInfo& fd) {
  std::string s(fd_kind_name(fd.kind));
  if (fd.inode) s += fmt::format(" inode={}", fd.inode);
  if (fd.size) s += fmt::format(" size={}", size_text(fd.size));
  if (!fd.name.empty()) s += fmt::format(" name={}", fd.name);
  return s;
}

}  // namespace

std::vector<Field> describe_fields(const DecodedMessage& msg, std::span<const uint8_t> bytes,
                                   std::span<const FdInfo> fds, const DecodeContext& ctx) {
  std::vector<Field> out;
  const ByteReader whole(bytes);
  const uint32_t header_len = static_cast<uint32_t>(std::min(bytes.size(), kHeaderSize));
  out.push_back({"header",
                 msg.header_complete
                     ? fmt::format("{} {}", msg.name(), msg.is_reply ? "reply" : "request")
                     : fmt::format("truncated ({} of {} bytes)", bytes.size(), kHeaderSize),
                 0, header_len, 0});
  if (whole.has(0, 4))
    out.push_back({"header.request", request_text(msg.channel, whole.get<uint32_t>(0)), 0, 4, 1});
  if (whole.has(4, 4))
    out.push_back({"header.flags", header_flags_text(whole.get<uint32_t>(4)), 4, 4, 1});
  if (whole.has(8, 4))
    out.push_back({"header.size", fmt::format("{}", whole.get<uint32_t>(8)), 8, 4, 1});

  if (msg.header_complete) {
    const size_t available = bytes.size() - kHeaderSize;
    TreeBuilder t(bytes.subspan(kHeaderSize, std::min<size_t>(available, msg.header.size)), ctx);
    describe_payload(msg, t, ctx);
    for (Field& f : t.fields) out.push_back(std::move(f));
    if (available > msg.header.size)
      out.push_back({"trailing", bytes_hex(bytes.subspan(kHeaderSize + msg.header.size)),
                     static_cast<uint32_t>(kHeaderSize + msg.header.size),
                     static_cast<uint32_t>(available - msg.header.size), 0});
  }

  for (size_t i = 0; i < fds.size(); ++i)
    out.push_back({fmt::format("fd[{}]", i), fd_text(fds[i]), 0, 0, 0});
  return out;
}

}  // namespace vhs
