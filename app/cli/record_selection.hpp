// The record-selection options the read-only commands share, with tshark's spelling: -Y/--filter
// (the GUI's filter language, app/common/view_filter.hpp, parsed once here), -c N, --no-rings,
// --no-notify and -t a|ad|r|d. A command registers the ones it supports and asks selects().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "app/cli/args.hpp"
#include "app/common/dump_format.hpp"
#include "app/common/view_filter.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

// Which of the options a command offers.
enum SelectionOption : unsigned {
  kSelectFilter = 1u << 0,  // -Y / --filter EXPR
  kSelectCount = 1u << 1,   // -c N
  kSelectKinds = 1u << 2,   // --no-rings, --no-notify
  kSelectTime = 1u << 3,    // -t a|ad|r|d
};

// The option texts as given; registered on a parser by add_selection_options().
struct SelectionArgs {
  std::string filter, count, time_format;
  bool no_rings = false, no_notify = false;
};

void add_selection_options(ArgParser& args, SelectionArgs& out, unsigned which);

class RecordSelection {
 public:
  // nullopt after printing "vhostscope <command>: ..." (the caller exits 2): a filter the parser
  // rejects (its message and the position), a bad -c or -t value.
  static std::optional<RecordSelection> parse(std::string_view command, const SelectionArgs& args);

  // Whether entry i passes --session, --no-rings/--no-notify and the filter (not -c).
  bool selects(const Store& store, size_t i, const std::optional<uint32_t>& session) const;
  bool filtering() const { return !filter_.match_all(); }
  const view::Filter& filter() const { return filter_; }
  // -c N: stop after this many selected records (nullopt: no limit).
  const std::optional<uint64_t>& count() const { return count_; }
  TimeFormat time_format() const { return time_; }

 private:
  view::Filter filter_;
  std::optional<uint64_t> count_;
  TimeFormat time_ = TimeFormat::Relative;
  bool no_rings_ = false, no_notify_ = false;
};

}  // namespace vhs::cli
