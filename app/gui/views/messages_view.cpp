// The message table: one row per entry that passes the filter, drawn through ImGuiListClipper so
// only the rows on screen are formatted (and their text cached while they stay there). Rows are
// coloured by request category and tinted by finding severity; the selected message's partner
// (request <-> reply) is tinted too and double-click / Enter jumps to it.
#include <algorithm>
#include <string>

#include <imgui.h>
#include <imgui_internal.h>  // TableSetColumnWidth: widen the request column after creation

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "app/common/view_sample_fields.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

constexpr size_t kRowCacheLimit = 4096;
constexpr float kMinSummaryChars = 26;  // queue, in-flight count and the start of the detail
// The request column's width when no title is longer: "GET_PROTOCOL_FEATURES" and the
// non-message kinds ("ring-state", "disconnect (front-end closed)" is cut, its tooltip shows it).
constexpr float kMinRequestChars = 21;
constexpr int kRequestColumn = 6;

const RowText& row_text(AppState& s, uint32_t entry) {
  auto it = s.row_cache.find(entry);
  if (it != s.row_cache.end()) return it->second;
  if (s.row_cache.size() >= kRowCacheLimit) s.row_cache.clear();
  const Store& st = s.store();
  RowText t;
  t.time = entry_time(st, entry);
  t.title = entry_title(st, entry);
  // Ring states lead with what is in flight (the CLI's line lists the index words first).
  t.summary = st.entry(entry).kind == RecordKind::RingState ? view::ring_state_summary(st, entry)
                                                            : entry_summary(st, entry);
  t.latency = entry_latency(st, entry);
  t.markers = finding_markers(st, entry);
  return s.row_cache.emplace(entry, std::move(t)).first->second;
}

ImU32 title_color(const StoreEntry& e) {
  if (!e.is_message())
    return e.kind == RecordKind::Error ? severity_color(Severity::Error) : kEventText;
  if (!e.info) return severity_color(Severity::Error);
  return category_color(e.info->category);
}

}  // namespace

void draw_messages(AppState& s) {
  const Store& st = s.store();
  const auto rows = s.rows.rows();
  s.stats.message_rows = rows.size();
  s.stats.message_visible = 0;
  s.stats.summary_chars = 0;
  s.stats.request_chars = 0;

  ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg |
                          ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_Resizable |
                          ImGuiTableFlags_Hideable | ImGuiTableFlags_SizingFixedFit;
  // An empty list says why (loading, nothing recorded yet, or the filter hides everything), above
  // the table: the table's own scrolling child would cover text drawn over it.
  const std::string hint =
      s.ctl.loading() ? "Loading " + s.ctl.loading_path() + " …" : s.rows.empty_hint(st);
  if (!hint.empty()) {
    ImGui::PushTextWrapPos(0);
    text_colored(severity_color(Severity::Info), hint);
    ImGui::PopTextWrapPos();
  }
  ImGui::PushFont(fonts().mono);
  const float cw = ImGui::CalcTextSize("0").x;
  // Fixed columns sized to what they hold, so the summary keeps the room; columns that carry
  // nothing in this capture (one session, no back-end channel) are not drawn at all.
  const int number_digits = static_cast<int>(record_number(st.empty() ? 0 : st.size() - 1).size());
  const ImGuiTableColumnFlags fixed = ImGuiTableColumnFlags_WidthFixed;
  const ImGuiTableColumnFlags session_col =
      fixed | (st.sessions().size() < 2 ? ImGuiTableColumnFlags_Disabled : 0);
  const ImGuiTableColumnFlags channel_col =
      fixed | (s.backend_messages == 0 ? ImGuiTableColumnFlags_Disabled : 0);
  // The summary never gets narrower than this: below it the table scrolls sideways instead.
  const float min_summary = cw * kMinSummaryChars;
  const float request_chars = std::max(kMinRequestChars, static_cast<float>(s.request_chars));
  const float fixed_sum =
      cw * (static_cast<float>(number_digits) + 1 + 9.5f + (s.delta_column_shown ? 9.5f : 0) +
            3.5f + request_chars + 9.5f + 4 + (st.sessions().size() < 2 ? 0 : 3) +
            (s.backend_messages == 0 ? 0 : 3)) +
      ImGui::GetStyle().CellPadding.x * 2 * 8 + ImGui::GetStyle().ScrollbarSize;
  const ImVec2 outer = ImGui::GetContentRegionAvail();
  const float inner_w = std::max(outer.x, fixed_sum + min_summary);
  if (inner_w > outer.x) flags |= ImGuiTableFlags_ScrollX;
  if (!ImGui::BeginTable("messages", 10, flags, outer, inner_w > outer.x ? inner_w : 0.0f)) {
    ImGui::PopFont();
    return;
  }
  ImGui::TableSetupScrollFreeze(1, 1);
  ImGui::TableSetupColumn("#", fixed, cw * (static_cast<float>(number_digits) + 1));
  ImGui::TableSetupColumn("time", fixed, cw * 9.5f);
  // Off by default (the right-click menu of the header shows it): time to the previous row.
  ImGui::TableSetupColumn("Δt", fixed | ImGuiTableColumnFlags_DefaultHide, cw * 9.5f);
  ImGui::TableSetupColumn("s", session_col, cw * 3);
  ImGui::TableSetupColumn("dir", fixed, cw * 3.5f);
  ImGui::TableSetupColumn("ch", channel_col, cw * 3);
  ImGui::TableSetupColumn("request", fixed, cw * request_chars);
  ImGui::TableSetupColumn("summary", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableSetupColumn("latency", fixed, cw * 9.5f);
  ImGui::TableSetupColumn("!", fixed, cw * 4);
  // A column's initial width applies only when the table is created (or comes from the ini): a
  // longer title found later by the incremental scan widens it here, once per growth, so a width
  // the user dragged is kept otherwise.
  // (ImGui can resize a column only once the table has been laid out in an earlier frame.)
  if (s.request_chars > s.request_chars_applied && ImGui::GetCurrentTable()->MinColumnWidth > 0) {
    ImGui::TableSetColumnWidth(kRequestColumn, cw * request_chars);
    s.request_chars_applied = s.request_chars;
  }
  ImGui::TableHeadersRow();
  s.delta_column_shown = (ImGui::TableGetColumnFlags(2) & ImGuiTableColumnFlags_IsEnabled) != 0;

  const float row_h = ImGui::GetTextLineHeight() + ImGui::GetStyle().CellPadding.y * 2;
  // Keep a selection moved by keyboard or a jump in view (once per move).
  if (s.scroll_to_selected) {
    if (auto pos = s.rows.position_of(s.selected)) {
      const float view_h = ImGui::GetWindowHeight() - row_h;  // minus the frozen header row
      const float y = static_cast<float>(*pos) * row_h;
      const float top = ImGui::GetScrollY();
      if (y < top || y + row_h > top + view_h) ImGui::SetScrollY(std::max(0.0f, y - view_h * 0.4f));
    }
    s.scroll_to_selected = false;
  }

  // Live: a list scrolled to its end stays at the end as records arrive ("follow").
  if (s.ctl.mode() == Mode::Live && s.follow_tail && rows.size() > s.rows_seen &&
      !s.scroll_to_selected)
    ImGui::SetScrollY(static_cast<float>(rows.size()) * row_h);
  s.rows_seen = rows.size();

  const uint32_t peer = view::peer_of(st, s.selected);
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(rows.size()), row_h);
  while (clipper.Step()) {
    for (int r = clipper.DisplayStart; r < clipper.DisplayEnd; ++r) {
      const uint32_t i = rows[static_cast<size_t>(r)];
      const StoreEntry& e = st.entry(i);
      const RowText& t = row_text(s, i);
      ++s.stats.message_visible;
      ImGui::TableNextRow(ImGuiTableRowFlags_None, row_h);
      if (e.has_findings)
        ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, severity_row_bg(e.worst));
      if (i == peer) ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, peer_row_bg());

      ImGui::TableNextColumn();
      ImGui::PushID(static_cast<int>(i));
      const std::string num = record_number(i);
      if (ImGui::Selectable(
              num.c_str(), i == s.selected,
              ImGuiSelectableFlags_SpanAllColumns | ImGuiSelectableFlags_AllowDoubleClick,
              ImVec2(0, row_h - ImGui::GetStyle().CellPadding.y * 2))) {
        if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left) &&
            view::peer_of(st, i) != view::kNoSelection) {
          s.select(view::peer_of(st, i));
        } else {
          s.select(i, false);
        }
      }
      ImGui::PopID();
      ImGui::TableNextColumn();
      text_unformatted(t.time);
      ImGui::TableNextColumn();
      if (r > 0) {
        const uint64_t prev = st.entry(rows[static_cast<size_t>(r) - 1]).timestamp_ns;
        if (e.timestamp_ns >= prev) text_colored(kDimText, format_duration(e.timestamp_ns - prev));
      }
      ImGui::TableNextColumn();
      text_unformatted(std::to_string(e.session));
      ImGui::TableNextColumn();
      if (e.is_message()) text_unformatted(direction_arrow(e.direction));
      ImGui::TableNextColumn();
      if (e.is_message())
        text_colored(
            e.channel == Channel::Backend ? category_color(Category::BackendChannel) : kDimText,
            channel_short(e.channel));
      ImGui::TableNextColumn();
      if (r == clipper.DisplayStart)
        s.stats.request_chars = static_cast<size_t>(ImGui::GetContentRegionAvail().x / cw);
      text_or_tip(title_color(e), t.title);
      if (i == peer) {
        ImGui::SameLine();
        text_colored(IM_COL32(120, 170, 255, 255), "↔");
      }
      ImGui::TableNextColumn();
      if (r == clipper.DisplayStart)
        s.stats.summary_chars = static_cast<size_t>(ImGui::GetContentRegionAvail().x / cw);
      text_or_tip(t.summary);  // feature names, memory tables: often wider than the column
      ImGui::TableNextColumn();
      if (!t.latency.empty())
        text_unformatted(t.latency);
      else if (e.is_message() && e.role == MessageRole::Request &&
               e.expects != ReplyExpectation::None && e.peer == kNoEntry)
        text_colored(severity_color(Severity::Warning), "waiting");
      ImGui::TableNextColumn();
      if (e.has_findings) {
        const auto n = st.findings(i).size();
        text_colored(severity_color(e.worst), "● " + std::to_string(n));
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", t.markers.c_str());
      }
    }
  }
  s.follow_tail = ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - row_h;
  ImGui::EndTable();
  ImGui::PopFont();
}

}  // namespace vhs::gui
