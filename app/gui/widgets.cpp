// Splitters, text helpers, session picker, entry links.
#include "app/gui/widgets.hpp"

#include <algorithm>
#include <string>

#include "app/common/text_format.hpp"
#include "app/gui/app_state.hpp"

namespace vhs::gui {

bool splitter(const char* id, bool vertical, float thickness, float length, float* value,
              float per_pixel, float min, float max) {
  ImVec2 size = vertical ? ImVec2(thickness, length) : ImVec2(length, thickness);
  ImGui::InvisibleButton(id, size);
  bool hovered = ImGui::IsItemHovered();
  bool active = ImGui::IsItemActive();
  if (hovered || active)
    ImGui::SetMouseCursor(vertical ? ImGuiMouseCursor_ResizeEW : ImGuiMouseCursor_ResizeNS);
  ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  ImU32 col = ImGui::GetColorU32(active    ? ImGuiCol_SeparatorActive
                                 : hovered ? ImGuiCol_SeparatorHovered
                                           : ImGuiCol_Separator);
  if (vertical) {
    float x = (a.x + b.x) * 0.5f;
    ImGui::GetWindowDrawList()->AddLine(ImVec2(x, a.y), ImVec2(x, b.y), col,
                                        active || hovered ? 2.0f : 1.0f);
  } else {
    float y = (a.y + b.y) * 0.5f;
    ImGui::GetWindowDrawList()->AddLine(ImVec2(a.x, y), ImVec2(b.x, y), col,
                                        active || hovered ? 2.0f : 1.0f);
  }
  if (!active) return false;
  float delta = vertical ? ImGui::GetIO().MouseDelta.x : ImGui::GetIO().MouseDelta.y;
  if (delta == 0) return false;
  *value = std::clamp(*value + delta * per_pixel, min, max);
  return true;
}

namespace {

// ImGui draws UTF-8: control characters and invalid bytes from a capture would show as garbage or
// break a line. Views escape outside text themselves (on one line); this is the last guard, and
// keeps the line breaks multi-line texts are made of. Plain ASCII, the common case, is drawn as it
// is without a copy.
void draw_text(std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(),
                                 [](char c) { return c == '\n' || (c >= 0x20 && c < 0x7f); });
  if (plain) {
    ImGui::TextUnformatted(text.data(), text.data() + text.size());
    return;
  }
  const std::string safe = escape_text(text, Newlines::Keep);
  ImGui::TextUnformatted(safe.data(), safe.data() + safe.size());
}

}  // namespace

void text_colored(ImU32 color, std::string_view text) {
  ImGui::PushStyleColor(ImGuiCol_Text, color);
  draw_text(text);
  ImGui::PopStyleColor();
}

void text_unformatted(std::string_view text) { draw_text(text); }

void text_or_tip(std::string_view text) { text_or_tip(ImGui::GetColorU32(ImGuiCol_Text), text); }

void text_or_tip(ImU32 color, std::string_view text) {
  const float room = ImGui::GetContentRegionAvail().x;
  text_colored(color, text);
  if (ImGui::GetItemRectSize().x > room && ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 40);
    text_unformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

void help_marker(const char* text) {
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 40.0f);
    ImGui::TextUnformatted(text);
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

bool session_picker(AppState& s) {
  const auto& sessions = s.store().sessions();
  if (sessions.size() < 2) return false;
  auto label = [&](size_t i) {
    const StoreSession& ss = sessions[i];
    return "session " + std::to_string(ss.id) + " (" +
           std::string(device_kind_name(ss.state().device)) + ", " + std::to_string(ss.entries) +
           " records" + (ss.ended() ? ", ended)" : ")");
  };
  bool changed = false;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 20);
  if (ImGui::BeginCombo("##session",
                        label(std::min(s.session_index, sessions.size() - 1)).c_str())) {
    for (size_t i = 0; i < sessions.size(); ++i) {
      if (ImGui::Selectable(label(i).c_str(), i == s.session_index)) {
        s.session_index = i;
        s.session_pinned = true;
        changed = true;
      }
    }
    ImGui::EndCombo();
  }
  return changed;
}

bool entry_link(AppState& s, uint32_t entry, const char* prefix) {
  std::string text = std::string(prefix) + record_number(entry);
  ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(110, 170, 255, 255));
  ImGui::TextUnformatted(text.c_str());
  ImGui::PopStyleColor();
  bool clicked = false;
  if (ImGui::IsItemHovered()) {
    ImGui::SetMouseCursor(ImGuiMouseCursor_Hand);
    ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    ImGui::GetWindowDrawList()->AddLine(ImVec2(a.x, b.y), b, IM_COL32(110, 170, 255, 255));
    if (ImGui::IsMouseClicked(ImGuiMouseButton_Left)) clicked = true;
  }
  if (clicked) s.select(entry);
  return clicked;
}

}  // namespace vhs::gui
