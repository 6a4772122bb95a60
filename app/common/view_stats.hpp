// The tables of `vhostscope stats` as cells: one definition of each table's columns and of the
// text of every cell, which the CLI pads into columns and the GUI's statistics window puts into
// ImGui tables, so both show the same numbers in the same words.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "app/common/stats_format.hpp"

namespace vhs::view {

struct StatsColumn {
  std::string_view title;  // empty: the table has no header row
  int width = 0;           // the CLI's column width in characters
  bool right = false;      // right-aligned (numbers)
  std::string_view tip;    // what the column means (GUI header tooltip)
};

struct StatsTable {
  std::vector<StatsColumn> columns;
  std::vector<std::vector<std::string>> rows;  // one cell per column
};

// "Session 1: 76 records, 45 messages, 4.52 s" / "Overall: ...".
std::string scope_title(const ScopeStats& s);
// Per request kind: channel, name, count, replies, latency min / p50 / p99 / max.
StatsTable request_table(const ScopeStats& s);
// Per queue: kicks, calls, ring-state samples, buffers completed, completed per second, in-flight
// depth (min/mean/max).
StatsTable queue_table(const ScopeStats& s);
inline constexpr std::string_view kInFlightNote =
    "(in-flight: min/mean/max over the ring-state samples)";
// Findings by kind: severity, id, count (no header row).
StatsTable finding_table(const ScopeStats& s);

// One row of `table` padded as the CLI prints it, after `indent` spaces, without a newline.
std::string padded_row(const StatsTable& table, const std::vector<std::string>& cells,
                       size_t indent);
// The header row of `table`, padded likewise.
std::string padded_header(const StatsTable& table, size_t indent);

}  // namespace vhs::view
