// Remembering the layout between runs: the splitter positions, the open tab and the window size
// live in ImGui's ini file as a "[VhostScope][Layout]" section, next to ImGui's own windows.
#pragma once

#include "app/gui/app_state.hpp"

namespace vhs::gui {

// Registers the section handler with the current ImGui context; `layout` must outlive it.
void register_layout_settings(Layout* layout);
// Reads the ini file at once (before the first frame) so the window can be sized from it.
void load_settings_now();
// Marks the ini dirty when `layout` differs from what was last saved (ImGui then writes it
// within its save interval and at exit).
void note_layout_change(const Layout& layout);

}  // namespace vhs::gui
