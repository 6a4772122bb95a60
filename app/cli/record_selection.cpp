#include "app/cli/record_selection.hpp"

#include <charconv>

#include <fmt/format.h>

#include "app/cli/capture_input.hpp"

namespace vhs::cli {

void add_selection_options(ArgParser& args, SelectionArgs& out, unsigned which) {
  if (which & kSelectFilter)
    args.option("filter", 'Y', "EXPR",
                "only records matching EXPR, in the GUI's filter language (docs/gui.md): "
                "'SET_VRING_* and vring.index == 1', 'finding:unanswered', 'latency > 5ms'",
                &out.filter);
  if (which & kSelectCount)
    args.option("count", 'c', "N", "stop after N matching records", &out.count);
  if (which & kSelectKinds) {
    args.flag("no-rings", 0, "leave out ring-state records (the recorder's virtqueue samples)",
              &out.no_rings);
    args.flag("no-notify", 0,
              "leave out notify records (record --interpose-notify: one per relayed kick/call)",
              &out.no_notify);
  }
  if (which & kSelectTime)
    args.option("time-format", 't', "FORMAT",
                "r seconds since the first record (default), d since the previous shown record, "
                "a UTC time of day, ad UTC date and time",
                &out.time_format);
}

std::optional<RecordSelection> RecordSelection::parse(std::string_view command,
                                                      const SelectionArgs& args) {
  RecordSelection s;
  view::FilterError error;
  auto filter = view::Filter::parse(args.filter, error);
  if (!filter) {
    fail(command, fmt::format("bad filter '{}': {} (at character {})", args.filter, error.message,
                              error.position + 1));
    return std::nullopt;
  }
  s.filter_ = std::move(*filter);
  if (!args.count.empty()) {
    uint64_t n = 0;
    const char* end = args.count.data() + args.count.size();
    const auto [ptr, ec] = std::from_chars(args.count.data(), end, n);
    if (ec != std::errc() || ptr != end || n == 0) {
      fail(command, fmt::format("-c needs a number of records above 0, not '{}'", args.count));
      return std::nullopt;
    }
    s.count_ = n;
  }
  if (args.time_format.empty() || args.time_format == "r")
    s.time_ = TimeFormat::Relative;
  else if (args.time_format == "d")
    s.time_ = TimeFormat::Delta;
  else if (args.time_format == "a")
    s.time_ = TimeFormat::Absolute;
  else if (args.time_format == "ad")
    s.time_ = TimeFormat::AbsoluteDate;
  else {
    fail(command, fmt::format("-t needs r, d, a or ad, not '{}'", args.time_format));
    return std::nullopt;
  }
  s.no_rings_ = args.no_rings;
  s.no_notify_ = args.no_notify;
  return s;
}

bool RecordSelection::selects(const Store& store, size_t i,
                              const std::optional<uint32_t>& session) const {
  const StoreEntry& e = store.entry(i);
  if (session && e.session != *session) return false;
  if (no_rings_ && e.kind == RecordKind::RingState) return false;
  if (no_notify_ && e.kind == RecordKind::Notify) return false;
  return filter_.match_all() || filter_.matches(store, i);
}

}  // namespace vhs::cli
