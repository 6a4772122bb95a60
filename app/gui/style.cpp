// Fonts, theme and the category / severity colour tables.
#include "app/gui/style.hpp"

#include <sys/stat.h>

namespace vhs::gui {
namespace {

Fonts g_fonts;

bool file_exists(const char* path) {
  struct stat st;
  return ::stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

// Latin-1 plus the few symbols the views print: Greek (Δt, µ), arrows (direction_arrow's "F→B"),
// dashes, box drawing (│), check marks, ≈ for compressed holes, shapes and ⚠ for badges.
const ImWchar* glyph_ranges() {
  static const ImWchar ranges[] = {
      0x0020, 0x00FF, 0x0391, 0x03C9, 0x2010, 0x2027, 0x2190, 0x21FF, 0x2248, 0x2248, 0x2260,
      0x2265, 0x2500, 0x257F, 0x25A0, 0x25FF, 0x26A0, 0x26A0, 0x2713, 0x2717, 0,
  };
  return ranges;
}

const char* first_existing(std::initializer_list<const char*> paths) {
  for (const char* p : paths)
    if (file_exists(p)) return p;
  return nullptr;
}

}  // namespace

const Fonts& fonts() { return g_fonts; }

Fonts setup_fonts_and_style(float scale) {
  if (scale < 0.5f || scale > 4.0f) scale = 1.0f;
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  const float size = 15.0f * scale;
  const char* sans = first_existing(
      {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf",
       "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"});
  const char* mono =
      first_existing({"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
                      "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
                      "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"});
  ImFontConfig cfg;
  cfg.OversampleH = 2;
  Fonts f;
  f.scale = scale;
  if (sans) f.ui = io.Fonts->AddFontFromFileTTF(sans, size, &cfg, glyph_ranges());
  if (mono) f.mono = io.Fonts->AddFontFromFileTTF(mono, size - 1.0f * scale, &cfg, glyph_ranges());
  if (!f.ui || !f.mono) {
    // No TTF on this system: ImGui's built-in font, sized for the content scale.
    ImFontConfig def;
    def.SizePixels = 13.0f * scale;
    ImFont* d = io.Fonts->AddFontDefault(&def);
    if (!f.ui) f.ui = d;
    if (!f.mono) f.mono = d;
  }
  io.FontDefault = f.ui;

  ImGui::StyleColorsDark();
  ImGuiStyle& st = ImGui::GetStyle();
  st.WindowRounding = 0;
  st.ChildRounding = 2;
  st.FrameRounding = 3;
  st.TabRounding = 3;
  st.ScrollbarRounding = 3;
  st.GrabRounding = 3;
  st.WindowBorderSize = 0;
  st.FramePadding = ImVec2(6, 3);
  st.CellPadding = ImVec2(5, 1);
  st.ItemSpacing = ImVec2(7, 4);
  ImVec4* c = st.Colors;
  c[ImGuiCol_WindowBg] = ImVec4(0.105f, 0.11f, 0.125f, 1.0f);
  c[ImGuiCol_ChildBg] = ImVec4(0.09f, 0.095f, 0.11f, 1.0f);
  c[ImGuiCol_TableRowBgAlt] = ImVec4(1, 1, 1, 0.025f);
  c[ImGuiCol_Header] = ImVec4(0.26f, 0.42f, 0.68f, 0.55f);
  c[ImGuiCol_HeaderHovered] = ImVec4(0.26f, 0.42f, 0.68f, 0.40f);
  c[ImGuiCol_HeaderActive] = ImVec4(0.26f, 0.42f, 0.68f, 0.70f);
  st.ScaleAllSizes(scale);
  g_fonts = f;
  return f;
}

ImVec4 category_color_vec(Category c) {
  switch (c) {
    case Category::Negotiation: return ImVec4(0.55f, 0.75f, 1.00f, 1);
    case Category::Memory: return ImVec4(0.50f, 0.88f, 0.55f, 1);
    case Category::Vring: return ImVec4(1.00f, 0.78f, 0.40f, 1);
    case Category::Config: return ImVec4(0.80f, 0.62f, 1.00f, 1);
    case Category::BackendChannel: return ImVec4(0.40f, 0.90f, 0.90f, 1);
    case Category::Migration: return ImVec4(1.00f, 0.60f, 0.80f, 1);
    case Category::Device: return ImVec4(0.80f, 0.80f, 0.70f, 1);
  }
  return ImVec4(0.85f, 0.85f, 0.85f, 1);
}

ImU32 category_color(Category c) { return ImGui::ColorConvertFloat4ToU32(category_color_vec(c)); }

ImU32 severity_color(Severity s) {
  switch (s) {
    case Severity::Error: return IM_COL32(255, 90, 90, 255);
    case Severity::Warning: return IM_COL32(255, 190, 60, 255);
    case Severity::Info: return IM_COL32(120, 180, 255, 255);
  }
  return IM_COL32(200, 200, 200, 255);
}

ImU32 severity_row_bg(Severity s) {
  switch (s) {
    case Severity::Error: return IM_COL32(200, 40, 40, 60);
    case Severity::Warning: return IM_COL32(200, 150, 30, 45);
    case Severity::Info: return IM_COL32(60, 120, 200, 30);
  }
  return 0;
}

ImU32 peer_row_bg() { return IM_COL32(80, 140, 255, 55); }

}  // namespace vhs::gui
