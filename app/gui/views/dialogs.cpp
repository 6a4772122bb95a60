// Modal dialogs: a small file browser for File ▸ Open / Save (written with ImGui, listing
// directories and captures), the keyboard/filter help, and the relay log of a live session.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>

#include "app/common/text_format.hpp"
#include "app/common/view_filter.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

namespace fs = std::filesystem;

void refresh(FileDialogState& d) {
  d.entries.clear();
  d.error.clear();
  std::error_code ec;
  fs::directory_iterator it(d.dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    d.error = "cannot list '" + d.dir + "': " + ec.message();
    return;
  }
  for (const auto& de : it) {
    std::error_code e2;
    const bool dir = de.is_directory(e2);
    const std::string name = de.path().filename().string();
    if (name.starts_with(".")) continue;
    if (!dir && !(name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")))
      continue;
    FileDialogState::Entry entry{name, dir, dir ? 0 : static_cast<uint64_t>(de.file_size(e2))};
    d.entries.push_back(std::move(entry));
  }
  std::sort(d.entries.begin(), d.entries.end(), [](const auto& a, const auto& b) {
    if (a.dir != b.dir) return a.dir;
    return a.name < b.name;
  });
  d.stale = false;
}

void file_dialog(AppState& s, bool save) {
  FileDialogState& d = s.dialog;
  const char* title = save ? "Save capture as" : "Open capture";
  bool& flag = save ? s.save_dialog : s.open_dialog;
  if (flag) {
    ImGui::OpenPopup(title);
    flag = false;
    if (d.dir.empty()) {  // first time: next to the open capture, else the working directory
      std::error_code ec;
      const fs::path open =
          s.ctl.mode() == Mode::Capture ? fs::path(s.ctl.source()).parent_path() : fs::path();
      d.dir = !open.empty() && fs::is_directory(open, ec) ? fs::absolute(open, ec).string()
                                                          : fs::current_path(ec).string();
    }
    d.stale = true;
  }
  const ImVec2 center = ImGui::GetMainViewport()->GetCenter();
  ImGui::SetNextWindowPos(center, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 44, ImGui::GetFontSize() * 28),
                           ImGuiCond_Appearing);
  if (!ImGui::BeginPopupModal(title, nullptr)) return;
  if (d.stale) refresh(d);
  ImGui::PushFont(fonts().mono);
  text_unformatted(d.dir);
  ImGui::PopFont();
  ImGui::SameLine();
  if (ImGui::SmallButton("up")) {
    d.dir = fs::path(d.dir).parent_path().string();
    if (d.dir.empty()) d.dir = "/";
    d.stale = true;
  }
  const float footer = ImGui::GetFrameHeightWithSpacing() * 2.4f;
  ImGui::BeginChild("files", ImVec2(0, -footer), true);
  std::string chosen;
  for (const auto& e : d.entries) {
    // File names are any bytes but '/' and NUL: shown escaped, used as they are.
    const std::string name = escape_text(e.name);
    std::string label = e.dir ? "▸ " + name + "/" : "  " + name;
    if (ImGui::Selectable(label.c_str(), !e.dir && e.name == d.name,
                          ImGuiSelectableFlags_AllowDoubleClick)) {
      if (e.dir) {
        d.dir = (fs::path(d.dir) / e.name).string();
        d.stale = true;
      } else {
        d.name = e.name;
        if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left))
          chosen = (fs::path(d.dir) / e.name).string();
      }
    }
    if (!e.dir) {
      ImGui::SameLine(ImGui::GetContentRegionAvail().x - ImGui::GetFontSize() * 4);
      text_colored(kDimText, compact_size(e.size));
    }
  }
  if (d.entries.empty()) text_colored(kDimText, d.error.empty() ? "(no captures here)" : d.error);
  ImGui::EndChild();
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 12);
  const bool enter =
      ImGui::InputTextWithHint("##name", save ? "file name (.pcap)" : "file name or full path",
                               &d.name, ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  const bool ok = ImGui::Button(save ? "Save" : "Open", ImVec2(ImGui::GetFontSize() * 5, 0));
  ImGui::SameLine();
  if (ImGui::Button("Cancel", ImVec2(ImGui::GetFontSize() * 5, 0)) ||
      ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape)))
    ImGui::CloseCurrentPopup();
  if ((ok || enter) && !d.name.empty())
    chosen = d.name.starts_with("/") ? d.name : (fs::path(d.dir) / d.name).string();
  if (!chosen.empty()) {
    if (save) {
      if (!chosen.ends_with(".pcap") && !chosen.ends_with(".pcapng")) chosen += ".pcap";
      s.ctl.save_capture(chosen);
    } else {
      std::error_code ec;
      if (fs::is_directory(chosen, ec)) {
        d.dir = chosen;
        d.name.clear();
        d.stale = true;
        chosen.clear();
      } else {
        s.ctl.open_capture(chosen);
      }
    }
    if (!chosen.empty()) ImGui::CloseCurrentPopup();
  }
  if (!d.error.empty() && !d.entries.empty())
    text_colored(severity_color(Severity::Error), d.error);
  ImGui::EndPopup();
}

void help_window(AppState& s) {
  if (!s.show_help) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 46, ImGui::GetFontSize() * 30),
                           ImGuiCond_FirstUseEver);
  if (ImGui::Begin("Help", &s.show_help)) {
    ImGui::TextUnformatted("Keys (when not typing in a text box)");
    ImGui::PushFont(fonts().mono);
    for (const char* line :
         {"Up / Down           previous / next message", "PgUp / PgDn         one page",
          "Home / End          first / last message",
          "Enter               jump to the request's reply / the reply's request",
          "n / N               next / previous message with a finding",
          "Ctrl+F              filter box", "Ctrl+O / Ctrl+S     open / save capture",
          "F10 / F5            live: step one held message / continue",
          "F9 / Shift+F9       live: break on / delete the selected request"})
      ImGui::TextUnformatted(line);
    ImGui::PopFont();
    ImGui::Separator();
    ImGui::TextUnformatted("Filter syntax");
    ImGui::PushFont(fonts().mono);
    for (std::string_view line : view::filter_help_lines()) text_unformatted(line);
    ImGui::Spacing();
    for (const auto& a : view::filter_aliases())
      text_unformatted("  " + std::string(a.name) + "  —  " + std::string(a.meaning));
    ImGui::PopFont();
    ImGui::Separator();
    ImGui::TextWrapped(
        "Timeline: wheel zooms around the mouse, drag pans, double-click fits everything, click "
        "selects the "
        "nearest message of that lane. Detail: hover a field to see its bytes, hover a byte to see "
        "its "
        "field, right-click a field to filter on its value.");
  }
  ImGui::End();
}

void log_window(AppState& s) {
  if (!s.show_log) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 46, ImGui::GetFontSize() * 18),
                           ImGuiCond_FirstUseEver);
  if (ImGui::Begin("Relay log", &s.show_log)) {
    ImGui::PushFont(fonts().mono);
    for (const std::string& line : s.ctl.log_lines()) text_unformatted(line);
    if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY()) ImGui::SetScrollHereY(1.0f);
    ImGui::PopFont();
  }
  ImGui::End();
}

}  // namespace

void draw_dialogs(AppState& s) {
  file_dialog(s, false);
  file_dialog(s, true);
  help_window(s);
  log_window(s);
}

}  // namespace vhs::gui
