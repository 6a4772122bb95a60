// A Markdown bug report built from a capture, ready to paste into an issue with the capture
// attached: what the capture shows about the peers (features offered, device kind), the feature
// negotiation table, the messages around the first error finding and around a hang, the state
// left pending at the end (unanswered requests, vrings, memory, back-end channel) and the
// findings. Used by `vhostscope report`; reads the same Store and formatters as `dump`/`summary`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "captures/model/store.hpp"

namespace vhs {

struct ReportOptions {
  std::string capture_name;         // how the capture is named in the report ("blk-hang.pcap")
  std::string tool_version;         // "vhostscope 0.1.0"
  std::string load_warning;         // a truncated-capture warning to mention, if any
  size_t context = 8;               // messages shown before and after the point of interest
  std::optional<uint32_t> session;  // report on this session (default: report_session())
};

// The session a report is about: the first with an error finding, else the first with a request
// still waiting for its answer, else the last one with messages. nullptr when there is none.
const StoreSession* report_session(const Store& store);

std::string format_report(const Store& store, const ReportOptions& options);

// Markdown helpers (exposed for tests). Text from peers and captures must render as the text it
// is, never as Markdown or HTML:
// - md_escape: text already escaped for a terminal (escape_text, quote_text) with a backslash
//   before every character that could start Markdown or HTML inline (\ ` * [ ] < > | ~ & $), before
//   a '_' not inside a word, and before a line start that would open a heading, list or quote;
// - md_cell: raw text for a table cell or a line: escape_text, then md_escape;
// - md_code_span: raw text in a code span whose fence is longer than any backtick run inside;
// - md_code_block: a fenced block whose fence is longer than any backtick run inside (its text
//   must already be escaped for a terminal).
std::string md_escape(std::string_view text);
std::string md_cell(std::string_view text);
std::string md_code_span(std::string_view text);
std::string md_code_block(std::string_view text, std::string_view info = "text");

}  // namespace vhs
