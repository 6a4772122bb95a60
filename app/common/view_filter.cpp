// Filter language: tokenizer, recursive-descent parser and cost-ordered evaluator over Store
// entries. Names, categories, finding ids and field paths are resolved against the decoders'
// tables at parse time, so a typo is reported while typing instead of silently matching nothing.
#include "app/common/view_filter.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <variant>

#include <fmt/format.h>

#include "captures/model/store.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/field_paths.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs::view {
namespace {

// ---------------------------------------------------------------------------------------------
// Small text helpers

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

// Case-insensitive glob with '*' (any run) and '?' (one char).
bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool has_glob(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

// ---------------------------------------------------------------------------------------------
// Tokens

enum class Tok : uint8_t { End, LParen, RParen, Not, And, Or, Cmp, Word, String };
enum class CmpOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, Contains };

struct Token {
  Tok kind = Tok::End;
  CmpOp cmp = CmpOp::Eq;
  std::string text;
  size_t pos = 0;
};

std::string_view cmp_text(CmpOp op) {
  switch (op) {
    case CmpOp::Eq: return "==";
    case CmpOp::Ne: return "!=";
    case CmpOp::Lt: return "<";
    case CmpOp::Le: return "<=";
    case CmpOp::Gt: return ">";
    case CmpOp::Ge: return ">=";
    case CmpOp::Contains: return "~";
  }
  return "?";
}

bool is_word_char(char c) {
  return !std::isspace(static_cast<unsigned char>(c)) && c != '(' && c != ')' && c != '!' &&
         c != '=' && c != '<' && c != '>' && c != '~' && c != '&' && c != '|' && c != '"' &&
         c != '\'';
}

bool tokenize(std::string_view s, std::vector<Token>& out, FilterError& err) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    auto rest = s.substr(i);
    auto starts = [&](std::string_view p) {
      return rest.size() >= p.size() && iequals(rest.substr(0, p.size()), p);
    };
    // The direction words contain '>' and are checked before operators.
    if ((starts("fe>be") || starts("be>fe")) &&
        (rest.size() == 5 || !is_word_char(rest[5]) || rest[5] == ')')) {
      t.kind = Tok::Word;
      t.text = std::string(rest.substr(0, 5));
      i += 5;
    } else if (c == '(') {
      t.kind = Tok::LParen;
      ++i;
    } else if (c == ')') {
      t.kind = Tok::RParen;
      ++i;
    } else if (starts("&&")) {
      t.kind = Tok::And;
      i += 2;
    } else if (starts("||")) {
      t.kind = Tok::Or;
      i += 2;
    } else if (starts("==") || starts("!=") || starts("<=") || starts(">=")) {
      t.kind = Tok::Cmp;
      t.cmp = c == '=' ? CmpOp::Eq : c == '!' ? CmpOp::Ne : c == '<' ? CmpOp::Le : CmpOp::Ge;
      i += 2;
    } else if (c == '!') {
      t.kind = Tok::Not;
      ++i;
    } else if (c == '=' || c == '<' || c == '>' || c == '~') {
      t.kind = Tok::Cmp;
      t.cmp = c == '=' ? CmpOp::Eq : c == '<' ? CmpOp::Lt : c == '>' ? CmpOp::Gt : CmpOp::Contains;
      ++i;
    } else if (c == '&' || c == '|') {
      err = {std::string("single '") + c + "': use '" + c + c + "' or the word " +
                 (c == '&' ? "'and'" : "'or'"),
             i};
      return false;
    } else if (c == '"' || c == '\'') {
      size_t end = s.find(c, i + 1);
      if (end == std::string_view::npos) {
        err = {"unterminated quoted string", i};
        return false;
      }
      t.kind = Tok::String;
      t.text = std::string(s.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      size_t j = i;
      while (j < s.size() && is_word_char(s[j])) ++j;
      t.text = std::string(s.substr(i, j - i));
      i = j;
      if (iequals(t.text, "and"))
        t.kind = Tok::And;
      else if (iequals(t.text, "or"))
        t.kind = Tok::Or;
      else if (iequals(t.text, "not"))
        t.kind = Tok::Not;
      else
        t.kind = Tok::Word;
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.pos = s.size();
  out.push_back(end);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Literals: numbers with optional units, or text.

enum class Unit : uint8_t { None, Bytes, Duration };

struct Literal {
  bool numeric = false;
  uint64_t number = 0;
  std::string text;  // as typed
};

// "0x1f", "4096", "4K", "2GiB", "1.5ms", "3s". `default_scale` multiplies unit-less numbers
// (e.g. 1e6 so that `latency > 5` means 5 ms).
bool parse_number(std::string_view s, Unit unit, double default_scale, uint64_t& out) {
  if (s.empty()) return false;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    auto r = std::from_chars(s.data() + 2, s.data() + s.size(), out, 16);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  }
  size_t digits = 0;
  while (digits < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[digits])) || s[digits] == '.'))
    ++digits;
  if (digits == 0) return false;
  std::string_view num = s.substr(0, digits);
  std::string suffix = to_lower(s.substr(digits));
  double scale = 1;
  if (suffix.empty()) {
    scale = default_scale;
  } else if (unit == Unit::Bytes) {
    if (suffix == "k" || suffix == "kib" || suffix == "kb")
      scale = 1024.0;
    else if (suffix == "m" || suffix == "mib" || suffix == "mb")
      scale = 1024.0 * 1024;
    else if (suffix == "g" || suffix == "gib" || suffix == "gb")
      scale = 1024.0 * 1024 * 1024;
    else if (suffix == "t" || suffix == "tib" || suffix == "tb")
      scale = 1024.0 * 1024 * 1024 * 1024;
    else
      return false;
  } else if (unit == Unit::Duration) {
    if (suffix == "ns")
      scale = 1;
    else if (suffix == "us" || suffix == "µs")
      scale = 1e3;
    else if (suffix == "ms")
      scale = 1e6;
    else if (suffix == "s")
      scale = 1e9;
    else if (suffix == "min")
      scale = 60e9;
    else
      return false;
  } else {
    return false;
  }
  if (num.find('.') == std::string_view::npos && scale == 1) {
    auto r = std::from_chars(num.data(), num.data() + num.size(), out, 10);
    return r.ec == std::errc() && r.ptr == num.data() + num.size();
  }
  double v = 0;
  auto r = std::from_chars(num.data(), num.data() + num.size(), v);
  if (r.ec != std::errc() || r.ptr != num.data() + num.size()) return false;
  double scaled = v * scale;
  if (!(scaled >= 0) || scaled > 1.8e19) return false;
  out = static_cast<uint64_t>(std::llround(scaled));
  return true;
}

bool compare_numbers(uint64_t v, CmpOp op, uint64_t lit) {
  switch (op) {
    case CmpOp::Eq: return v == lit;
    case CmpOp::Ne: return v != lit;
    case CmpOp::Lt: return v < lit;
    case CmpOp::Le: return v <= lit;
    case CmpOp::Gt: return v > lit;
    case CmpOp::Ge: return v >= lit;
    case CmpOp::Contains: return (v & lit) == lit;  // on numbers, '~' tests that all bits are set
  }
  return false;
}

bool compare_text(std::string_view v, CmpOp op, std::string_view lit) {
  const bool eq = iequals(v, lit);
  switch (op) {
    case CmpOp::Eq: return eq;
    case CmpOp::Ne: return !eq;
    case CmpOp::Contains: return icontains(v, lit);
    default: return false;  // ordering text makes no sense
  }
}

std::optional<bool> literal_bool(const Literal& lit) {
  if (lit.numeric) {
    if (lit.number > 1) return std::nullopt;
    return lit.number == 1;
  }
  for (std::string_view t : {"yes", "true", "on", "set"})
    if (iequals(lit.text, t)) return true;
  for (std::string_view f : {"no", "false", "off", "clear"})
    if (iequals(lit.text, f)) return false;
  return std::nullopt;
}

bool compare_signed(int64_t v, CmpOp op, uint64_t lit) {
  if (lit > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return op == CmpOp::Ne;
  const int64_t l = static_cast<int64_t>(lit);
  switch (op) {
    case CmpOp::Eq: return v == l;
    case CmpOp::Ne: return v != l;
    case CmpOp::Lt: return v < l;
    case CmpOp::Le: return v <= l;
    case CmpOp::Gt: return v > l;
    case CmpOp::Ge: return v >= l;
    case CmpOp::Contains: return false;
  }
  return false;
}

// One field of the tree against a literal, by the field's type: numbers numerically (a rendering
// is never re-parsed), enumerations and bit words by name or number, bools as yes/no, text and
// bytes as their text.
bool compare_field(const Field& f, CmpOp op, const Literal& lit) {
  const FieldValue& v = f.value;
  switch (v.kind) {
    case ValueKind::None:
    case ValueKind::Bytes: return compare_text(f.text, op, lit.text);
    case ValueKind::String: return compare_text(v.name, op, lit.text);
    case ValueKind::Bool: {
      const auto b = literal_bool(lit);
      if (!b) return false;
      if (op == CmpOp::Eq) return (v.number != 0) == *b;
      if (op == CmpOp::Ne) return (v.number != 0) != *b;
      return false;
    }
    case ValueKind::Enum:
      if (lit.numeric) return compare_numbers(v.number, op, lit.number);
      // '~' also searches the rendering: `fd ~ hugepages` finds an fd by its path.
      if (op == CmpOp::Contains) return icontains(v.name, lit.text) || icontains(f.text, lit.text);
      return compare_text(v.name, op, lit.text);
    case ValueKind::Flags:
      if (lit.numeric) return compare_numbers(v.number, op, lit.number);
      if (op == CmpOp::Eq || op == CmpOp::Contains) return v.has_flag_named(lit.text);
      if (op == CmpOp::Ne) return !v.has_flag_named(lit.text);
      return false;
    case ValueKind::Signed:
      if (lit.numeric) return compare_signed(v.as_signed(), op, lit.number);
      return compare_text(f.text, op, lit.text);
    case ValueKind::Unsigned:
    case ValueKind::Address:
      if (lit.numeric) return compare_numbers(v.number, op, lit.number);
      return compare_text(f.text, op, lit.text);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Predicates

enum class Subject : uint8_t {
  // entry
  Size,
  Flags,
  Code,
  Fds,
  Latency,
  Session,
  EntryNo,
  Time,
  Name,
  // decoded payload
  VringIndex,
  VringNum,
  Value,
  Features,
  Nregions,
  // field tree
  Path,
};

FilterCost subject_cost(Subject s) {
  if (s == Subject::Path) return FilterCost::Fields;
  if (s >= Subject::VringIndex) return FilterCost::Decode;
  return FilterCost::Entry;
}

struct AliasRow {
  std::string_view names;  // '|'-separated spellings, first is canonical
  Subject subject;
  Unit unit;
  double default_scale;
  std::string_view meaning;
};

// The short names a comparison may use; everything else is a describe_fields path.
constexpr AliasRow kAliases[] = {
    {"size|header.size|len", Subject::Size, Unit::Bytes, 1,
     "payload size from the header (bytes; K/M/G suffixes)"},
    {"flags|header.flags", Subject::Flags, Unit::None, 1,
     "header flags (~ tests bits: flags ~ 0x8)"},
    {"code|header.request|request", Subject::Code, Unit::None, 1, "request number"},
    {"fds|fd_count", Subject::Fds, Unit::None, 1, "number of passed fds"},
    {"latency|lat", Subject::Latency, Unit::Duration, 1e6,
     "reply latency (a request uses its reply's); unit-less = ms"},
    {"session", Subject::Session, Unit::None, 1, "session number"},
    {"entry|no|#", Subject::EntryNo, Unit::None, 1, "record number #N as shown (1-based)"},
    {"time|t", Subject::Time, Unit::Duration, 1e9, "time since the first record; unit-less = s"},
    {"name", Subject::Name, Unit::None, 1, "request name (== exact, ~ substring)"},
    {"vring.index|vring|queue|q|index|idx", Subject::VringIndex, Unit::None, 1,
     "queue index the message names"},
    {"vring.num|num", Subject::VringNum, Unit::None, 1,
     "num of a vring-state payload (size, base, enable)"},
    {"value|u64", Subject::Value, Unit::None, 1, "a u64 payload (acks, counts, feature words)"},
    {"features", Subject::Features, Unit::None, 1,
     "a feature word (~ NAME or ~ 0xMASK tests bits)"},
    {"nregions|regions", Subject::Nregions, Unit::None, 1, "regions in a memory table"},
};

const AliasRow* find_alias(std::string_view word) {
  for (const auto& row : kAliases) {
    std::string_view names = row.names;
    while (!names.empty()) {
      size_t bar = names.find('|');
      if (iequals(names.substr(0, bar), word)) return &row;
      if (bar == std::string_view::npos) break;
      names.remove_prefix(bar + 1);
    }
  }
  return nullptr;
}

std::string_view canonical(const AliasRow& row) { return row.names.substr(0, row.names.find('|')); }

struct NamePred {
  std::vector<bool> requests;  // indexed by position in all_requests()
  std::string label;
};
struct DirectionPred {
  Direction dir;
};
struct ChannelPred {
  Channel channel;
};
struct RolePred {
  bool request, reply, ack;
  std::string_view label;
};
struct KindPred {
  RecordKind kind;
};
struct CategoryPred {
  Category category;
};
struct AnyFindingPred {};
struct FindingIdPred {
  std::vector<bool> codes;  // indexed by FindingCode
  std::string label;
};
struct SeverityPred {
  Severity severity;
};
struct UnansweredPred {};
struct ComparePred {
  Subject subject;
  CmpOp op;
  Literal lit;
  std::string label;  // subject as it will be shown
  std::string path;   // Subject::Path: query path, lower case
  bool path_has_index = false;
};

using Pred = std::variant<NamePred, DirectionPred, ChannelPred, RolePred, KindPred, CategoryPred,
                          AnyFindingPred, FindingIdPred, SeverityPred, UnansweredPred, ComparePred>;

// Per-evaluation cache so several predicates on one entry decode it once.
struct EvalContext {
  const Store& store;
  size_t index;
  const StoreEntry entry;  // a value: Store::entry assembles one per call
  std::optional<DecodedMessage> msg;
  std::optional<std::vector<Field>> fields;

  const DecodedMessage& decoded() {
    if (!msg) msg = store.decoded(index);
    return *msg;
  }
  const std::vector<Field>& field_list() {
    if (!fields) {
      const DecodedMessage& m = decoded();
      DecodeContext ctx = store.context(index);
      fields = describe_fields(m, store.bytes(index), store.fds(index), ctx);
    }
    return *fields;
  }
};

uint64_t bit(PayloadKind k) { return uint64_t{1} << static_cast<unsigned>(k); }

// Payload kinds a decoded subject can come from: lets the evaluator skip decoding messages whose
// registry row cannot carry the subject (the cheap-first rule).
uint64_t kinds_for(Subject s) {
  switch (s) {
    case Subject::VringIndex:
      return bit(PayloadKind::VringState) | bit(PayloadKind::VringAddr) |
             bit(PayloadKind::VringIndexFd) | bit(PayloadKind::VringArea);
    case Subject::VringNum: return bit(PayloadKind::VringState);
    case Subject::Value:
      return bit(PayloadKind::U64) | bit(PayloadKind::Features) |
             bit(PayloadKind::ProtocolFeatures) | bit(PayloadKind::Ack) | bit(PayloadKind::Status) |
             bit(PayloadKind::Mac);
    case Subject::Features: return bit(PayloadKind::Features) | bit(PayloadKind::ProtocolFeatures);
    case Subject::Nregions: return bit(PayloadKind::MemTable);
    default: return ~uint64_t{0};
  }
}

bool may_carry(Subject s, const StoreEntry& e) {
  if (!e.is_message() || !e.header_complete || e.info == nullptr) return false;
  uint64_t k = kinds_for(s);
  return (k & (bit(e.info->payload) | bit(e.info->reply_payload))) != 0;
}

std::optional<uint64_t> decoded_subject(Subject s, const DecodedMessage& m) {
  const Payload& p = m.payload;
  switch (s) {
    case Subject::VringIndex:
      if (auto* v = std::get_if<VringStateValue>(&p)) return v->index;
      if (auto* v = std::get_if<VringAddrValue>(&p)) return v->index;
      if (auto* v = std::get_if<VringIndexFdValue>(&p)) return v->index();
      if (auto* v = std::get_if<VringAreaValue>(&p)) return v->index();
      return std::nullopt;
    case Subject::VringNum:
      if (auto* v = std::get_if<VringStateValue>(&p)) return v->num;
      return std::nullopt;
    case Subject::Value:
      if (auto* v = std::get_if<U64Value>(&p)) return v->value;
      return std::nullopt;
    case Subject::Features:
      if (m.payload_kind != PayloadKind::Features &&
          m.payload_kind != PayloadKind::ProtocolFeatures)
        return std::nullopt;
      if (auto* v = std::get_if<U64Value>(&p)) return v->value;
      return std::nullopt;
    case Subject::Nregions:
      if (auto* v = std::get_if<MemTableValue>(&p)) return v->nregions;
      return std::nullopt;
    default: return std::nullopt;
  }
}

// `features ~ VERSION_1`: the bit named by the literal in this message's feature word.
std::optional<unsigned> feature_bit_named(const DecodedMessage& m, DeviceKind device,
                                          std::string_view name) {
  for (unsigned b = 0; b < 64; ++b) {
    std::string_view n = m.payload_kind == PayloadKind::ProtocolFeatures ? protocol_feature_name(b)
                                                                         : feature_name(device, b);
    if (!n.empty() && iequals(n, name)) return b;
  }
  return std::nullopt;
}

std::optional<uint64_t> entry_subject(Subject s, EvalContext& ctx) {
  const StoreEntry& e = ctx.entry;
  switch (s) {
    case Subject::Size:
      if (!e.is_message() || !e.header_complete) return std::nullopt;
      return e.header.size;
    case Subject::Flags:
      if (!e.is_message() || !e.header_complete) return std::nullopt;
      return e.header.flags;
    case Subject::Code:
      if (!e.is_message() || !e.header_complete) return std::nullopt;
      return e.header.request;
    case Subject::Fds: return e.fd_count;
    case Subject::Latency:
      if (!e.is_message() || e.peer == kNoEntry) return std::nullopt;
      if (e.role == MessageRole::Request) return ctx.store.entry(e.peer).latency_ns;
      return e.latency_ns;
    case Subject::Session: return e.session;
    case Subject::EntryNo: return ctx.index + 1;  // "#N" as every view shows it (1-based)
    case Subject::Time: {
      uint64_t first = ctx.store.first_timestamp();
      return e.timestamp_ns > first ? e.timestamp_ns - first : 0;
    }
    default: return std::nullopt;
  }
}

// Does field path `p` (as describe_fields renders it) answer query `q`? Array indices are ignored
// unless the query has some, and a query may name any dotted suffix ("desc_user_addr").
bool path_matches(std::string_view p, const ComparePred& c) {
  std::string norm;
  norm.reserve(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    if (!c.path_has_index && p[i] == '[') {
      size_t close = p.find(']', i);
      if (close != std::string_view::npos) {
        i = close;
        continue;
      }
    }
    norm.push_back(lower(p[i]));
  }
  std::string_view n = norm;
  const std::string& q = c.path;
  bool glob = has_glob(q);
  for (;;) {
    if (glob ? glob_match(q, n) : n == q) return true;
    size_t dot = n.find('.');
    if (dot == std::string_view::npos) return false;
    n.remove_prefix(dot + 1);
  }
}

bool eval_compare(const ComparePred& c, EvalContext& ctx) {
  const StoreEntry& e = ctx.entry;
  if (c.subject == Subject::Name) {
    if (!e.is_message()) return false;
    std::string_view name = e.info ? e.info->name : std::string_view("UNKNOWN");
    bool hit = compare_text(name, c.op, c.lit.text);
    if (!hit && e.info && !e.info->old_name.empty() && c.op != CmpOp::Ne)
      hit = compare_text(e.info->old_name, c.op, c.lit.text);
    return hit;
  }
  FilterCost cost = subject_cost(c.subject);
  if (cost == FilterCost::Entry) {
    auto v = entry_subject(c.subject, ctx);
    return v && c.lit.numeric && compare_numbers(*v, c.op, c.lit.number);
  }
  if (cost == FilterCost::Decode) {
    if (!may_carry(c.subject, e)) return false;
    const DecodedMessage& m = ctx.decoded();
    auto v = decoded_subject(c.subject, m);
    if (!v) return false;
    if (c.lit.numeric) return compare_numbers(*v, c.op, c.lit.number);
    if (c.subject == Subject::Features &&
        (c.op == CmpOp::Contains || c.op == CmpOp::Eq || c.op == CmpOp::Ne)) {
      auto b = feature_bit_named(m, ctx.store.context(ctx.index).device, c.lit.text);
      if (!b) return false;
      bool set = (*v >> *b) & 1u;
      return c.op == CmpOp::Ne ? !set : set;
    }
    return false;
  }
  // Field tree: any field whose path matches and whose value compares.
  if (!e.is_message() || !e.header_complete) return false;
  for (const Field& f : ctx.field_list())
    if (path_matches(f.path, c) && compare_field(f, c.op, c.lit)) return true;
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Tree

struct FilterNode {
  enum class Op : uint8_t { And, Or, Not, Leaf };
  Op op = Op::Leaf;
  std::vector<std::unique_ptr<FilterNode>> kids;
  Pred pred;
  FilterCost cost = FilterCost::Entry;
  bool is_volatile = false;
};

namespace {

bool eval_leaf(const Pred& pred, EvalContext& ctx) {
  const StoreEntry& e = ctx.entry;
  return std::visit(
      [&](const auto& p) -> bool {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, NamePred>) {
          if (!e.is_message() || e.info == nullptr) return false;
          size_t idx = static_cast<size_t>(e.info - all_requests().data());
          return idx < p.requests.size() && p.requests[idx];
        } else if constexpr (std::is_same_v<T, DirectionPred>) {
          return e.direction == p.dir;
        } else if constexpr (std::is_same_v<T, ChannelPred>) {
          return e.channel == p.channel;
        } else if constexpr (std::is_same_v<T, RolePred>) {
          if (!e.is_message()) return false;
          return (p.request && e.role == MessageRole::Request) ||
                 (p.reply && e.role == MessageRole::Reply) || (p.ack && e.role == MessageRole::Ack);
        } else if constexpr (std::is_same_v<T, KindPred>) {
          return e.kind == p.kind;
        } else if constexpr (std::is_same_v<T, CategoryPred>) {
          return e.is_message() && e.info && e.info->category == p.category;
        } else if constexpr (std::is_same_v<T, AnyFindingPred>) {
          return e.has_findings;
        } else if constexpr (std::is_same_v<T, FindingIdPred>) {
          if (!e.has_findings) return false;
          for (const Finding& f : ctx.store.findings(ctx.index)) {
            size_t c = static_cast<size_t>(f.code);
            if (c < p.codes.size() && p.codes[c]) return true;
          }
          return false;
        } else if constexpr (std::is_same_v<T, SeverityPred>) {
          if (!e.has_findings) return false;
          for (const Finding& f : ctx.store.findings(ctx.index))
            if (f.severity() == p.severity) return true;
          return false;
        } else if constexpr (std::is_same_v<T, UnansweredPred>) {
          return e.is_message() && e.role == MessageRole::Request &&
                 e.expects != ReplyExpectation::None && e.peer == kNoEntry;
        } else {
          return eval_compare(p, ctx);
        }
      },
      pred);
}

bool eval_node(const FilterNode& n, EvalContext& ctx) {
  switch (n.op) {
    case FilterNode::Op::And:
      for (const auto& k : n.kids)
        if (!eval_node(*k, ctx)) return false;
      return true;
    case FilterNode::Op::Or:
      for (const auto& k : n.kids)
        if (eval_node(*k, ctx)) return true;
      return false;
    case FilterNode::Op::Not: return !eval_node(*n.kids.front(), ctx);
    case FilterNode::Op::Leaf: return eval_leaf(n.pred, ctx);
  }
  return false;
}

std::string leaf_text(const Pred& pred) {
  return std::visit(
      [](const auto& p) -> std::string {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, NamePred>)
          return p.label;
        else if constexpr (std::is_same_v<T, DirectionPred>)
          return p.dir == Direction::ToBackend ? "fe>be" : "be>fe";
        else if constexpr (std::is_same_v<T, ChannelPred>)
          return p.channel == Channel::Frontend ? "ch:fe" : "ch:be";
        else if constexpr (std::is_same_v<T, RolePred>)
          return std::string(p.label);
        else if constexpr (std::is_same_v<T, KindPred>)
          return "kind:" + std::string(record_kind_name(p.kind));
        else if constexpr (std::is_same_v<T, CategoryPred>)
          return "cat:" + std::string(category_name(p.category));
        else if constexpr (std::is_same_v<T, AnyFindingPred>)
          return "finding";
        else if constexpr (std::is_same_v<T, FindingIdPred>)
          return "finding:" + p.label;
        else if constexpr (std::is_same_v<T, SeverityPred>)
          return std::string(severity_name(p.severity));
        else if constexpr (std::is_same_v<T, UnansweredPred>)
          return "unanswered";
        else
          return p.label + " " + std::string(cmp_text(p.op)) + " " + p.lit.text;
      },
      pred);
}

std::string node_text(const FilterNode& n) {
  switch (n.op) {
    case FilterNode::Op::Leaf: return leaf_text(n.pred);
    case FilterNode::Op::Not: return "not " + node_text(*n.kids.front());
    case FilterNode::Op::And:
    case FilterNode::Op::Or: {
      std::string s = "(";
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i) s += n.op == FilterNode::Op::And ? " and " : " or ";
        s += node_text(*n.kids[i]);
      }
      return s + ")";
    }
  }
  return {};
}

std::unique_ptr<FilterNode> leaf(Pred p, FilterCost cost, bool vol) {
  auto n = std::make_unique<FilterNode>();
  n->op = FilterNode::Op::Leaf;
  n->pred = std::move(p);
  n->cost = cost;
  n->is_volatile = vol;
  return n;
}

// Joins into an And/Or node, flattening nested nodes of the same operator, and orders the
// children cheapest first (the predicates are pure, so order does not change the answer).
std::unique_ptr<FilterNode> join(FilterNode::Op op, std::unique_ptr<FilterNode> a,
                                 std::unique_ptr<FilterNode> b) {
  auto n = std::make_unique<FilterNode>();
  n->op = op;
  for (auto* part : {&a, &b}) {
    if ((*part)->op == op) {
      for (auto& k : (*part)->kids) n->kids.push_back(std::move(k));
    } else {
      n->kids.push_back(std::move(*part));
    }
  }
  std::stable_sort(n->kids.begin(), n->kids.end(),
                   [](const auto& x, const auto& y) { return x->cost < y->cost; });
  n->cost = FilterCost::Entry;
  for (const auto& k : n->kids) {
    n->cost = std::max(n->cost, k->cost);
    n->is_volatile = n->is_volatile || k->is_volatile;
  }
  return n;
}

class Parser {
 public:
  Parser(std::vector<Token> toks, FilterError& err) : toks_(std::move(toks)), err_(err) {}

  std::unique_ptr<FilterNode> parse_all() {
    auto n = parse_or();
    if (!n) return nullptr;
    if (peek().kind != Tok::End)
      return fail(peek().kind == Tok::RParen ? "unbalanced ')'" : "unexpected input", peek().pos);
    return n;
  }

 private:
  const Token& peek() const { return toks_[pos_]; }
  const Token& take() { return toks_[pos_++]; }

  std::unique_ptr<FilterNode> fail(std::string msg, size_t at) {
    if (err_.message.empty()) err_ = {std::move(msg), at};
    return nullptr;
  }

  std::unique_ptr<FilterNode> parse_or() {
    auto left = parse_and();
    if (!left) return nullptr;
    while (peek().kind == Tok::Or) {
      take();
      auto right = parse_and();
      if (!right) return nullptr;
      left = join(FilterNode::Op::Or, std::move(left), std::move(right));
    }
    return left;
  }

  // Juxtaposition means "and": `SET_VRING_CALL fe>be` reads naturally.
  std::unique_ptr<FilterNode> parse_and() {
    auto left = parse_unary();
    if (!left) return nullptr;
    for (;;) {
      Tok k = peek().kind;
      if (k == Tok::And) {
        take();
      } else if (!(k == Tok::Word || k == Tok::LParen || k == Tok::Not || k == Tok::String)) {
        break;
      }
      auto right = parse_unary();
      if (!right) return nullptr;
      left = join(FilterNode::Op::And, std::move(left), std::move(right));
    }
    return left;
  }

  std::unique_ptr<FilterNode> parse_unary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Not: {
        take();
        auto inner = parse_unary();
        if (!inner) return nullptr;
        auto n = std::make_unique<FilterNode>();
        n->op = FilterNode::Op::Not;
        n->cost = inner->cost;
        n->is_volatile = inner->is_volatile;
        n->kids.push_back(std::move(inner));
        return n;
      }
      case Tok::LParen: {
        size_t at = t.pos;
        take();
        auto inner = parse_or();
        if (!inner) return nullptr;
        if (peek().kind != Tok::RParen) return fail("missing ')' for the '(' here", at);
        take();
        return inner;
      }
      case Tok::Word:
      case Tok::String: return parse_atom();
      case Tok::End: return fail("expression ends too early", t.pos);
      case Tok::RParen: return fail("nothing between '(' and ')'", t.pos);
      case Tok::And:
      case Tok::Or: return fail("'and'/'or' needs something on its left", t.pos);
      case Tok::Cmp:
        return fail("comparison needs a field on its left (e.g. vring.index == 1)", t.pos);
    }
    return fail("unexpected input", t.pos);
  }

  std::unique_ptr<FilterNode> parse_atom() {
    Token w = take();
    if (peek().kind == Tok::Cmp) {
      Token op = take();
      const Token& v = peek();
      if (v.kind != Tok::Word && v.kind != Tok::String)
        return fail(std::string("a value must follow '") + std::string(cmp_text(op.cmp)) + "'",
                    v.pos);
      Token value = take();
      return comparison(w, op.cmp, value);
    }
    if (w.kind == Tok::String)
      return fail("a quoted string must follow a comparison (name ~ \"VRING\")", w.pos);
    return word(w);
  }

  std::unique_ptr<FilterNode> comparison(const Token& w, CmpOp op, const Token& value) {
    ComparePred c;
    c.op = op;
    c.lit.text = value.text;
    // Paths of the earlier naming ("vring_state.num", "desc_user_addr") still work.
    const std::string word = current_field_path(w.text);
    const AliasRow* alias =
        find_alias(word == w.text || word.find('.') != std::string::npos ? word : w.text);
    // The request and the header flags also answer to names (header.request == SET_VRING_NUM,
    // flags ~ NEED_REPLY): those compare the typed field instead of the entry's number.
    uint64_t ignored = 0;
    const bool named =
        value.kind == Tok::String || !parse_number(value.text, Unit::None, 1, ignored);
    std::string path_word = word;
    if (alias && named && (alias->subject == Subject::Code || alias->subject == Subject::Flags)) {
      path_word = alias->subject == Subject::Code ? "header.request" : "header.flags";
      alias = nullptr;
    }
    Unit unit = Unit::None;
    double scale = 1;
    if (alias) {
      c.subject = alias->subject;
      c.label = std::string(canonical(*alias));
      unit = alias->unit;
      scale = alias->default_scale;
    } else {
      if (path_word.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]*?") !=
          std::string::npos)
        return fail("'" + w.text + "' is not a field name", w.pos);
      c.subject = Subject::Path;
      unit = Unit::Bytes;  // field values are mostly addresses and sizes: 4K, 1G read naturally
      c.path = to_lower(path_word);
      c.path_has_index = c.path.find('[') != std::string::npos;
      c.label = c.path;
    }
    uint64_t number = 0;
    if (value.kind == Tok::Word && parse_number(value.text, unit, scale, number)) {
      c.lit.numeric = true;
      c.lit.number = number;
    } else if (c.subject != Subject::Name && c.subject != Subject::Path &&
               c.subject != Subject::Features) {
      return fail("'" + value.text + "' is not a number" +
                      (unit == Unit::Duration ? " (units: ns us ms s)"
                       : unit == Unit::Bytes  ? " (suffixes: K M G)"
                                              : ""),
                  value.pos);
    }
    if (c.subject == Subject::Name && c.lit.numeric) {
      c.lit.numeric = false;  // names are text even when they look like numbers
    }
    bool vol = c.subject == Subject::Latency;
    FilterCost cost = subject_cost(c.subject);
    return leaf(std::move(c), cost, vol);
  }

  std::unique_ptr<FilterNode> word(const Token& w) {
    std::string l = to_lower(w.text);
    auto after = [&](std::string_view prefix) -> std::optional<std::string> {
      if (l.size() > prefix.size() && l.compare(0, prefix.size(), prefix) == 0)
        return l.substr(prefix.size());
      return std::nullopt;
    };
    if (l == "finding" || l == "findings") return leaf(AnyFindingPred{}, FilterCost::Entry, true);
    if (auto id = after("finding:")) return finding_ids(*id, w);
    if (l == "error" || l == "errors")
      return leaf(SeverityPred{Severity::Error}, FilterCost::Entry, true);
    if (l == "warning" || l == "warnings" || l == "warn")
      return leaf(SeverityPred{Severity::Warning}, FilterCost::Entry, true);
    if (l == "info") return leaf(SeverityPred{Severity::Info}, FilterCost::Entry, true);
    if (l == "fe>be" || l == "to:backend" || l == "to:be" || l == "dir:fe>be")
      return leaf(DirectionPred{Direction::ToBackend}, FilterCost::Entry, false);
    if (l == "be>fe" || l == "to:frontend" || l == "to:fe" || l == "dir:be>fe")
      return leaf(DirectionPred{Direction::ToFrontend}, FilterCost::Entry, false);
    if (auto ch = after("ch:") ? after("ch:") : after("channel:")) {
      if (*ch == "fe" || *ch == "frontend")
        return leaf(ChannelPred{Channel::Frontend}, FilterCost::Entry, false);
      if (*ch == "be" || *ch == "backend")
        return leaf(ChannelPred{Channel::Backend}, FilterCost::Entry, false);
      return fail("channel is 'fe' (front-end channel) or 'be' (back-end channel)", w.pos);
    }
    if (l == "request" || l == "requests" || l == "req")
      return leaf(RolePred{true, false, false, "request"}, FilterCost::Entry, false);
    if (l == "reply" || l == "replies")
      return leaf(RolePred{false, true, true, "reply"}, FilterCost::Entry, false);
    if (l == "ack" || l == "acks")
      return leaf(RolePred{false, false, true, "ack"}, FilterCost::Entry, false);
    if (l == "unanswered" || l == "pending") return leaf(UnansweredPred{}, FilterCost::Entry, true);
    if (auto cat = after("cat:") ? after("cat:") : after("category:")) {
      for (uint8_t c = 0; c <= static_cast<uint8_t>(Category::Device); ++c)
        if (category_name(static_cast<Category>(c)) == *cat)
          return leaf(CategoryPred{static_cast<Category>(c)}, FilterCost::Entry, false);
      return fail("unknown category '" + *cat +
                      "' (negotiation memory vring config backend-channel migration device)",
                  w.pos);
    }
    if (auto kind = after("kind:")) return record_kind(*kind, w);
    if (l == "connect" || l == "disconnect") return record_kind(l, w);
    if (auto s = after("session:")) {
      uint64_t n = 0;
      if (!parse_number(*s, Unit::None, 1, n)) return fail("session:N needs a number", w.pos);
      ComparePred c{Subject::Session, CmpOp::Eq, Literal{true, n, *s}, "session", {}, false};
      return leaf(std::move(c), FilterCost::Entry, false);
    }
    return request_names(w);
  }

  std::unique_ptr<FilterNode> record_kind(const std::string& name, const Token& w) {
    for (RecordKind k : {RecordKind::Message, RecordKind::Connect, RecordKind::Disconnect,
                         RecordKind::Error, RecordKind::RingState, RecordKind::Notify})
      if (iequals(record_kind_name(k), name)) return leaf(KindPred{k}, FilterCost::Entry, false);
    return fail("unknown record kind '" + name + "'", w.pos);
  }

  std::unique_ptr<FilterNode> finding_ids(const std::string& id, const Token& w) {
    FindingIdPred p;
    p.label = id;
    bool any = false;
    for (const FindingInfo& fi : all_findings()) {
      if (has_glob(id) ? glob_match(id, fi.id) : iequals(fi.id, id)) {
        size_t c = static_cast<size_t>(fi.code);
        if (p.codes.size() <= c) p.codes.resize(c + 1, false);
        p.codes[c] = true;
        any = true;
      }
    }
    if (!any) return fail("unknown finding id '" + id + "'", w.pos);
    return leaf(std::move(p), FilterCost::Entry, true);
  }

  std::unique_ptr<FilterNode> request_names(const Token& w) {
    auto reqs = all_requests();
    NamePred p;
    p.requests.assign(reqs.size(), false);
    bool glob = has_glob(w.text);
    bool any = false;
    for (size_t i = 0; i < reqs.size(); ++i) {
      const RequestInfo& r = reqs[i];
      bool hit =
          glob ? (glob_match(w.text, r.name) ||
                  (!r.old_name.empty() && glob_match(w.text, r.old_name)))
               : (iequals(w.text, r.name) || (!r.old_name.empty() && iequals(w.text, r.old_name)));
      if (hit) {
        p.requests[i] = true;
        any = true;
      }
    }
    if (!any) {
      if (find_alias(w.text) || w.text.find('.') != std::string::npos)
        return fail("'" + w.text + "' is a field: compare it (" + w.text + " == 1)", w.pos);
      return fail("unknown word '" + w.text + "' (not a request name or keyword; see help)", w.pos);
    }
    p.label = to_upper(w.text);
    return leaf(std::move(p), FilterCost::Entry, false);
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  FilterError& err_;
};

}  // namespace

Filter::Filter() = default;
Filter::~Filter() = default;
Filter::Filter(Filter&&) noexcept = default;
Filter& Filter::operator=(Filter&&) noexcept = default;

std::optional<Filter> Filter::parse(std::string_view text, FilterError& error) {
  error = {};
  Filter f;
  f.text_ = std::string(text);
  std::vector<Token> toks;
  if (!tokenize(text, toks, error)) return std::nullopt;
  if (toks.size() == 1) return f;  // only End: match all
  Parser parser(std::move(toks), error);
  auto root = parser.parse_all();
  if (!root) return std::nullopt;
  f.cost_ = root->cost;
  f.volatile_ = root->is_volatile;
  f.root_ = std::move(root);
  return f;
}

bool Filter::matches(const Store& store, size_t entry) const {
  if (!root_) return true;
  EvalContext ctx{store, entry, store.entry(entry), std::nullopt, std::nullopt};
  return eval_node(*root_, ctx);
}

std::string Filter::describe() const { return root_ ? node_text(*root_) : std::string("all"); }

std::string filter_term(const Field& f) {
  auto quoted = [](std::string_view t) {
    const char q = t.find('"') == std::string_view::npos ? '"' : '\'';
    return q + std::string(t.substr(0, t.find(q))) + q;
  };
  const FieldValue& v = f.value;
  std::string literal;
  switch (v.kind) {
    case ValueKind::Unsigned: literal = std::to_string(v.number); break;
    case ValueKind::Address:
    case ValueKind::Flags: literal = fmt::format("0x{:x}", v.number); break;
    case ValueKind::Bool: literal = v.number ? "yes" : "no"; break;
    case ValueKind::Enum: literal = v.name.empty() ? std::to_string(v.number) : v.name; break;
    case ValueKind::String: literal = quoted(v.name); break;
    case ValueKind::Signed:
      literal = v.as_signed() >= 0 ? std::to_string(v.as_signed()) : quoted(f.text);
      break;
    case ValueKind::None:
    case ValueKind::Bytes: literal = quoted(f.text); break;
  }
  return f.path + " == " + literal;
}

std::vector<std::string_view> filter_help_lines() {
  return {
      "SET_VRING_ADDR, set_vring_*      request names (either alias), * and ? glob",
      "fe>be  be>fe  to:backend  to:frontend   direction",
      "ch:fe  ch:be                     front-end / back-end channel",
      "request  reply  ack  unanswered  message role; unanswered = still waiting",
      "finding  finding:size-mismatch  finding:ring-*   findings by id",
      "error  warning  info             entries with a finding of that severity",
      "cat:vring  cat:memory ...        request category",
      "connect  disconnect  kind:error  non-message records",
      "vring.index == 1  num >= 256     payload fields (aliases below, or any field path)",
      "vring.desc_addr > 0x7f0000000000   field tree paths (docs/fields.md), suffix match",
      "header.request == SET_VRING_NUM  iotlb.type == UPDATE   enum fields by name",
      "header.flags.need_reply == yes   fd ~ memfd   bools, text and fds",
      "latency > 5ms  size >= 4K  time < 2s  session:2   entry numbers with units",
      "features ~ VERSION_1  flags ~ 0x8   '~' tests bits on numbers, substring on text",
      "and  or  not  && || !  ( )       combine; juxtaposition means and",
  };
}

std::vector<FilterAlias> filter_aliases() {
  std::vector<FilterAlias> out;
  for (const auto& row : kAliases) out.push_back({row.names, row.meaning});
  return out;
}

}  // namespace vhs::view
