// The typed value of one field of the field tree, kept apart from its rendering so consumers (the
// filter language, the field diff, later JSON output and a Wireshark dissector) compare numbers as
// numbers and names as names instead of re-parsing rendered text.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vhs {

enum class ValueKind : uint8_t {
  None,      // a group node (header, region[0]): only its rendering says something
  Unsigned,  // counts, sizes, indices
  Signed,
  Bool,     // single flag bits (header.flags.reply, vring.nofd)
  Enum,     // a number with a name from a small wire enumeration ("" when unnamed)
  Bytes,    // padding, opaque payloads, MAC and UUID bytes, config space
  String,   // text carried on the wire
  Address,  // a u64 address or offset, shown in hex
  Flags,    // a bit word with the names of its set bits ("VERSION_1|PROTOCOL_FEATURES")
};

std::string_view value_kind_name(ValueKind kind);  // "unsigned", "enum", ...

struct FieldValue {
  ValueKind kind = ValueKind::None;
  uint64_t number = 0;  // Unsigned, Bool (0/1), Enum, Address, Flags; Signed as two's complement
  std::string name;     // Enum: its name; Flags: '|'-separated names of the set bits; String: text
  std::vector<uint8_t> bytes;  // Bytes

  static FieldValue none() { return {}; }
  static FieldValue unsigned_number(uint64_t v) { return {ValueKind::Unsigned, v, {}, {}}; }
  static FieldValue signed_number(int64_t v) {
    return {ValueKind::Signed, static_cast<uint64_t>(v), {}, {}};
  }
  static FieldValue boolean(bool v) { return {ValueKind::Bool, v ? 1u : 0u, {}, {}}; }
  static FieldValue enumerated(uint64_t v, std::string_view n) {
    return {ValueKind::Enum, v, std::string(n), {}};
  }
  static FieldValue raw_bytes(std::span<const uint8_t> b) {
    return {ValueKind::Bytes, 0, {}, {b.begin(), b.end()}};
  }
  static FieldValue text(std::string_view s) { return {ValueKind::String, 0, std::string(s), {}}; }
  static FieldValue address(uint64_t v) { return {ValueKind::Address, v, {}, {}}; }
  static FieldValue flags(uint64_t v, std::string_view names) {
    return {ValueKind::Flags, v, std::string(names), {}};
  }

  // True for the kinds whose `number` is the value (everything but None, Bytes and String).
  bool is_numeric() const {
    return kind != ValueKind::None && kind != ValueKind::Bytes && kind != ValueKind::String;
  }
  int64_t as_signed() const { return static_cast<int64_t>(number); }
  // Flags: whether `flag` (case-insensitive) is one of the set bits' names.
  bool has_flag_named(std::string_view flag) const;

  bool operator==(const FieldValue&) const = default;
};

}  // namespace vhs
