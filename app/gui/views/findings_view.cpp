// Every finding of the store, errors first, then warnings, then info, each in record order;
// virtualised (a broken capture can have a finding per message). Clicking one selects its message.
#include <string>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {
constexpr size_t kWrappedFindings = 2000;  // drawn whole, details wrapped, up to this many
}  // namespace

void draw_findings(AppState& s) {
  const Store& st = s.store();
  s.stats.findings_total = s.findings.size();
  size_t counts[3] = {0, 0, 0};
  for (const FindingRef& f : s.findings)
    ++counts[static_cast<size_t>(st.findings(f.entry)[f.index].severity())];
  text_colored(severity_color(Severity::Error), std::to_string(counts[2]) + " errors");
  ImGui::SameLine();
  text_colored(severity_color(Severity::Warning), std::to_string(counts[1]) + " warnings");
  ImGui::SameLine();
  text_colored(severity_color(Severity::Info), std::to_string(counts[0]) + " info");
  ImGui::SameLine();
  text_colored(kDimText, "   click a finding to select its message");
  if (s.findings.empty()) {
    text_colored(kOkText, "No findings.");
    return;
  }
  ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg |
                          ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_Resizable |
                          ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("findings", 5, flags, ImGui::GetContentRegionAvail())) return;
  const float fs = ImGui::GetFontSize();
  ImGui::TableSetupScrollFreeze(0, 1);
  // The first four fit their content, so the detail (what the user needs to read) gets the rest.
  ImGui::TableSetupColumn("severity");
  ImGui::TableSetupColumn("finding");
  ImGui::TableSetupColumn("record");
  ImGui::TableSetupColumn("message");
  ImGui::TableSetupColumn("detail", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableHeadersRow();
  const float row_h = ImGui::GetTextLineHeight() + ImGui::GetStyle().CellPadding.y * 2;
  // Details wrap inside their column, which gives rows different heights; the clipper needs one
  // height, so only a list too long to draw whole (a broken capture) is clipped, one line a row.
  const bool wrap = s.findings.size() <= kWrappedFindings;
  ImGuiListClipper clipper;
  clipper.Begin(wrap ? 1 : static_cast<int>(s.findings.size()), row_h);
  while (clipper.Step()) {
    const int first = wrap ? 0 : clipper.DisplayStart;
    const int last = wrap ? static_cast<int>(s.findings.size()) : clipper.DisplayEnd;
    for (int r = first; r < last; ++r) {
      const FindingRef& ref = s.findings[static_cast<size_t>(r)];
      const Finding& f = st.findings(ref.entry)[ref.index];
      const FindingInfo& fi = finding_info(f.code);
      ImGui::TableNextRow(ImGuiTableRowFlags_None, wrap ? 0.0f : row_h);
      ImGui::TableNextColumn();
      ImGui::PushID(r);
      if (ImGui::Selectable(std::string(severity_name(fi.severity)).c_str(),
                            ref.entry == s.selected, ImGuiSelectableFlags_SpanAllColumns))
        s.select(ref.entry);
      if (ImGui::IsItemHovered()) {  // the detail column is often clipped: the whole text, wrapped
        ImGui::BeginTooltip();
        ImGui::PushTextWrapPos(fs * 36);
        text_colored(severity_color(fi.severity),
                     std::string(fi.id) + ": " + std::string(fi.title));
        if (!f.detail.empty()) text_unformatted(escape_text(f.detail));
        ImGui::PopTextWrapPos();
        ImGui::EndTooltip();
      }
      ImGui::PopID();
      ImGui::TableNextColumn();
      text_colored(severity_color(fi.severity), fi.id);
      ImGui::TableNextColumn();
      text_unformatted(record_number(ref.entry));
      ImGui::TableNextColumn();
      const StoreEntry& e = st.entry(ref.entry);
      text_colored(e.is_message() && e.info ? category_color(e.info->category) : kEventText,
                   entry_title(st, ref.entry));
      ImGui::TableNextColumn();
      if (wrap) ImGui::PushTextWrapPos(0);
      text_unformatted(f.detail);
      if (wrap) ImGui::PopTextWrapPos();
    }
  }
  ImGui::EndTable();
}

}  // namespace vhs::gui
