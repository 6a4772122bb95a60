// ImGui settings handler for the "[VhostScope][Layout]" ini section.
#include "app/gui/settings.hpp"

#include <imgui.h>
#include <imgui_internal.h>

#include <cstdio>
#include <cstring>

namespace vhs::gui {
namespace {

Layout g_saved;  // what the ini holds, to notice changes

void* read_open(ImGuiContext*, ImGuiSettingsHandler* h, const char* name) {
  return std::strcmp(name, "Layout") == 0 ? h->UserData : nullptr;
}

void read_line(ImGuiContext*, ImGuiSettingsHandler*, void* entry, const char* line) {
  auto* l = static_cast<Layout*>(entry);
  float f;
  int a, b;
  if (std::sscanf(line, "LeftFraction=%f", &f) == 1 && f > 0.1f && f < 0.95f)
    l->left_fraction = f;
  else if (std::sscanf(line, "TimelineHeight=%f", &f) == 1 && f >= 40 && f < 4000)
    l->timeline_height = f;
  else if (std::sscanf(line, "HexFraction=%f", &f) == 1 && f > 0.05f && f < 0.95f)
    l->detail_hex_fraction = f;
  else if (std::sscanf(line, "HideSamples=%d", &a) == 1)
    l->hide_samples = a != 0;
  else if (std::sscanf(line, "Tab=%d", &a) == 1 && a >= 0 && a < static_cast<int>(Tab::Count))
    l->tab = static_cast<Tab>(a);
  else if (std::sscanf(line, "Window=%d,%d", &a, &b) == 2 && a >= 320 && b >= 240 && a < 16384 &&
           b < 16384) {
    l->window_width = a;
    l->window_height = b;
  }
}

void write_all(ImGuiContext*, ImGuiSettingsHandler* h, ImGuiTextBuffer* out) {
  const auto* l = static_cast<const Layout*>(h->UserData);
  out->appendf("[%s][Layout]\n", h->TypeName);
  out->appendf(
      "LeftFraction=%.3f\nTimelineHeight=%.0f\nHexFraction=%.3f\nTab=%d\nWindow=%d,%d\n"
      "HideSamples=%d\n\n",
      l->left_fraction, l->timeline_height, l->detail_hex_fraction, static_cast<int>(l->tab),
      l->window_width, l->window_height, l->hide_samples ? 1 : 0);
  g_saved = *l;
}

bool same(const Layout& a, const Layout& b) {
  return a.left_fraction == b.left_fraction && a.timeline_height == b.timeline_height &&
         a.detail_hex_fraction == b.detail_hex_fraction && a.tab == b.tab &&
         a.window_width == b.window_width && a.window_height == b.window_height &&
         a.hide_samples == b.hide_samples;
}

}  // namespace

void register_layout_settings(Layout* layout) {
  ImGuiSettingsHandler h;
  h.TypeName = "VhostScope";
  h.TypeHash = ImHashStr("VhostScope");
  h.ReadOpenFn = read_open;
  h.ReadLineFn = read_line;
  h.WriteAllFn = write_all;
  h.UserData = layout;
  ImGui::GetCurrentContext()->SettingsHandlers.push_back(h);
  g_saved = *layout;
}

void load_settings_now() {
  ImGuiIO& io = ImGui::GetIO();
  if (io.IniFilename) ImGui::LoadIniSettingsFromDisk(io.IniFilename);
  for (const auto& h : ImGui::GetCurrentContext()->SettingsHandlers)
    if (std::strcmp(h.TypeName, "VhostScope") == 0)
      g_saved = *static_cast<const Layout*>(h.UserData);
}

void note_layout_change(const Layout& layout) {
  if (!same(layout, g_saved)) ImGui::MarkIniSettingsDirty();
}

}  // namespace vhs::gui
