// Unified-diff style text for capture diffs (see diff_format.hpp).
#include "app/common/diff_format.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"

namespace vhs {
namespace {

std::string describe(const Store& store, uint32_t i) {
  const StoreEntry& e = store.entry(i);
  std::string s = fmt::format("{} {} {}", direction_arrow(e.direction), channel_short(e.channel),
                              entry_title(store, i));
  const std::string summary = entry_summary(store, i);
  if (!summary.empty()) s += " " + summary;
  return s;
}

std::string numbers(uint32_t a, uint32_t b) {
  auto one = [](char side, uint32_t e) {
    return e == kNoEntry ? std::string() : fmt::format("{}{}", side, record_number(e));
  };
  return fmt::format("{:<8} {:<8}", one('a', a), one('b', b));
}

void op_lines(std::string& out, const Store& a, const Store& b, const DiffOp& op,
              const DiffFormatOptions& o) {
  switch (op.kind) {
    case DiffOp::Kind::Same:
      out += fmt::format("  {} {}\n", numbers(op.a, op.b), describe(a, op.a));
      break;
    case DiffOp::Kind::OnlyA:
      out += fmt::format("- {} {}\n", numbers(op.a, kNoEntry), describe(a, op.a));
      return;
    case DiffOp::Kind::OnlyB:
      out += fmt::format("+ {} {}\n", numbers(kNoEntry, op.b), describe(b, op.b));
      return;
    case DiffOp::Kind::Changed:
      out += fmt::format("! {} {}\n", numbers(op.a, op.b), describe(a, op.a));
      break;
  }
  for (const FieldChange& c : op.changes) {
    if (c.expected) {
      if (o.show_expected)
        out += fmt::format("~     {}: {} -> {} ({})\n", escape_text(c.path), escape_text(c.a),
                           escape_text(c.b), escape_text(c.why));
      continue;
    }
    // Field values quote peer data (fd names, payload text): escaped like dump -V.
    out += fmt::format("-     {}: {}\n", escape_text(c.path), escape_text(c.a));
    out += fmt::format("+     {}: {}\n", escape_text(c.path), escape_text(c.b));
  }
}

}  // namespace

std::string diff_summary_line(const CaptureDiff& d) {
  if (d.identical()) return fmt::format("diff: no differences ({} records compared)", d.same);
  return fmt::format("diff: {} changed, {} only in a, {} only in b, {} same", d.changed, d.only_a,
                     d.only_b, d.same);
}

std::string format_capture_diff(const Store& a, const Store& b, const CaptureDiff& d,
                                const DiffFormatOptions& o) {
  std::string out =
      fmt::format("--- a: {}\n+++ b: {}\n", escape_text(o.a_label), escape_text(o.b_label));
  const size_t n = d.ops.size();
  auto interesting = [&](size_t i) {
    const DiffOp& op = d.ops[i];
    return op.kind != DiffOp::Kind::Same || (o.show_expected && !op.changes.empty());
  };
  size_t i = 0;
  while (i < n) {
    if (!interesting(i)) {
      ++i;
      continue;
    }
    // A hunk: from `context` before this change to `context` after the last change that is no
    // more than 2*context records away from the previous one.
    const size_t begin = i > o.context ? i - o.context : 0;
    size_t last = i;
    for (size_t j = i + 1; j < n && j <= last + 2 * o.context + 1; ++j)
      if (interesting(j)) last = j;
    const size_t end = std::min(n, last + o.context + 1);
    uint32_t a0 = kNoEntry, a1 = kNoEntry, b0 = kNoEntry, b1 = kNoEntry;
    for (size_t k = begin; k < end; ++k) {
      if (d.ops[k].a != kNoEntry) {
        if (a0 == kNoEntry) a0 = d.ops[k].a;
        a1 = d.ops[k].a;
      }
      if (d.ops[k].b != kNoEntry) {
        if (b0 == kNoEntry) b0 = d.ops[k].b;
        b1 = d.ops[k].b;
      }
    }
    auto range = [](uint32_t x, uint32_t y) {
      return x == kNoEntry ? std::string("-")
             : x == y      ? record_number(x)
                           : record_number(x) + ".." + record_number(y);
    };
    out += fmt::format("@@ a {} b {} @@\n", range(a0, a1), range(b0, b1));
    for (size_t k = begin; k < end; ++k) op_lines(out, a, b, d.ops[k], o);
    i = end;
  }
  out += diff_summary_line(d) + "\n";
  return out;
}

}  // namespace vhs
