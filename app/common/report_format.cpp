// Markdown bug report (see report_format.hpp).
#include "app/common/report_format.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "app/common/dump_format.hpp"
#include "app/common/summary_format.hpp"
#include "app/common/text_format.hpp"
#include "decoders/vhost_user/field_format.hpp"

namespace vhs {
namespace {

size_t index_of(const Store& store, const StoreSession& s) {
  return static_cast<size_t>(&s - store.sessions().data());
}

std::vector<uint32_t> session_entries(const Store& store, const StoreSession& s) {
  std::vector<uint32_t> out;
  for (uint32_t i = s.first_entry; s.first_entry != kNoEntry && i <= s.last_entry; ++i)
    if (&store.session_of(i) == &s) out.push_back(i);
  return out;
}

uint32_t first_flagged(const Store& store, const StoreSession& s, Severity at_least) {
  const size_t index = index_of(store, s);
  for (uint32_t e : store.flagged()) {
    const StoreEntry& en = store.entry(e);
    if (en.session_index == index && en.worst >= at_least) return e;
  }
  return kNoEntry;
}

const Finding* worst_finding(const Store& store, uint32_t e) {
  const Finding* best = nullptr;
  for (const Finding& f : store.findings(e))
    if (best == nullptr || f.severity() > best->severity()) best = &f;
  return best;
}

std::string yes(bool known, bool v) { return !known ? "?" : v ? "yes" : ""; }

std::string word_text(const std::optional<uint64_t>& v, bool protocol, DeviceKind device) {
  if (!v) return "not seen";
  return protocol ? protocol_features_text(*v) : features_text(*v, device);
}

void feature_table(std::string& out, const FeatureWord& w, const std::vector<FeatureRow>& rows) {
  if (rows.empty()) {
    out += "No bits seen.\n";
    return;
  }
  out += "| Bit | Name | Offered | Acked |\n|---:|---|:-:|:-:|\n";
  for (const FeatureRow& r : rows)
    out += fmt::format("| {} | {} | {} | {} |\n", r.bit, r.name.empty() ? "-" : md_cell(r.name),
                       yes(w.offered.has_value(), r.offered), yes(w.acked.has_value(), r.acked));
}

// The messages of the session around `focus`, as dump lines, the focus marked with ">>". Ring
// samples (ring-state / notify records) are left out: they would crowd out the messages, and
// `vhostscope rings` shows them.
std::string window(const Store& store, const StoreSession& s, uint32_t focus, size_t context) {
  std::vector<uint32_t> all;
  size_t samples = 0;
  for (uint32_t e : session_entries(store, s)) {
    const RecordKind k = store.entry(e).kind;
    if (e != focus && (k == RecordKind::RingState || k == RecordKind::Notify)) continue;
    all.push_back(e);
  }
  const auto at = std::find(all.begin(), all.end(), focus);
  if (at == all.end()) return {};
  const size_t pos = static_cast<size_t>(at - all.begin());
  const size_t begin = pos > context ? pos - context : 0;
  const size_t end = std::min(all.size(), pos + context + 1);
  std::string text;
  for (size_t k = begin; k < end; ++k) {
    text += (all[k] == focus ? ">> " : "   ") + format_entry_line(store, all[k]) + "\n";
    // Count the samples skipped between the first and the last line shown.
    if (k + 1 < end)
      for (uint32_t e = all[k] + 1; e < all[k + 1]; ++e)
        if (&store.session_of(e) == &s) ++samples;
  }
  if (samples)
    text += fmt::format("   ({} ring sample{} in this stretch not shown; see 'vhostscope rings')\n",
                        samples, samples == 1 ? "" : "s");
  return text;
}

void where_block(std::string& out, const Store& store, const StoreSession& s,
                 const ReportOptions& o) {
  out += "## Where it goes wrong\n\n";
  const uint32_t error = first_flagged(store, s, Severity::Error);
  const auto waiting = waiting_requests(store, s);
  if (error == kNoEntry && waiting.empty()) {
    const uint32_t warning = first_flagged(store, s, Severity::Warning);
    if (warning == kNoEntry) {
      out += "No error finding and no unanswered request in this session. The last messages:\n\n";
      const std::vector<uint32_t> all = session_entries(store, s);
      if (!all.empty()) out += md_code_block(window(store, s, all.back(), o.context)) + "\n";
      return;
    }
    const Finding* f = worst_finding(store, warning);
    out += fmt::format("No error finding. First warning at **{}** {}: `{}` — {}\n\n",
                       record_number(warning), md_cell(entry_title(store, warning)),
                       f ? finding_info(f->code).id : "", f ? md_cell(f->detail) : "");
    out += md_code_block(window(store, s, warning, o.context)) + "\n";
    return;
  }
  if (error != kNoEntry) {
    const Finding* f = worst_finding(store, error);
    out += fmt::format("First error finding at **{}** {}: `{}` — {}\n\n", record_number(error),
                       md_cell(entry_title(store, error)), f ? finding_info(f->code).id : "",
                       f ? md_cell(f->detail) : "");
    out += fmt::format(
        "Messages {} before and after it (`>>` marks it; columns as in `vhostscope dump`):\n\n",
        o.context);
    out += md_code_block(window(store, s, error, o.context)) + "\n";
  }
  if (!waiting.empty() && waiting.front().entry != error) {
    const WaitingRequest& w = waiting.front();
    out += fmt::format("{} **{}** {} never got its answer ({}):\n\n",
                       error != kNoEntry ? "It also hangs:" : "It hangs:", record_number(w.entry),
                       md_cell(w.label), md_cell(format_waiting(w)));
    out += md_code_block(window(store, s, w.entry, o.context)) + "\n";
  }
}

void pending_block(std::string& out, const Store& store, const StoreSession& s) {
  const SessionState& st = s.state();
  out += "## Pending state at the end of the capture\n\n";
  out += fmt::format(
      "Session {} {}.\n\n", s.id,
      s.ended() ? fmt::format("ended by a disconnect at {}", record_number(s.disconnect_entry))
                : std::string("was still open when the capture ended"));
  const auto waiting = waiting_requests(store, s);
  out += "### Unanswered requests\n\n";
  if (waiting.empty()) {
    out += "None: every request that needs an answer got one.\n\n";
  } else {
    for (const WaitingRequest& w : waiting) out += "- " + md_cell(format_waiting(w)) + "\n";
    out += "\n";
  }
  out += "### Vrings\n\n";
  if (st.vrings.empty()) {
    out += "No vring was set up.\n\n";
  } else {
    out +=
        "| Vring | Size | Base | Last base | Started | Enabled | Kick | Call "
        "|\n|---:|---:|---:|---:|:-:|:-:|---|---|\n";
    auto opt = [](const std::optional<uint32_t>& v) {
      return v ? fmt::format("{}", *v) : std::string("-");
    };
    auto slot = [](const NotifierSlot& n) {
      return n.state == NotifierSlot::State::Fd     ? format_fd(n.fd)
             : n.state == NotifierSlot::State::NoFd ? "NOFD"
                                                    : "-";
    };
    for (const VringState& v : st.vrings)
      out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", v.index, opt(v.num),
                         opt(v.base), opt(v.last_base), v.started ? "started" : "stopped",
                         v.enabled ? "yes" : "no", slot(v.kick), slot(v.call));
    out += "\n";
  }
  uint64_t ram = 0;
  for (const MemRegionState& r : st.regions) ram += r.region.memory_size;
  out += fmt::format("- Memory table: {} region{}, {} in total\n", st.regions.size(),
                     st.regions.size() == 1 ? "" : "s", human_size(ram));
  const auto& be = st.backend_channel;
  out += be.established
             ? fmt::format("- Back-end channel: established at {}, {} message{}\n",
                           record_number(be.set_by), be.messages, be.messages == 1 ? "" : "s")
             : std::string("- Back-end channel: not established\n");
  if (st.status_set || st.status_read)
    out += fmt::format("- Device status: last set {}, last read {}\n",
                       st.status_set ? status_text(*st.status_set) : "-",
                       st.status_read ? status_text(*st.status_read) : "-");
  out += "\n";
}

void findings_block(std::string& out, const Store& store, const StoreSession& s) {
  const auto groups = finding_groups(store, s);
  out += "## Findings\n\n";
  if (groups.empty()) {
    out += "None.\n\n";
    return;
  }
  out += "| Severity | Finding | Count | First at | First detail |\n|---|---|---:|---|---|\n";
  for (const FindingGroup& g : groups)
    out += fmt::format("| {} | `{}` | {} | {} | {} |\n", severity_name(g.severity),
                       finding_info(g.code).id, g.entries.size(),
                       g.entries.empty() ? "-" : record_number(g.entries.front()),
                       md_cell(g.first_detail));
  out += "\n";
}

void peers_block(std::string& out, const Store& store, const StoreSession& s) {
  const SessionState& st = s.state();
  out += "## What the capture shows about the peers\n\n";
  if (s.connect_entry != kNoEntry)
    out += fmt::format("- Connection: {}\n", md_escape(quote_text(store.text(s.connect_entry))));
  std::string device_note;
  if (st.device_from_user)
    device_note = " (given with --device)";
  else if (st.device != DeviceKind::Unknown)
    device_note = st.device_reason.empty() ? " (inferred)"
                                           : " (inferred " + md_escape(st.device_reason) + ")";
  else if (!st.device_reason.empty())
    device_note = " (" + md_escape(st.device_reason) + ")";
  out += fmt::format("- Device kind: {}{}\n", device_kind_name(st.device), device_note);
  out += fmt::format("- Back-end offers virtio features: {}\n",
                     md_cell(word_text(st.features.offered, false, st.device)));
  out += fmt::format("- Back-end offers protocol features: {}\n",
                     md_cell(word_text(st.protocol_features.offered, true, st.device)));
  if (st.protocol_features.offered && *st.protocol_features.offered) {
    // The newest protocol feature a side knows hints at its version (spec "Protocol features": bits
    // are added in spec order).
    unsigned top = 63;
    while (!((*st.protocol_features.offered >> top) & 1u)) --top;
    const std::string_view name = protocol_feature_name(top);
    out += fmt::format("- Newest protocol feature the back-end offers: bit {} {}\n", top,
                       name.empty() ? "(unnamed)" : name);
  }
  if (st.queue_num)
    out += fmt::format("- Queues the back-end supports (GET_QUEUE_NUM): {}\n", *st.queue_num);
  if (st.max_mem_slots)
    out += fmt::format("- Memory slots (GET_MAX_MEM_SLOTS): {}\n", *st.max_mem_slots);
  // Which requests the front-end used says which code paths of QEMU ran.
  std::map<std::string, uint64_t> counts;
  for (uint32_t e : session_entries(store, s)) {
    const StoreEntry& en = store.entry(e);
    if (en.is_message() && !en.header.is_reply() && en.info) ++counts[std::string(en.info->name)];
  }
  if (!counts.empty()) {
    std::string list;
    for (const auto& [name, n] : counts)
      list += fmt::format("{}{} ×{}", list.empty() ? "" : ", ", name, n);
    out += "- Requests seen: " + list + "\n";
  }
  out += "\n";
}

}  // namespace

std::string md_escape(std::string_view text) {
  auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  std::string out;
  out.reserve(text.size());
  // A line start that opens a block: "# heading", "- item", "+ item", "= underline", "12. item".
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const bool ordered_item =
      digits > 0 && digits < text.size() && (text[digits] == '.' || text[digits] == ')');
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    bool escape = std::string_view("\\`*[]<>|~&$").find(c) != std::string_view::npos;
    // '_' inside a word ("VERSION_1") cannot open emphasis; elsewhere it can.
    if (c == '_')
      escape = i == 0 || i + 1 == text.size() || !word_char(text[i - 1]) || !word_char(text[i + 1]);
    if (i == 0 && (c == '#' || c == '-' || c == '+' || c == '=')) escape = true;
    if (ordered_item && i == digits) escape = true;
    if (escape) out += '\\';
    out += c;
  }
  return out;
}

std::string md_cell(std::string_view text) { return md_escape(escape_text(text)); }

namespace {

size_t longest_backtick_run(std::string_view text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

}  // namespace

std::string md_code_span(std::string_view text) {
  const std::string escaped = escape_text(text);
  const std::string fence(longest_backtick_run(escaped) + 1, '`');
  // A space on each side keeps a leading or trailing backtick off the fence (CommonMark strips
  // one such space from each end).
  const bool pad = !escaped.empty() && (escaped.front() == '`' || escaped.back() == '`');
  return fence + (pad ? " " : "") + escaped + (pad ? " " : "") + fence;
}

std::string md_code_block(std::string_view text, std::string_view info) {
  const std::string fence(std::max<size_t>(3, longest_backtick_run(text) + 1), '`');
  std::string out = fence + std::string(info) + "\n" + std::string(text);
  if (!text.empty() && text.back() != '\n') out += '\n';
  return out + fence + "\n";
}

const StoreSession* report_session(const Store& store) {
  for (const StoreSession& s : store.sessions())
    if (first_flagged(store, s, Severity::Error) != kNoEntry) return &s;
  for (const StoreSession& s : store.sessions())
    if (!waiting_requests(store, s).empty()) return &s;
  for (auto it = store.sessions().rbegin(); it != store.sessions().rend(); ++it)
    for (uint32_t e : session_entries(store, *it))
      if (store.entry(e).is_message()) return &*it;
  return store.sessions().empty() ? nullptr : &store.sessions().back();
}

std::string format_report(const Store& store, const ReportOptions& o) {
  const StoreSession* s = o.session ? store.find_session(*o.session) : report_session(store);
  std::string out = fmt::format("# vhost-user report: {}\n\n", md_cell(o.capture_name));
  out += fmt::format(
      "Generated by {} from the capture {} (attach it to the issue; {} lists every message).\n\n",
      o.tool_version, md_code_span(o.capture_name),
      md_code_span("vhostscope dump " + o.capture_name));

  const SeverityCounts sev = store.severity_counts();
  out += "## Capture\n\n| | |\n|---|---|\n";
  out += fmt::format("| Records | {} |\n", store.size());
  out += fmt::format("| Sessions | {} |\n", store.sessions().size());
  if (!store.empty())
    out += fmt::format("| Time | {} to {} ({}) |\n", absolute_time(store.first_timestamp()),
                       absolute_time(store.last_timestamp()),
                       format_duration(store.last_timestamp() - store.first_timestamp()));
  out += fmt::format("| Findings | {} error{}, {} warning{}, {} info |\n", sev.error,
                     sev.error == 1 ? "" : "s", sev.warning, sev.warning == 1 ? "" : "s", sev.info);
  if (s) out += fmt::format("| Reported session | {} ({} records) |\n", s->id, s->entries);
  if (!o.load_warning.empty()) out += fmt::format("| Warning | {} |\n", md_cell(o.load_warning));
  out += "\n";
  if (s == nullptr) {
    out += "The capture holds no session.\n";
    return out;
  }

  peers_block(out, store, *s);
  const SessionState& st = s->state();
  out += fmt::format("## Feature negotiation (session {})\n\n", s->id);
  out += fmt::format("Virtio features — offered {}, acked {}\n\n",
                     md_cell(word_text(st.features.offered, false, st.device)),
                     md_cell(word_text(st.features.acked, false, st.device)));
  feature_table(out, st.features, feature_rows(st.features, st.device));
  out += fmt::format("\nProtocol features — offered {}, acked {}\n\n",
                     md_cell(word_text(st.protocol_features.offered, true, st.device)),
                     md_cell(word_text(st.protocol_features.acked, true, st.device)));
  feature_table(out, st.protocol_features, protocol_feature_rows(st.protocol_features));
  out += "\n";
  where_block(out, store, *s, o);
  pending_block(out, store, *s);
  findings_block(out, store, *s);
  return out;
}

}  // namespace vhs
