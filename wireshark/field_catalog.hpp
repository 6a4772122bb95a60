// The Wireshark field names of the vhostuser protocol, generated from the decoders' own tables:
// the registry (which payload kinds requests and replies carry), the payload layout slots (field
// paths and how each is typed) and the device config layouts. The epan plugin registers one
// header field per entry, the Lua generator one ProtoField, and the tests check that every line
// describe_fields produces has an entry of the same type. No Wireshark headers here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/field_value.hpp"

namespace vhs::wireshark {

inline constexpr std::string_view kProtocolName = "vhostuser";

struct CatalogField {
  std::string path;  // field path without indices: "region.gpa", "header.flags.reply"
  std::string name;  // public (filter) name: "vhostuser.region.gpa"
  ValueKind kind = ValueKind::None;
  // The short name the header fields are also known by ("vhostuser.request" for
  // "vhostuser.header.request"); empty for every other field.
  std::string alias;

  bool hex() const { return kind == ValueKind::Address || kind == ValueKind::Flags; }
};

struct FieldCatalog {
  std::vector<CatalogField> fields;  // unique by name, in first-seen order
  // Paths generated twice with different value kinds; empty unless the tables disagree.
  std::vector<std::string> conflicts;

  const CatalogField* find_path(std::string_view path) const;  // path without indices
};

// Built on first use; the same object for the process's lifetime.
const FieldCatalog& field_catalog();

// "region[1].gpa" -> "region.gpa".
std::string path_without_indices(std::string_view path);

// The fields of the capture record around the message (pseudo-header, fds, request tracking,
// ring-state and notify records): what the capture format defines rather than the decoders'
// field tree. Names below "vhostuser.".
namespace record_field {
inline constexpr std::string_view kKind = "vhostuser.record.kind";
inline constexpr std::string_view kFlags = "vhostuser.record.flags";
inline constexpr std::string_view kDirection = "vhostuser.direction";
inline constexpr std::string_view kChannel = "vhostuser.channel";
inline constexpr std::string_view kSession = "vhostuser.session";
inline constexpr std::string_view kFdCount = "vhostuser.fd_count";
inline constexpr std::string_view kFdKind = "vhostuser.fd.kind";
inline constexpr std::string_view kFdInode = "vhostuser.fd.inode";
inline constexpr std::string_view kFdSize = "vhostuser.fd.size";
inline constexpr std::string_view kFdName = "vhostuser.fd.name";
inline constexpr std::string_view kText = "vhostuser.text";
}  // namespace record_field

}  // namespace vhs::wireshark
