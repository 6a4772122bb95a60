// Small ImGui helpers the views share: pane splitters (Debian's ImGui 1.86 has no docking),
// coloured text, a help marker, the session picker and a record-number link.
#pragma once

#include <imgui.h>

#include <cstdint>
#include <string_view>

namespace vhs::gui {

struct AppState;

// A draggable bar between two panes. `value` is the size being adjusted (pixels or a fraction,
// the caller decides) and changes by the mouse delta times `per_pixel`; clamped to [min, max].
// Vertical bar (between left and right panes) when `vertical`.
bool splitter(const char* id, bool vertical, float thickness, float length, float* value,
              float per_pixel, float min, float max);

void text_colored(ImU32 color, std::string_view text);
void text_unformatted(std::string_view text);
// Text in a table cell or a narrow pane: when it is wider than the room it has (and so clipped),
// hovering it shows the whole text.
void text_or_tip(std::string_view text);
void text_or_tip(ImU32 color, std::string_view text);
void help_marker(const char* text);

// Combo choosing AppState::session_index ("session 2 (blk, 1234 messages)"); hidden when the
// store has fewer than two sessions. Returns true when the user changed it.
bool session_picker(AppState& s);

// "#123" drawn as a link; clicking selects the entry. Returns true when clicked.
bool entry_link(AppState& s, uint32_t entry, const char* prefix = "");

}  // namespace vhs::gui
