// The filter box above the message table: parses on every edit (parse errors point at the
// column), hands a valid filter to the incremental index, shows how many rows match and how far
// the scan has got, and steps through findings.
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_stdlib.h>

#include <string>

#include "app/common/view_filter.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

void filter_help_tooltip() {
  ImGui::TextDisabled("(?)");
  if (!ImGui::IsItemHovered()) return;
  ImGui::BeginTooltip();
  ImGui::PushFont(fonts().mono);
  ImGui::TextUnformatted("Filter syntax");
  ImGui::Separator();
  for (std::string_view line : view::filter_help_lines()) text_unformatted(line);
  ImGui::Separator();
  ImGui::TextUnformatted("Short field names:");
  for (const auto& a : view::filter_aliases()) {
    std::string line = "  " + std::string(a.name);
    line.resize(std::max<size_t>(line.size(), 40), ' ');
    text_unformatted(line + std::string(a.meaning));
  }
  ImGui::Separator();
  ImGui::TextUnformatted("Keys: Up/Down PgUp/PgDn Home/End move, Enter jumps to the partner,");
  ImGui::TextUnformatted("      n / N next / previous finding, Ctrl+F focuses this box.");
  ImGui::PopFont();
  ImGui::EndTooltip();
}

}  // namespace

void draw_filter_bar(AppState& s) {
  const Store& st = s.store();
  ImGuiIO& io = ImGui::GetIO();
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_F, false))
    ImGui::SetKeyboardFocusHere();  // GLFW key codes index KeysDown
  const bool bad = !s.filter_error.empty();
  if (bad) ImGui::PushStyleColor(ImGuiCol_FrameBg, IM_COL32(110, 30, 30, 200));
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - ImGui::GetFontSize() * 24);
  ImGui::PushFont(fonts().mono);
  if (ImGui::InputTextWithHint(
          "##filter", "filter: SET_VRING_* and vring.index == 1 | finding | fe>be | latency > 5ms",
          &s.filter_text))
    s.filter_dirty = true;
  ImGui::PopFont();
  if (bad) ImGui::PopStyleColor();
  if (bad && ImGui::IsItemHovered())
    ImGui::SetTooltip("column %zu: %s", s.filter_error_pos + 1, s.filter_error.c_str());
  ImGui::SameLine();
  filter_help_tooltip();

  ImGui::SameLine();
  if (ImGui::SmallButton("◀ finding")) {
    uint32_t e = view::step_finding(st, s.rows.rows(), s.selected, false);
    if (e != view::kNoSelection) s.select(e);
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("finding ▶")) {
    uint32_t e = view::step_finding(st, s.rows.rows(), s.selected, true);
    if (e != view::kNoSelection) s.select(e);
  }
  ImGui::SameLine();
  std::string count = std::to_string(s.rows.size()) + " of " + std::to_string(st.size());
  // While a capture loads the list trails the records read by a slice (the status bar shows the
  // load); afterwards an incomplete list is a filter still being evaluated.
  if (!s.rows.complete(st) && st.size() > 0 && !s.ctl.loading()) {
    count += " (filtering… " + std::to_string(s.rows.scanned() * 100 / st.size()) + " %)";
  }
  text_colored(kDimText, count);

  if (bad) {
    text_colored(severity_color(Severity::Error), "filter: " + s.filter_error + " (column " +
                                                      std::to_string(s.filter_error_pos + 1) + ")");
  }
}

}  // namespace vhs::gui
