// Memory map of the current session: the regions to scale along the guest-physical and the
// front-end virtual axes (large holes compressed, marked ≈), each region joined to itself across
// the two, the vring addresses marked where they land, then the region and ring-address tables
// and a guest-memory hex view where recorded memory exists.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <cinttypes>
#include <cstdio>
#include <string>

#include "app/common/text_format.hpp"
#include "app/common/view_memory.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

ImU32 part_color(std::string_view part) {
  if (part == "desc") return IM_COL32(255, 200, 90, 255);
  if (part == "avail") return IM_COL32(120, 220, 255, 255);
  if (part == "used") return IM_COL32(255, 130, 200, 255);
  return IM_COL32(200, 200, 200, 255);
}

struct Axis {
  const char* label;
  view::AxisLayout layout;
  float y = 0;
};

void draw_map(const SessionState& st, const std::vector<view::RingMark>& marks) {
  const size_t n = st.regions.size();
  std::vector<view::AddressRange> gpa, uva;
  for (const auto& r : st.regions) {
    gpa.push_back({r.region.guest_phys_addr, r.region.memory_size});
    uva.push_back({r.region.userspace_addr, r.region.memory_size});
  }
  Axis axes[2] = {{"guest physical", view::AxisLayout::build(gpa)},
                  {"front-end virtual", view::AxisLayout::build(uva)}};

  const float fs = ImGui::GetFontSize();
  const float label_w = fs * 8;
  const float w = std::max(ImGui::GetContentRegionAvail().x - label_w - fs, fs * 10);
  const float bar_h = fs * 1.6f;
  const float gap = fs * 4.2f;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float x0 = origin.x + label_w;
  axes[0].y = origin.y + fs * 1.2f;
  axes[1].y = axes[0].y + bar_h + gap;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 region_col = IM_COL32(70, 150, 90, 200);
  const ImU32 region_edge = IM_COL32(130, 220, 150, 255);
  auto X = [&](double f) { return x0 + static_cast<float>(f) * w; };

  // Regions joined across the axes.
  for (size_t i = 0; i < n; ++i) {
    auto a = axes[0].layout.span_of(gpa[i]);
    auto b = axes[1].layout.span_of(uva[i]);
    if (!a || !b) continue;
    ImVec2 quad[4] = {ImVec2(X(a->first), axes[0].y + bar_h),
                      ImVec2(X(a->second), axes[0].y + bar_h), ImVec2(X(b->second), axes[1].y),
                      ImVec2(X(b->first), axes[1].y)};
    dl->AddConvexPolyFilled(quad, 4, IM_COL32(70, 150, 90, 45));
  }
  for (auto& axis : axes) {
    dl->AddText(ImVec2(origin.x, axis.y + bar_h * 0.2f), kDimText, axis.label);
    dl->AddRectFilled(ImVec2(x0, axis.y + bar_h * 0.45f), ImVec2(x0 + w, axis.y + bar_h * 0.55f),
                      IM_COL32(60, 60, 70, 255));
    for (double b : axis.layout.breaks())
      dl->AddText(ImVec2(X(b) - fs * 0.3f, axis.y + bar_h * 0.15f), kDimText, "≈");
  }
  float label_end[2] = {-1e9f, -1e9f};  // right edge of the last address label per axis
  for (size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 2; ++k) {
      const auto& r = k == 0 ? gpa[i] : uva[i];
      auto sp = axes[k].layout.span_of(r);
      if (!sp) continue;
      ImVec2 a(X(sp->first), axes[k].y),
          b(std::max(X(sp->second), X(sp->first) + 2), axes[k].y + bar_h);
      dl->AddRectFilled(a, b, region_col, 2);
      dl->AddRect(a, b, region_edge, 2);
      std::string lbl = "r" + std::to_string(i) + " " + compact_size(r.size);
      if (ImGui::CalcTextSize(lbl.c_str()).x < b.x - a.x - 4)
        dl->AddText(ImVec2(a.x + 3, a.y + bar_h * 0.15f), IM_COL32(235, 255, 235, 255),
                    lbl.c_str());
      // Start address under the GPA bar / above the UVA bar, unless it would overlap the last one
      // (the tables below list every address anyway).
      std::string addr = hex(r.start);
      float ty = k == 0 ? axes[k].y - fs * 1.15f : axes[k].y + bar_h + fs * 0.1f;
      if (a.x > label_end[k]) {
        dl->AddText(ImVec2(a.x, ty), kDimText, addr.c_str());
        label_end[k] = a.x + ImGui::CalcTextSize(addr.c_str()).x + fs * 0.5f;
      }
    }
  }
  // Ring marks: a tick per part on the axis it belongs to.
  const ImVec2 mouse = ImGui::GetMousePos();
  std::string tip;
  for (const auto& m : marks) {
    for (int k = 0; k < 2; ++k) {
      std::optional<uint64_t> addr = k == 0 ? m.gpa : m.uva;
      if (!addr) continue;
      auto x = axes[k].layout.x_of(*addr);
      if (!x) continue;
      float px = X(*x);
      float top = k == 0 ? axes[k].y + bar_h : axes[k].y;
      float tip_y = k == 0 ? top + fs * 0.6f : top - fs * 0.6f;
      dl->AddTriangleFilled(ImVec2(px, top), ImVec2(px - fs * 0.3f, tip_y),
                            ImVec2(px + fs * 0.3f, tip_y), part_color(m.part));
      if (std::abs(mouse.x - px) < fs * 0.4f &&
          std::abs(mouse.y - (top + tip_y) * 0.5f) < fs * 0.6f)
        tip +=
            "q" + std::to_string(m.queue) + " " + std::string(m.part) + " at " + hex(*addr) + "\n";
    }
  }
  ImGui::Dummy(ImVec2(label_w + w, axes[1].y + bar_h + fs * 1.4f - origin.y));
  if (!tip.empty()) ImGui::SetTooltip("%s", tip.c_str());
  // Legend.
  for (std::string_view part : {"desc", "avail", "used", "log"}) {
    text_colored(part_color(part), "▲ " + std::string(part));
    ImGui::SameLine();
  }
  ImGui::NewLine();
}

void region_table(AppState& s, const SessionState& st) {
  // The fd description is long (memfd name, inode): scroll sideways rather than hide "added by".
  const float h =
      ImGui::GetTextLineHeightWithSpacing() * static_cast<float>(st.regions.size() + 1) +
      ImGui::GetStyle().ScrollbarSize + 8;
  if (!ImGui::BeginTable("regions", 7,
                         ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                             ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX,
                         ImVec2(0, h)))
    return;
  ImGui::TableSetupScrollFreeze(1, 0);
  for (const char* heading :
       {"#", "guest physical", "size", "front-end virtual", "mmap offset", "fd", "added by"})
    ImGui::TableSetupColumn(heading);
  ImGui::TableHeadersRow();
  ImGui::PushFont(fonts().mono);
  for (size_t i = 0; i < st.regions.size(); ++i) {
    const auto& r = st.regions[i];
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    text_unformatted("r" + std::to_string(i));
    ImGui::TableNextColumn();
    text_unformatted(hex(r.region.guest_phys_addr) + "-" +
                     hex(r.region.guest_phys_addr + r.region.memory_size));
    ImGui::TableNextColumn();
    text_unformatted(compact_size(r.region.memory_size));
    ImGui::TableNextColumn();
    text_unformatted(hex(r.region.userspace_addr));
    ImGui::TableNextColumn();
    text_unformatted(hex(r.region.mmap_offset));
    ImGui::TableNextColumn();
    text_unformatted(r.has_fd ? format_fd_long(r.fd) : "none");
    ImGui::TableNextColumn();
    if (r.added_by != kNoMessage && r.added_by < s.store().size())
      entry_link(s, static_cast<uint32_t>(r.added_by));
  }
  ImGui::PopFont();
  ImGui::EndTable();
}

void marks_table(const std::vector<view::RingMark>& marks) {
  if (marks.empty()) return;
  if (!ImGui::BeginTable(
          "ring addresses", 5,
          ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit))
    return;
  for (const char* h : {"queue", "part", "address (as sent)", "region", "guest physical"})
    ImGui::TableSetupColumn(h);
  ImGui::TableHeadersRow();
  ImGui::PushFont(fonts().mono);
  for (const auto& m : marks) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    text_unformatted(std::to_string(m.queue));
    ImGui::TableNextColumn();
    text_colored(part_color(m.part), m.part);
    ImGui::TableNextColumn();
    text_unformatted(hex(m.address) + (m.iova ? " (IOVA)" : m.part == "log" ? " (GPA)" : " (UVA)"));
    ImGui::TableNextColumn();
    if (m.region)
      text_unformatted("r" + std::to_string(*m.region));
    else
      text_colored(m.iova ? kDimText : severity_color(Severity::Warning),
                   m.iova ? "via IOTLB" : "unmapped");
    ImGui::TableNextColumn();
    if (m.gpa) text_unformatted(hex(*m.gpa));
  }
  ImGui::PopFont();
  ImGui::EndTable();
}

}  // namespace

void draw_memory(AppState& s) {
  s.stats.memory_regions = s.stats.memory_marks = 0;
  const auto& sessions = s.store().sessions();
  if (sessions.empty()) {
    text_colored(kDimText, "No session yet.");
    return;
  }
  session_picker(s);
  const SessionState& st = sessions[std::min(s.session_index, sessions.size() - 1)].state();
  const std::vector<view::RingMark> marks = view::ring_marks(st);
  s.stats.memory_regions = st.regions.size();
  s.stats.memory_marks = marks.size();

  ImGui::BeginChild("memory scroll");
  if (st.regions.empty()) {
    text_colored(kDimText, "No memory table in this session yet (SET_MEM_TABLE / ADD_MEM_REG).");
  } else {
    uint64_t total = 0;
    for (const auto& r : st.regions) total += r.region.memory_size;
    ImGui::Text("%zu region%s, %s of guest memory", st.regions.size(),
                st.regions.size() == 1 ? "" : "s", compact_size(total).c_str());
    draw_map(st, marks);
    region_table(s, st);
  }
  ImGui::Spacing();
  marks_table(marks);
  ImGui::Spacing();
  ImGui::Separator();
  ImGui::TextUnformatted("guest memory");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 14);
  ImGui::InputTextWithHint("##gpa", "guest-physical address", &s.memory_address);
  ImGui::SameLine();
  // Recorded guest memory arrives with live ring inspection (issue 4); captures hold none yet.
  text_colored(kDimText, "not available in this capture");
  ImGui::EndChild();
}

}  // namespace vhs::gui
