// Walks the registry and the payload layouts the way describe_fields walks one message, but over
// every payload kind any request or reply can carry, collecting each path once with its type.
#include "wireshark/field_catalog.hpp"

#include <set>

#include "decoders/vhost_user/field_paths.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/virtio/device_config.hpp"

namespace vhs::wireshark {
namespace {

// The typed value describe_fields gives a slot of each style (field_value.hpp kinds).
ValueKind slot_kind(SlotStyle style) {
  switch (style) {
    case SlotStyle::Dec:
    case SlotStyle::Size:
    case SlotStyle::Ack: return ValueKind::Unsigned;
    case SlotStyle::Address: return ValueKind::Address;
    case SlotStyle::HexFlags:
    case SlotStyle::Features:
    case SlotStyle::ProtocolFeatures:
    case SlotStyle::Status:
    case SlotStyle::IndexNofd:
    case SlotStyle::StateResult:
    case SlotStyle::VringAddrFlags: return ValueKind::Flags;
    case SlotStyle::Padding:
    case SlotStyle::PaddingWord:
    case SlotStyle::Mac:
    case SlotStyle::Uuid: return ValueKind::Bytes;
    case SlotStyle::IotlbType:
    case SlotStyle::IotlbPerm:
    case SlotStyle::Direction:
    case SlotStyle::Phase:
    case SlotStyle::ConfigFlags: return ValueKind::Enum;
  }
  return ValueKind::None;
}

ValueKind config_kind(ConfigFieldStyle style) {
  switch (style) {
    case ConfigFieldStyle::Dec:
    case ConfigFieldStyle::Sectors: return ValueKind::Unsigned;
    case ConfigFieldStyle::Hex:
    case ConfigFieldStyle::NetStatus: return ValueKind::Flags;
    case ConfigFieldStyle::Mac: return ValueKind::Bytes;
    case ConfigFieldStyle::Text: return ValueKind::String;
  }
  return ValueKind::Bytes;
}

std::string join(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  if (name.empty()) return std::string(prefix);
  return std::string(prefix) + "." + std::string(name);
}

constexpr std::string_view kHeaderPrefix = "header.";

class Builder {
 public:
  FieldCatalog catalog;

  void add(const std::string& path, ValueKind kind) {
    const std::string name = public_field_name(path);
    for (const CatalogField& f : catalog.fields) {
      if (f.name != name) continue;
      if (f.kind != kind) catalog.conflicts.push_back(path);
      return;
    }
    CatalogField field{path, name, kind, {}};
    if (path.starts_with(kHeaderPrefix))
      field.alias = std::string(kPublicFieldPrefix) + path.substr(kHeaderPrefix.size());
    catalog.fields.push_back(std::move(field));
  }

  void slots(std::string_view prefix, std::span<const PayloadSlot> list) {
    for (const PayloadSlot& s : list) {
      const std::string path = join(prefix, s.name);
      add(path, slot_kind(s.style));
      switch (s.style) {
        case SlotStyle::IndexNofd: bits(path, layout::kVringIndexBits); break;
        case SlotStyle::StateResult: bits(path, layout::kStateResultBits); break;
        case SlotStyle::Features:
        case SlotStyle::ProtocolFeatures: add(path + ".bit", ValueKind::Enum); break;
        default: break;
      }
    }
  }

  void bits(const std::string& path, std::span<const BitSlot> list) {
    for (const BitSlot& b : list)
      add(join(path, b.name), b.is_flag() ? ValueKind::Bool : ValueKind::Unsigned);
  }

  void payload(PayloadKind kind, bool xen) {
    const PayloadLayout l = payload_layout(kind, xen);
    if (l.any_size) {
      add("opaque", ValueKind::Bytes);
      return;
    }
    slots("", l.fixed);
    if (kind == PayloadKind::Config) {
      add(std::string(l.tail_name), ValueKind::Bytes);
      for (DeviceKind device : kDevices)
        for (const ConfigField& f : device_config_fields(device))
          add(join(l.tail_name, f.name), config_kind(f.style));
    } else if (l.tail_size != 0) {
      const bool group = !(l.tail.size() == 1 && l.tail.front().name.empty());
      if (group) add(std::string(l.tail_name), ValueKind::None);
      slots(l.tail_name, l.tail);
    }
  }

 private:
  static constexpr DeviceKind kDevices[] = {DeviceKind::Unknown, DeviceKind::Net,   DeviceKind::Blk,
                                            DeviceKind::Fs,      DeviceKind::Vsock, DeviceKind::Gpu,
                                            DeviceKind::Scsi};
};

FieldCatalog build_catalog() {
  Builder b;
  // The message header (spec "Message Specification"); describe_fields types the request as an
  // enum (its name) and the flags as a flag word with the bit ranges as children.
  b.add("header", ValueKind::None);
  b.add(std::string(layout::kHeaderRequest.name), ValueKind::Enum);
  b.add(std::string(layout::kHeaderFlags.name), ValueKind::Flags);
  b.bits(std::string(layout::kHeaderFlags.name), layout::kHeaderFlagBits);
  b.add(std::string(layout::kHeaderSizeField.name), ValueKind::Unsigned);

  // Every payload kind a request or its answer can carry, with and without XEN_MMAP regions.
  std::set<PayloadKind> kinds;
  for (const RequestInfo& r : all_requests()) {
    kinds.insert(r.payload);
    kinds.insert(r.reply_payload);
  }
  // Requests answered only under NEED_REPLY get a u64 ack; SET_MEM_TABLE/ADD_MEM_REG may carry a
  // bare u64 (spec "Memory regions description" postcopy replies).
  kinds.insert(PayloadKind::Ack);
  kinds.insert(PayloadKind::U64);
  kinds.insert(PayloadKind::Opaque);  // unknown requests and truncated headers
  for (PayloadKind k : kinds) {
    b.payload(k, false);
    b.payload(k, true);
  }
  b.add("extra", ValueKind::Bytes);
  b.add("trailing", ValueKind::Bytes);
  b.add("fd", ValueKind::Enum);
  return std::move(b.catalog);
}

}  // namespace

std::string path_without_indices(std::string_view path) {
  return public_field_name(path).substr(kPublicFieldPrefix.size());
}

const CatalogField* FieldCatalog::find_path(std::string_view path) const {
  for (const CatalogField& f : fields)
    if (f.path == path) return &f;
  return nullptr;
}

const FieldCatalog& field_catalog() {
  static const FieldCatalog catalog = build_catalog();
  return catalog;
}

}  // namespace vhs::wireshark
