// Divergence texts (see replay_divergence.hpp).
#include "proxy/replay_divergence.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vhs {

std::string_view divergence_kind_name(DivergenceKind k) {
  switch (k) {
    case DivergenceKind::ValueDiffers: return "value";
    case DivergenceKind::MissingReply: return "missing-reply";
    case DivergenceKind::MissingMessage: return "missing-message";
    case DivergenceKind::ExtraMessage: return "extra-message";
    case DivergenceKind::Disconnect: return "disconnect";
  }
  return "unknown";
}

bool Divergence::expected() const {
  return kind == DivergenceKind::ValueDiffers &&
         std::all_of(changes.begin(), changes.end(),
                     [](const FieldChange& c) { return c.expected; });
}

std::vector<std::string> divergence_lines(const Divergence& d, bool with_expected) {
  // Record numbers are 1-based like everywhere else ("#N" = store entry N-1).
  const std::string where =
      d.recorded_entry == kNoEntry ? std::string("--") : fmt::format("#{}", d.recorded_entry + 1);
  const std::string_view chan = d.channel == Channel::Backend ? " (back-end channel)" : "";
  std::vector<std::string> out;
  if (d.kind != DivergenceKind::ValueDiffers) {
    out.push_back(fmt::format("{} {}{}: {}: {}", where, d.message, chan,
                              divergence_kind_name(d.kind), d.detail));
    return out;
  }
  for (const FieldChange& c : d.changes) {
    if (c.expected && !with_expected) continue;
    out.push_back(fmt::format("{} {}{}: {}: recorded {}, replayed {}{}", where, d.message, chan,
                              c.path, c.a, c.b,
                              c.expected ? fmt::format(" (expected: {})", c.why) : std::string()));
  }
  return out;
}

}  // namespace vhs
