// Cells of the statistics tables, shared by `vhostscope stats` and the GUI's statistics window.
#include "app/common/view_stats.hpp"

#include <fmt/format.h>

#include "app/common/text_format.hpp"
#include "decoders/vhost_user/findings.hpp"

namespace vhs::view {
namespace {

std::string_view channel_label(Channel c) { return c == Channel::Frontend ? "fe" : "be"; }

std::string latency_cell(const LatencySummary& l, uint64_t LatencySummary::*field) {
  return l.count ? format_duration(l.*field) : "-";
}

std::string pad(std::string_view text, const StatsColumn& c) {
  return c.right ? fmt::format("{:>{}}", text, c.width) : fmt::format("{:<{}}", text, c.width);
}

}  // namespace

std::string scope_title(const ScopeStats& s) {
  std::string out = s.session ? fmt::format("Session {}", *s.session) : std::string("Overall");
  out +=
      fmt::format(": {} record{}, {} message{}, {}", s.records, s.records == 1 ? "" : "s",
                  s.messages, s.messages == 1 ? "" : "s", format_duration(s.last_ns - s.first_ns));
  return out;
}

StatsTable request_table(const ScopeStats& s) {
  StatsTable t;
  t.columns = {
      {"ch", 2, false, "channel: fe front-end, be back-end"},
      {"request", 32, false, "request kind"},
      {"count", 8, true, "requests sent"},
      {"replies", 8, true, "replies and acks answering them"},
      {"min", 10, true, "shortest reply latency"},
      {"p50", 10, true, "median reply latency (nearest rank)"},
      {"p99", 10, true, "99th percentile reply latency (nearest rank)"},
      {"max", 10, true, "longest reply latency"},
  };
  for (const RequestKindStats& r : s.requests)
    t.rows.push_back({std::string(channel_label(r.channel)), r.name, std::to_string(r.requests),
                      std::to_string(r.replies), latency_cell(r.latency, &LatencySummary::min_ns),
                      latency_cell(r.latency, &LatencySummary::p50_ns),
                      latency_cell(r.latency, &LatencySummary::p99_ns),
                      latency_cell(r.latency, &LatencySummary::max_ns)});
  return t;
}

StatsTable queue_table(const ScopeStats& s) {
  StatsTable t;
  t.columns = {
      {"queue", 5, true, "vring index"},
      {"kicks", 10, true, "kicks relayed (notification interposition)"},
      {"calls", 10, true, "calls relayed (notification interposition)"},
      {"samples", 8, true, "ring-state records"},
      {"completed", 10, true, "buffers completed: how far the used index moved over the samples"},
      {"completed/s", 11, true, "buffers completed per second over the sampled span"},
      {"in-flight", 14, true, "in-flight depth: min/mean/max over the ring-state samples"},
  };
  for (const QueueStats& q : s.queues) {
    const std::string rate =
        q.completed_per_second ? fmt::format("{:.1f}", *q.completed_per_second) : "-";
    const std::string depth =
        q.samples ? fmt::format("{}/{:.1f}/{}", q.in_flight_min, q.in_flight_mean, q.in_flight_max)
                  : "-";
    t.rows.push_back({std::to_string(q.queue), std::to_string(q.kicks), std::to_string(q.calls),
                      std::to_string(q.samples), std::to_string(q.completed), rate, depth});
  }
  return t;
}

StatsTable finding_table(const ScopeStats& s) {
  StatsTable t;
  t.columns = {{"", 7, false, "severity"}, {"", 28, false, "finding"}, {"", 8, true, "count"}};
  for (const FindingKindStats& f : s.findings)
    t.rows.push_back({std::string(severity_name(finding_info(f.code).severity)),
                      std::string(finding_info(f.code).id), std::to_string(f.count)});
  return t;
}

std::string padded_row(const StatsTable& table, const std::vector<std::string>& cells,
                       size_t indent) {
  std::string out(indent, ' ');
  for (size_t k = 0; k < table.columns.size() && k < cells.size(); ++k) {
    if (k) out += ' ';
    out += pad(cells[k], table.columns[k]);
  }
  return out;
}

std::string padded_header(const StatsTable& table, size_t indent) {
  std::vector<std::string> titles;
  for (const StatsColumn& c : table.columns) titles.emplace_back(c.title);
  return padded_row(table, titles, indent);
}

}  // namespace vhs::view
