// Look of the GUI in one place: the colour of each request category and finding severity, the
// theme, and the fonts (a Debian TTF when present, ImGui's default scaled otherwise).
#pragma once

#include <imgui.h>

#include "decoders/vhost_user/findings.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs::gui {

struct Fonts {
  ImFont* ui = nullptr;    // proportional, for labels
  ImFont* mono = nullptr;  // fixed width, for tables of numbers and hex
  float scale = 1.0f;      // content scale (DPI) the fonts were built for
};

// Loads fonts into the current ImGui context at `scale` (glfwGetWindowContentScale) and scales
// the style's sizes. Safe to call once before the first frame.
Fonts setup_fonts_and_style(float scale);
const Fonts& fonts();

ImU32 category_color(Category c);  // text colour of a request of this category
ImVec4 category_color_vec(Category c);
ImU32 severity_color(Severity s);   // badge / text colour
ImU32 severity_row_bg(Severity s);  // faint row tint
ImU32 peer_row_bg();                // the selected message's partner
inline constexpr ImU32 kDimText = IM_COL32(140, 140, 150, 255);
inline constexpr ImU32 kOkText = IM_COL32(120, 200, 120, 255);
inline constexpr ImU32 kEventText = IM_COL32(170, 170, 190, 255);  // connect / disconnect notes

}  // namespace vhs::gui
