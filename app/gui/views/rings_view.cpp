// Per-queue state of the current session (size, addresses, base, kick/call/err, started/enabled,
// request counts) at the latest message or, with the slider, as it was at an earlier one (a
// budgeted replay of the session). Below it the ring snapshots (RingState records) recorded up to
// that point: avail/used indices and in-flight buffers per queue.
#include <algorithm>
#include <cfloat>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::gui {
namespace {

constexpr size_t kReplayBudget = 50000;  // messages replayed per frame while the slider moves

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

// A column of a table that shows what fits: its header and tip, its text per row (nullptr: the
// cell draws itself) and its priority (lower shows first when the pane is narrow).
struct FitColumn {
  const char* name;
  const char* tip;
  int priority;
  float width = 0;  // measured this frame: widest cell or header, plus cell padding
  bool shown = true;
};

float cell_width(std::string_view text, ImFont* font) {
  return font->CalcTextSizeA(font->FontSize, FLT_MAX, 0.0f, text.data(), text.data() + text.size())
             .x +
         ImGui::GetStyle().CellPadding.x * 2 + 2;
}

// Decides which columns show in `room` pixels: by priority, each while the columns chosen so far
// still leave it room to start. The last shown column may be clipped (its cells show whole on
// hover), but no column starts beyond the pane's right edge, and none is squeezed.
void fit_columns(std::vector<FitColumn>& columns, float room) {
  std::vector<size_t> order(columns.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return columns[a].priority < columns[b].priority; });
  for (auto& c : columns) c.shown = false;
  float used = 0;
  const float min_room = ImGui::GetFontSize() * 4;  // what a clipped last column keeps
  for (size_t k : order) {
    if (used + std::min(columns[k].width, min_room) > room) continue;
    columns[k].shown = true;
    used += columns[k].width;
  }
}

// The header row of the shown columns, each header explaining its column on hover. Counts the
// columns drawn and those starting beyond the visible right edge (the self-test reports both).
void column_headers_with_tips(AppState& s, const std::vector<FitColumn>& columns) {
  ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
  const float right_edge = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  int index = 0;
  for (const FitColumn& c : columns) {
    if (!c.shown) continue;
    ++s.stats.ring_columns;
    if (!ImGui::TableSetColumnIndex(index++)) {
      ++s.stats.ring_columns_beyond;
      continue;
    }
    if (ImGui::GetCursorScreenPos().x >= right_edge) ++s.stats.ring_columns_beyond;
    ImGui::TableHeader(c.name);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", c.tip);
  }
}

int shown_count(const std::vector<FitColumn>& columns) {
  return static_cast<int>(
      std::count_if(columns.begin(), columns.end(), [](const FitColumn& c) { return c.shown; }));
}

// "hidden at this width: desc, avail, used (hover a row's first cell, or widen the pane)".
void hidden_note(const std::vector<FitColumn>& columns, const char* where) {
  std::string hidden;
  for (const FitColumn& c : columns)
    if (!c.shown) hidden += (hidden.empty() ? "" : ", ") + std::string(c.name);
  if (hidden.empty()) return;
  ImGui::PushStyleColor(ImGuiCol_Text, kDimText);
  ImGui::TextWrapped("not shown at this width: %s (hover %s, or widen the pane)", hidden.c_str(),
                     where);
  ImGui::PopStyleColor();
}

void notifier(AppState& s, const NotifierSlot& n, const char* id) {
  switch (n.state) {
    case NotifierSlot::State::Unset: text_colored(kDimText, "-"); break;
    case NotifierSlot::State::NoFd: text_colored(severity_color(Severity::Warning), "nofd"); break;
    case NotifierSlot::State::Fd: {
      ImGui::PushID(id);
      text_unformatted(format_fd(n.fd));
      if (n.set_by != kNoMessage && n.set_by < s.store().size()) {
        ImGui::SameLine();
        entry_link(s, static_cast<uint32_t>(n.set_by));
      }
      ImGui::PopID();
      break;
    }
  }
}

const char* vring_state_name(const VringState& v) {
  return v.started ? (v.enabled ? "running" : "started, disabled")
                   : (v.enabled ? "stopped, enabled" : "stopped");
}

std::string notifier_text(const NotifierSlot& n) {
  switch (n.state) {
    case NotifierSlot::State::Unset: return "-";
    case NotifierSlot::State::NoFd: return "nofd";
    case NotifierSlot::State::Fd:
      return format_fd(n.fd) + (n.set_by != kNoMessage ? " " + record_number(n.set_by) : "");
  }
  return "?";
}

// The text of each vring column (what is measured, and what the tooltip of a narrow table shows).
std::vector<std::string> vring_cells(const VringState& v) {
  std::string base = v.base ? std::to_string(*v.base) : "-";
  if (v.last_base) base += " (read " + std::to_string(*v.last_base) + ")";
  std::string counts;
  for (const RequestCount& c : v.counts) {
    if (!counts.empty()) counts += "  ";
    counts += std::string(c.info ? c.info->name : "?") + "×" + std::to_string(c.count);
  }
  auto addr = [&](int k) {
    if (!v.addr) return std::string("-");
    return hex(k == 0   ? v.addr->desc_user_addr
               : k == 1 ? v.addr->avail_user_addr
                        : v.addr->used_user_addr);
  };
  return {std::to_string(v.index),
          vring_state_name(v),
          v.num ? std::to_string(*v.num) : "-",
          base,
          addr(0),
          addr(1),
          addr(2),
          notifier_text(v.kick),
          notifier_text(v.call),
          notifier_text(v.err),
          counts};
}

void vring_cell(AppState& s, const VringState& v, size_t k, const std::string& text) {
  switch (k) {
    case 1:
      text_colored(v.started && v.enabled ? kOkText
                   : v.started            ? severity_color(Severity::Warning)
                                          : kDimText,
                   text);
      break;
    case 7: notifier(s, v.kick, "kick"); break;
    case 8: notifier(s, v.call, "call"); break;
    case 9: notifier(s, v.err, "err"); break;
    case 10: text_or_tip(kDimText, text); break;
    default: text_or_tip(text); break;
  }
}

void vring_table(AppState& s, const SessionState& st) {
  std::vector<FitColumn> columns = {
      {"queue", "vring index", 0},
      {"state",
       "started: SET_VRING_KICK, until GET_VRING_BASE or a reset stops it; enabled: "
       "SET_VRING_ENABLE 1 (or at once without PROTOCOL_FEATURES)",
       0},
      {"size", "SET_VRING_NUM: descriptors in the ring", 1},
      {"base",
       "SET_VRING_BASE: where the back-end starts; (read N): what the last GET_VRING_BASE "
       "returned",
       1},
      {"desc", "descriptor table address as sent (front-end virtual unless IOTLB)", 4},
      {"avail", "available (driver) ring address as sent", 5},
      {"used", "used (device) ring address as sent", 5},
      {"kick", "SET_VRING_KICK: the eventfd the front-end signals; nofd: the back-end polls", 2},
      {"call", "SET_VRING_CALL: the eventfd the back-end signals; nofd: no interrupts", 2},
      {"err", "SET_VRING_ERR: the eventfd the back-end signals on errors", 3},
      {"requests", "how often each request named this queue", 6},
  };
  std::vector<std::vector<std::string>> rows;
  for (const VringState& v : st.vrings) rows.push_back(vring_cells(v));
  for (size_t k = 0; k < columns.size(); ++k) {
    columns[k].width = cell_width(columns[k].name, ImGui::GetFont());
    for (const auto& r : rows)
      columns[k].width = std::max(columns[k].width, cell_width(r[k], fonts().mono));
  }
  fit_columns(columns, ImGui::GetContentRegionAvail().x);
  const bool all_shown = shown_count(columns) == static_cast<int>(columns.size());
  ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                          ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollY;
  const float h = std::min(
      ImGui::GetContentRegionAvail().y * 0.6f,
      ImGui::GetTextLineHeightWithSpacing() * static_cast<float>(st.vrings.size() + 1) + 8);
  if (!ImGui::BeginTable("vrings", shown_count(columns), flags, ImVec2(0, h))) return;
  for (const FitColumn& c : columns)
    if (c.shown) ImGui::TableSetupColumn(c.name);
  ImGui::TableSetupScrollFreeze(0, 1);
  column_headers_with_tips(s, columns);
  ImGui::PushFont(fonts().mono);
  for (size_t r = 0; r < st.vrings.size(); ++r) {
    const VringState& v = st.vrings[r];
    ImGui::TableNextRow();
    ImGui::PushID(static_cast<int>(v.index));
    for (size_t k = 0; k < columns.size(); ++k) {
      if (!columns[k].shown) continue;
      ImGui::TableNextColumn();
      vring_cell(s, v, k, rows[r][k]);
      if (k == 0 && !all_shown && ImGui::IsItemHovered()) {
        std::string all;
        for (size_t j = 0; j < columns.size(); ++j)
          all += std::string(columns[j].name) + ": " + rows[r][j] + "\n";
        ImGui::SetTooltip("%s", all.c_str());
      }
    }
    ImGui::PopID();
  }
  ImGui::PopFont();
  ImGui::EndTable();
  hidden_note(columns, "a queue number");
}

// Latest ring snapshot per queue among the session's RingState records up to `until`. Counting is
// cheap (entry fields); only the newest records are decoded, walking back until every queue has
// one (or a bounded number were decoded), so a capture with 100k ring samples stays smooth.
size_t ring_records(AppState& s, size_t session, uint32_t until, size_t queues) {
  constexpr size_t kMaxDecoded = 4096;
  const Store& st = s.store();
  std::map<uint32_t, std::pair<uint32_t, RingSnapshot>> latest;
  const auto end = std::upper_bound(s.ring_records.begin(), s.ring_records.end(), until);
  size_t count = 0;
  for (auto it = s.ring_records.begin(); it != end; ++it)
    count += st.entry(*it).session_index == session;
  size_t decoded = 0;
  for (auto it = end; it != s.ring_records.begin() && latest.size() < std::max<size_t>(queues, 1) &&
                      decoded < kMaxDecoded;) {
    --it;
    if (st.entry(*it).session_index != session) continue;
    ++decoded;
    if (auto snap = decode_ring_snapshot(st.bytes(*it)); snap && !latest.count(snap->queue))
      latest[snap->queue] = {*it, std::move(*snap)};
  }
  if (count == 0) {
    ImGui::PushStyleColor(ImGuiCol_Text, kDimText);
    ImGui::TextWrapped(
        "No ring-state records in this session up to here. Ring indices and in-flight buffers "
        "are sampled from guest memory by the recorder every 50 ms unless it ran with "
        "`--sample-interval 0` (docs/ring-state-format.md).");
    ImGui::PopStyleColor();
    return 0;
  }
  ImGui::Text("%zu ring snapshot%s up to here; latest per queue:", count, count == 1 ? "" : "s");
  s.stats.ring_snapshot_rows = latest.size();
  std::vector<FitColumn> columns = {
      {"queue", "vring index", 0},
      {"record", "the RingState record this row comes from", 3},
      {"type", "split or packed virtqueue", 5},
      {"size", "descriptors in the ring", 4},
      {"avail idx", "the driver's avail->idx: buffers made available so far (wraps at 65536)", 1},
      {"used idx", "the device's used->idx: buffers completed so far (wraps at 65536)", 1},
      {"in flight",
       "available but not yet used (avail idx - used idx); (N not fetched): of those, not yet read "
       "by the device",
       0},
      {"oldest buffer",
       "the oldest buffer still in flight: its descriptor chain (hover a row for the whole "
       "snapshot)",
       2},
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& [queue, rec] : latest) {
    const RingSnapshot& r = rec.second;
    std::string inflight = std::to_string(r.inflight);
    if (r.pending) inflight += " (" + std::to_string(*r.pending) + " not fetched)";
    rows.push_back({std::to_string(queue), record_number(rec.first),
                    std::string(ring_type_name(r.type)), std::to_string(r.size),
                    r.indices_ok ? std::to_string(r.avail_idx) : "?",
                    r.indices_ok ? std::to_string(r.used_idx) : "?", inflight,
                    r.oldest ? describe_buffer(*r.oldest) : std::string("-")});
  }
  for (size_t k = 0; k < columns.size(); ++k) {
    columns[k].width = cell_width(columns[k].name, ImGui::GetFont());
    for (const auto& r : rows)
      columns[k].width = std::max(columns[k].width, cell_width(r[k], fonts().mono));
  }
  fit_columns(columns, ImGui::GetContentRegionAvail().x);
  const float table_h =
      ImGui::GetTextLineHeightWithSpacing() * static_cast<float>(latest.size() + 1) + 8;
  if (!ImGui::BeginTable(
          "snapshots", shown_count(columns),
          ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit,
          ImVec2(0, table_h)))
    return count;
  for (const FitColumn& c : columns)
    if (c.shown) ImGui::TableSetupColumn(c.name);
  column_headers_with_tips(s, columns);
  ImGui::PushFont(fonts().mono);
  size_t r = 0;
  for (const auto& [queue, rec] : latest) {
    const RingSnapshot& snap = rec.second;
    ImGui::TableNextRow();
    ImGui::PushID(static_cast<int>(rec.first));
    for (size_t k = 0; k < columns.size(); ++k) {
      if (!columns[k].shown) continue;
      ImGui::TableNextColumn();
      if (k == 1)
        entry_link(s, rec.first);
      else if (k == 6)
        text_colored(snap.faults.empty() ? ImGui::GetColorU32(ImGuiCol_Text)
                                         : severity_color(Severity::Error),
                     rows[r][k]);
      else
        text_unformatted(rows[r][k]);
      if (k != 1 && ImGui::IsItemHovered())
        ImGui::SetTooltip("%s", describe_ring_snapshot(snap).c_str());
    }
    ImGui::PopID();
    ++r;
  }
  ImGui::PopFont();
  ImGui::EndTable();
  hidden_note(columns, "a row");
  return count;
}

}  // namespace

void draw_rings(AppState& s) {
  s.stats.ring_queues = s.stats.ring_records = s.stats.ring_snapshot_rows = 0;
  s.stats.ring_columns = s.stats.ring_columns_beyond = 0;
  const Store& st = s.store();
  const auto& sessions = st.sessions();
  if (sessions.empty()) {
    text_colored(kDimText, "No session yet.");
    return;
  }
  session_picker(s);
  const size_t si = std::min(s.session_index, sessions.size() - 1);
  const StoreSession& session = sessions[si];
  if (session.first_entry == kNoEntry) return;

  // Time slider over the session's records.
  ImGui::Checkbox("latest", &s.rings_follow);
  ImGui::SameLine();
  int at = static_cast<int>(s.rings_follow
                                ? session.last_entry
                                : std::clamp(s.rings_at, session.first_entry, session.last_entry));
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - ImGui::GetFontSize() * 16);
  const std::string label = "at " + record_number(static_cast<uint32_t>(at)) + "  " +
                            entry_time(st, static_cast<size_t>(at)) + " s";
  if (ImGui::SliderInt("##at", &at, static_cast<int>(session.first_entry),
                       static_cast<int>(session.last_entry), label.c_str())) {
    s.rings_follow = false;
    s.rings_at = static_cast<uint32_t>(at);
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("at selection") && s.selected != view::kNoSelection) {
    s.rings_follow = false;
    s.rings_at = s.selected;
  }

  const SessionState* state = &session.state();
  uint32_t until = session.last_entry;
  if (!s.rings_follow) {
    until = std::clamp(s.rings_at, session.first_entry, session.last_entry);
    const bool done = s.replay.update(st, si, until, kReplayBudget);
    state = &s.replay.state();
    if (!done) {
      ImGui::SameLine();
      text_colored(kDimText, "replaying…");
    }
  }
  s.stats.ring_queues = state->vrings.size();
  ImGui::BeginChild("rings scroll");
  if (state->vrings.empty())
    text_colored(kDimText, "No queue set up yet at this point.");
  else
    vring_table(s, *state);
  ImGui::Spacing();
  s.stats.ring_records = ring_records(s, si, until, state->vrings.size());
  ImGui::EndChild();
}

}  // namespace vhs::gui
