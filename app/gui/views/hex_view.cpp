// Hex pane: offset, 16 (or, when narrow, 8) bytes in hex, ASCII, drawn line by line through a
// clipper. A highlighted range (the field under the mouse in the tree) is backed with a colour in
// both columns; the byte under the mouse is reported back so the caller can highlight its field.
#include <cstdio>

#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"

namespace vhs::gui {

int draw_hex(const char* id, std::span<const uint8_t> bytes, int hl_offset, int hl_length,
             uint64_t base_address) {
  int hovered = -1;
  ImGui::PushFont(fonts().mono);
  ImGui::BeginChild(id, ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  const float cw = ImGui::CalcTextSize("0").x;
  const float line_h = ImGui::GetTextLineHeightWithSpacing();
  const int addr_chars = base_address > 0xffffffffull ? 16 : base_address ? 8 : 4;
  const float hex_x = cw * static_cast<float>(addr_chars + 2);
  // 16 bytes a line when the pane is wide enough, else 8 (the detail pane is often narrow).
  const int per_line = ImGui::GetContentRegionAvail().x >= hex_x + cw * (16 * 3 + 2 + 17) ? 16 : 8;
  const float ascii_x = hex_x + cw * static_cast<float>(per_line * 3 + 2);
  const int lines = static_cast<int>((bytes.size() + static_cast<size_t>(per_line) - 1) /
                                     static_cast<size_t>(per_line));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 hl = IM_COL32(80, 140, 255, 110);
  const ImU32 hover_col = IM_COL32(255, 255, 255, 60);
  const ImVec2 mouse = ImGui::GetMousePos();
  const bool window_hovered = ImGui::IsWindowHovered();

  ImGuiListClipper clipper;
  clipper.Begin(lines, line_h);
  while (clipper.Step()) {
    for (int line = clipper.DisplayStart; line < clipper.DisplayEnd; ++line) {
      const ImVec2 p = ImGui::GetCursorScreenPos();
      char addr[24];
      std::snprintf(
          addr, sizeof addr, "%0*llx", addr_chars,
          static_cast<unsigned long long>(base_address + static_cast<uint64_t>(line) *
                                                             static_cast<uint64_t>(per_line)));
      dl->AddText(p, ImGui::GetColorU32(ImGuiCol_TextDisabled), addr);
      for (int k = 0; k < per_line; ++k) {
        const size_t off =
            static_cast<size_t>(line) * static_cast<size_t>(per_line) + static_cast<size_t>(k);
        if (off >= bytes.size()) break;
        const float hx = p.x + hex_x + cw * static_cast<float>(k * 3 + (k >= 8 ? 1 : 0));
        const float ax = p.x + ascii_x + cw * static_cast<float>(k);
        const bool in_hl = hl_length > 0 && static_cast<int>(off) >= hl_offset &&
                           static_cast<int>(off) < hl_offset + hl_length;
        const ImVec2 hmin(hx - cw * 0.5f, p.y), hmax(hx + cw * 2.5f, p.y + line_h);
        const ImVec2 amin(ax, p.y), amax(ax + cw, p.y + line_h);
        if (in_hl) {
          dl->AddRectFilled(hmin, hmax, hl);
          dl->AddRectFilled(amin, amax, hl);
        }
        if (window_hovered &&
            ((mouse.x >= hmin.x && mouse.x < hmax.x && mouse.y >= hmin.y && mouse.y < hmax.y) ||
             (mouse.x >= amin.x && mouse.x < amax.x && mouse.y >= amin.y && mouse.y < amax.y))) {
          hovered = static_cast<int>(off);
          dl->AddRectFilled(hmin, hmax, hover_col);
          dl->AddRectFilled(amin, amax, hover_col);
        }
        char hex[4];
        const uint8_t b = bytes[off];
        std::snprintf(hex, sizeof hex, "%02x", b);
        dl->AddText(ImVec2(hx, p.y), b ? ImGui::GetColorU32(ImGuiCol_Text) : kDimText, hex);
        const char c[2] = {static_cast<char>(b >= 0x20 && b < 0x7f ? b : '.'), 0};
        dl->AddText(ImVec2(ax, p.y),
                    b >= 0x20 && b < 0x7f ? ImGui::GetColorU32(ImGuiCol_Text) : kDimText, c);
      }
      ImGui::Dummy(
          ImVec2(ascii_x + cw * static_cast<float>(per_line + 1), ImGui::GetTextLineHeight()));
    }
  }
  ImGui::EndChild();
  ImGui::PopFont();
  return hovered;
}

}  // namespace vhs::gui
