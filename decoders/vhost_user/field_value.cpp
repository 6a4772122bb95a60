// FieldValue helpers (see field_value.hpp).
#include "decoders/vhost_user/field_value.hpp"

#include <cctype>

namespace vhs {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::string_view value_kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::None: return "none";
    case ValueKind::Unsigned: return "unsigned";
    case ValueKind::Signed: return "signed";
    case ValueKind::Bool: return "bool";
    case ValueKind::Enum: return "enum";
    case ValueKind::Bytes: return "bytes";
    case ValueKind::String: return "string";
    case ValueKind::Address: return "address";
    case ValueKind::Flags: return "flags";
  }
  return "unknown";
}

bool FieldValue::has_flag_named(std::string_view flag) const {
  if (kind != ValueKind::Flags || flag.empty()) return false;
  std::string_view rest = name;
  while (!rest.empty()) {
    const size_t bar = rest.find('|');
    if (iequals(rest.substr(0, bar), flag)) return true;
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return false;
}

}  // namespace vhs
