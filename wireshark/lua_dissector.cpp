// Emits the Lua dissector: the tables are printed from the registry, the payload layouts and the
// field catalog; the walking code below mirrors describe_fields (slots present only when their
// bytes are, a group line per region, "extra" for bytes no line explains, "trailing" after
// header.size) and is checked against it by tests/wireshark_lua_test.cpp.
#include "wireshark/lua_dissector.hpp"

#include <set>

#include <fmt/format.h>

#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "wireshark/field_catalog.hpp"

namespace vhs::wireshark {
namespace {

std::string lua_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string proto_field(const CatalogField& f, const std::string& abbrev) {
  const std::string a = lua_string(abbrev), n = lua_string(f.path);
  switch (f.kind) {
    case ValueKind::None: return fmt::format("ProtoField.none({}, {})", a, n);
    case ValueKind::Bool: return fmt::format("ProtoField.bool({}, {})", a, n);
    case ValueKind::Bytes: return fmt::format("ProtoField.bytes({}, {})", a, n);
    case ValueKind::String: return fmt::format("ProtoField.string({}, {})", a, n);
    case ValueKind::Signed: return fmt::format("ProtoField.int64({}, {}, base.DEC)", a, n);
    case ValueKind::Address:
    case ValueKind::Flags: return fmt::format("ProtoField.uint64({}, {}, base.HEX)", a, n);
    case ValueKind::Unsigned:
    case ValueKind::Enum: return fmt::format("ProtoField.uint64({}, {}, base.DEC)", a, n);
  }
  return {};
}

// How the Lua walker reads a slot: "bytes" slots are added from their range, every other one as a
// little-endian number.
bool bytes_style(SlotStyle s) {
  return s == SlotStyle::Padding || s == SlotStyle::PaddingWord || s == SlotStyle::Mac ||
         s == SlotStyle::Uuid;
}

std::string bit_table(std::span<const BitSlot> bits) {
  std::string out = "{";
  for (const BitSlot& b : bits)
    out += fmt::format("{{name={}, shift={}, mask={}, at={}, len={}, flag={}}}, ",
                       lua_string(b.name), b.first_bit(), b.mask >> b.first_bit(), b.byte_offset(),
                       b.byte_length(), b.is_flag() ? "true" : "false");
  return out + "}";
}

std::string slot_table(std::span<const PayloadSlot> slots) {
  std::string out = "{";
  for (const PayloadSlot& s : slots) {
    // A MAC is the first 6 bytes of its u64 (spec "VHOST_USER_SEND_RARP").
    const unsigned value_len = s.style == SlotStyle::Mac ? 6 : s.size;
    out += fmt::format("{{name={}, at={}, size={}, value_len={}, bytes={}", lua_string(s.name),
                       s.offset, s.size, value_len, bytes_style(s.style) ? "true" : "false");
    if (s.style == SlotStyle::IndexNofd) out += ", bits=" + bit_table(layout::kVringIndexBits);
    if (s.style == SlotStyle::StateResult) out += ", bits=" + bit_table(layout::kStateResultBits);
    if (s.style == SlotStyle::Features || s.style == SlotStyle::ProtocolFeatures)
      out += ", feature_bits=true";
    out += "}, ";
  }
  return out + "}";
}

std::string layout_table(PayloadKind kind) {
  const PayloadLayout l = payload_layout(kind);
  const PayloadSizeRule rule = payload_size_rule(kind);
  if (l.any_size) return "{any=true}";
  std::string out = fmt::format("{{fixed={}, fixed_size={}, rule_base={}, rule_element={}",
                                slot_table(l.fixed), l.fixed_size(), rule.base, rule.element);
  if (kind == PayloadKind::Config) {
    out += fmt::format(", config={}", lua_string(l.tail_name));
  } else if (l.tail_size != 0) {
    const bool group = !(l.tail.size() == 1 && l.tail.front().name.empty());
    out += fmt::format(", tail={}, tail_size={}, repeats={}, tail_name={}, group={}",
                       slot_table(l.tail), l.tail_size, l.tail_repeats ? "true" : "false",
                       lua_string(l.tail_name), group ? "true" : "false");
  }
  return out + "}";
}

// The walker, the record parser and the registration; the tables above are spliced in before it.
constexpr std::string_view kLuaBody = R"LUA(
local function u64(tvb, off, size)
  if size == 8 then return tvb(off, 8):le_uint64() end
  return UInt64(tvb(off, size):le_uint())
end

local function join(prefix, name)
  if prefix == "" then return name end
  if name == "" then return prefix end
  return prefix .. "." .. name
end

-- Adds the slots whose bytes are present; st.explained is the end of the last explained byte.
local function walk(tree, tvb, start, n, prefix, slots, base, st)
  for _, s in ipairs(slots) do
    local at = base + s.at
    if at + s.size <= n then
      local path = join(prefix, s.name)
      local item
      if s.bytes then
        item = tree:add(F[path], tvb(start + at, s.value_len))
      else
        local v = u64(tvb, start + at, s.size)
        item = tree:add(F[path], tvb(start + at, s.size), v)
        for _, b in ipairs(s.bits or {}) do
          local bv = v:rshift(b.shift):band(b.mask)
          local r = tvb(start + at + b.at, b.len)
          if b.flag then item:add(F[path .. "." .. b.name], r, bv ~= UInt64(0))
          else item:add(F[path .. "." .. b.name], r, bv) end
        end
        if s.feature_bits then
          for bit = 0, 63 do
            if v:rshift(bit):band(1) ~= UInt64(0) then
              item:add(F[path .. ".bit"], tvb(start + at + math.floor(bit / 8), 1), UInt64(bit))
            end
          end
        end
      end
      if at + s.size > st.explained then st.explained = at + s.size end
    end
  end
end

local function region(tree, tvb, start, n, path, l, at, st)
  if at >= n then return end
  local len = math.min(l.tail_size, n - at)
  local item = tree:add(F[l.tail_name], tvb(start + at, len))
  if at + len > st.explained then st.explained = at + len end
  walk(item, tvb, start, n, l.tail_name, l.tail, at, st)
end

local function payload_kind(channel, info, number, reply, size, tvb, start, n)
  local mem = channel == 0 and (number == SET_MEM_TABLE or number == ADD_MEM_REG)
  if reply then
    if mem and size ~= 8 then return info[2] end
    if size == 0 then return info[4] end
    return info[3]
  end
  if mem and size == 8 then
    local zero = n == 8 and tvb(start, 8):le_uint64() == UInt64(0)
    if number == ADD_MEM_REG or zero then return KIND_U64 end
  end
  return info[2]
end

local function dissect_message(tvb, pinfo, tree, channel, start, len)
  local root = tree:add(F["header"], tvb(start, math.min(len, 12)))
  local number, flags, size
  if len >= 4 then
    number = tvb(start, 4):le_uint()
    root:add(F["header.request"], tvb(start, 4), UInt64(number))
    root:add(A["header.request"], tvb(start, 4), UInt64(number)):set_hidden()
  end
  if len >= 8 then
    flags = tvb(start + 4, 4):le_uint()
    local fi = root:add(F["header.flags"], tvb(start + 4, 4), UInt64(flags))
    root:add(A["header.flags"], tvb(start + 4, 4), UInt64(flags)):set_hidden()
    for _, b in ipairs(HEADER_FLAG_BITS) do
      local v = bit32.band(bit32.rshift(flags, b.shift), b.mask)
      local r = tvb(start + 4 + b.at, b.len)
      local path = "header.flags." .. b.name
      local value = UInt64(v)
      if b.flag then value = v ~= 0 end
      fi:add(F[path], r, value)
      fi:add(A[path], r, value):set_hidden()
    end
  end
  if len < 12 then
    root:add_proto_expert_info(E["truncated-header"],
      string.format("message has %d bytes, the header needs 12", len))
    return "truncated message"
  end
  size = tvb(start + 8, 4):le_uint()
  root:add(F["header.size"], tvb(start + 8, 4), UInt64(size))
  root:add(A["header.size"], tvb(start + 8, 4), UInt64(size)):set_hidden()

  local reply = bit32.band(flags, 4) ~= 0
  local info = (REQUESTS[channel] or {})[number]
  local name = info and info[1] or string.format("request %d", number)
  local label = name .. (reply and " reply" or "")
  local available = len - 12
  local n = math.min(available, size)
  local pstart = start + 12
  local kind = KIND_OPAQUE
  if info then
    kind = payload_kind(channel, info, number, reply, size, tvb, pstart, n)
  else
    tree:add_proto_expert_info(E["unknown-request"],
      string.format("request %d is not defined on this channel", number))
  end
  local l = LAYOUT[kind]
  local st = { explained = 0 }
  if l.any then
    if n > 0 then
      tree:add(F["opaque"], tvb(pstart, n))
      st.explained = n
    end
  else
    if size <= 4096 then
      local ok = size >= l.rule_base
      if ok then
        if l.rule_element == 0 then ok = size == l.rule_base
        else ok = (size - l.rule_base) % l.rule_element == 0 end
      end
      if not ok then
        tree:add_proto_expert_info(E["size-mismatch"],
          string.format("%s payload (%s): found %d bytes", label, kind, size))
      end
    end
    walk(tree, tvb, pstart, n, "", l.fixed, 0, st)
    if l.config then
      if n > l.fixed_size then
        tree:add(F[l.config], tvb(pstart + l.fixed_size, n - l.fixed_size))
        st.explained = n
      end
    elseif l.tail and not l.repeats then
      region(tree, tvb, pstart, n, l.tail_name, l, l.fixed_size, st)
    elseif l.tail then
      local count = 0
      if n >= l.fixed_size then count = math.floor((n - l.fixed_size) / l.tail_size) end
      for i = 0, count - 1 do
        local at = l.fixed_size + i * l.tail_size
        if l.group then region(tree, tvb, pstart, n, l.tail_name, l, at, st)
        else walk(tree, tvb, pstart, n, l.tail_name, l.tail, at, st) end
      end
    end
  end
  local used = math.min(st.explained, n)
  if n > used then tree:add(F["extra"], tvb(pstart + used, n - used)) end
  if available > size then tree:add(F["trailing"], tvb(pstart + size, available - size)) end
  return label
end

local function dissect(tvb, pinfo, tree)
  local total = tvb:captured_len()
  if total < 24 or tvb(0, 4):string() ~= "VHSR" then return 0 end
  pinfo.cols.protocol = "vhost-user"
  local top = tree:add(vhostuser, tvb())
  local kind = tvb(5, 1):uint()
  local header_len = tvb(6, 2):le_uint()
  local direction = tvb(8, 1):uint()
  local channel = tvb(9, 1):uint()
  local session = tvb(12, 4):le_uint()
  local fd_count = tvb(16, 2):le_uint()
  local rec = top:add(R.record, tvb(0, 24))
  rec:add_le(R.kind, tvb(5, 1))
  rec:add_le(R.direction, tvb(8, 1))
  rec:add_le(R.channel, tvb(9, 1))
  rec:add_le(R.flags, tvb(10, 2))
  rec:add_le(R.session, tvb(12, 4))
  rec:add_le(R.fd_count, tvb(16, 2))
  local at = math.min(header_len, total)
  for i = 0, fd_count - 1 do
    if at + 24 > total then break end
    local desc_len = tvb(at, 2):le_uint()
    local name_len = tvb(at + 4, 2):le_uint()
    local fd = top:add(F["fd"], tvb(at, math.min(desc_len, total - at)), UInt64(tvb(at + 2, 1):uint()))
    fd:add_le(R.fd_kind, tvb(at + 2, 1))
    fd:add_le(R.fd_inode, tvb(at + 8, 8))
    fd:add_le(R.fd_size, tvb(at + 16, 8))
    fd:add(R.fd_name, tvb(at + 24, math.min(name_len, total - at - 24)))
    if desc_len < 24 then break end
    at = at + desc_len
  end
  local start = at
  local len = total - start
  local text = KINDS[kind] or string.format("record kind %d", kind)
  if kind == 1 and len > 0 then
    text = dissect_message(tvb, pinfo, top, channel, start, len)
  end
  pinfo.cols.info = string.format("s%d %s %s %s", session, direction == 0 and "F→B" or "B→F",
                                  channel == 0 and "fe" or "be", text)
  return total
end

vhostuser.dissector = dissect
DissectorTable.get("wtap_encap"):add(wtap_encaps.USER0, vhostuser)
)LUA";

}  // namespace

bool lua_decodes_path(std::string_view path) {
  // Device config fields depend on the session's device kind, which only the session analyser
  // knows.
  return !path.starts_with("config.data.");
}

std::string generate_lua_dissector(std::string_view tool_version) {
  const FieldCatalog& catalog = field_catalog();
  std::string out = fmt::format(
      "-- vhostuser.lua: a Wireshark dissector for vhostscope captures (LINKTYPE_USER0, 147).\n"
      "-- Generated by {} (`vhostscope wireshark-lua`) from its request registry, payload\n"
      "-- layouts and field catalog; regenerate instead of editing. Use it where the vhostuser\n"
      "-- epan plugin is not built for your Wireshark: tshark -X lua_script:vhostuser.lua ...\n"
      "-- It decodes the record, the fds and the message layer; the plugin adds session\n"
      "-- analysis (reply pairing, latency, session findings) and device config fields.\n\n"
      "local vhostuser = Proto(\"vhostuser\", \"vhost-user (vhostscope capture)\")\n"
      "local F, A, R, E = {{}}, {{}}, {{}}, {{}}\n",
      tool_version);
  for (const CatalogField& f : catalog.fields) {
    if (!lua_decodes_path(f.path)) continue;
    out += fmt::format("F[{}] = {}\n", lua_string(f.path), proto_field(f, f.name));
    if (!f.alias.empty())
      out += fmt::format("A[{}] = {}\n", lua_string(f.path), proto_field(f, f.alias));
  }
  out += fmt::format(
      "R.record = ProtoField.none(\"vhostuser.record\", \"vhostscope record\")\n"
      "R.kind = ProtoField.uint8({}, \"Record kind\", base.DEC)\n"
      "R.direction = ProtoField.uint8({}, \"Direction\", base.DEC)\n"
      "R.channel = ProtoField.uint8({}, \"Channel\", base.DEC)\n"
      "R.flags = ProtoField.uint16({}, \"Record flags\", base.HEX)\n"
      "R.session = ProtoField.uint32({}, \"Session\", base.DEC)\n"
      "R.fd_count = ProtoField.uint16({}, \"Fd count\", base.DEC)\n"
      "R.fd_kind = ProtoField.uint8({}, \"Fd kind\", base.DEC)\n"
      "R.fd_inode = ProtoField.uint64({}, \"Fd inode\", base.DEC)\n"
      "R.fd_size = ProtoField.uint64({}, \"Fd size\", base.DEC)\n"
      "R.fd_name = ProtoField.string({}, \"Fd name\")\n",
      lua_string(record_field::kKind), lua_string(record_field::kDirection),
      lua_string(record_field::kChannel), lua_string(record_field::kFlags),
      lua_string(record_field::kSession), lua_string(record_field::kFdCount),
      lua_string(record_field::kFdKind), lua_string(record_field::kFdInode),
      lua_string(record_field::kFdSize), lua_string(record_field::kFdName));
  out +=
      "local fields = {}\n"
      "for _, t in ipairs({F, A, R}) do for _, f in pairs(t) do fields[#fields + 1] = f end end\n"
      "vhostuser.fields = fields\n";

  // Findings the message layer can raise on its own.
  for (FindingCode code : {FindingCode::UnknownRequest, FindingCode::TruncatedHeader,
                           FindingCode::PayloadSizeMismatch}) {
    const FindingInfo& f = finding_info(code);
    out += fmt::format(
        "E[{}] = ProtoExpert.new({}, {}, expert.group.PROTOCOL, expert.severity.{})\n",
        lua_string(f.id), lua_string(fmt::format("vhostuser.expert.{}", f.id)), lua_string(f.title),
        f.severity == Severity::Error     ? "ERROR"
        : f.severity == Severity::Warning ? "WARN"
                                          : "NOTE");
  }
  out +=
      "local experts = {}\nfor _, e in pairs(E) do experts[#experts + 1] = e end\n"
      "vhostuser.experts = experts\n\n";

  out += fmt::format("local HEADER_FLAG_BITS = {}\n", bit_table(layout::kHeaderFlagBits));
  out += fmt::format("local SET_MEM_TABLE = {}\nlocal ADD_MEM_REG = {}\n",
                     request_info(FrontendRequest::SET_MEM_TABLE).number,
                     request_info(FrontendRequest::ADD_MEM_REG).number);
  out +=
      "local KINDS = {[1] = \"message\", [2] = \"connect\", [3] = \"disconnect\", "
      "[4] = \"error\", [5] = \"ring-state\", [6] = \"notify\"}\n";

  // Requests per channel: name, payload kind of the request, of its answer, of an empty answer
  // (reply_payload_for: SET_LOG_BASE's may be empty).
  std::set<PayloadKind> kinds{PayloadKind::U64, PayloadKind::Ack, PayloadKind::Opaque};
  out += "local REQUESTS = {[0] = {}, [1] = {}}\n";
  for (const RequestInfo& r : all_requests()) {
    const PayloadKind empty_reply = reply_payload_for(r, 0);
    out += fmt::format("REQUESTS[{}][{}] = {{{}, {}, {}, {}}}\n", static_cast<int>(r.channel),
                       r.number, lua_string(r.name), lua_string(payload_kind_name(r.payload)),
                       lua_string(payload_kind_name(r.reply_payload)),
                       lua_string(payload_kind_name(empty_reply)));
    kinds.insert(r.payload);
    kinds.insert(r.reply_payload);
    kinds.insert(empty_reply);
  }
  out += fmt::format("local KIND_U64 = {}\nlocal KIND_OPAQUE = {}\n",
                     lua_string(payload_kind_name(PayloadKind::U64)),
                     lua_string(payload_kind_name(PayloadKind::Opaque)));
  out += "local LAYOUT = {}\n";
  for (PayloadKind k : kinds)
    out += fmt::format("LAYOUT[{}] = {}\n", lua_string(payload_kind_name(k)), layout_table(k));
  out += kLuaBody;
  return out;
}

}  // namespace vhs::wireshark
