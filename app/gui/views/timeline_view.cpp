// Timeline: one lane per channel / queue / event kind, messages bucketed per two pixels (the
// bucketing is binary searches over sorted lanes, so a million messages draw as fast as a
// hundred). Wheel zooms around the mouse, drag pans, double-click fits everything, a click selects
// the nearest message of the lane. Error and warning findings mark their buckets; requests left
// waiting are drawn as red spans to their late reply, the session's end or now.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

ImU32 lane_color(view::LaneKind k) {
  switch (k) {
    case view::LaneKind::Events: return kEventText;
    case view::LaneKind::Control: return category_color(Category::Negotiation);
    case view::LaneKind::Queue: return category_color(Category::Vring);
    case view::LaneKind::BackendChannel: return category_color(Category::BackendChannel);
    case view::LaneKind::RingRecords: return category_color(Category::Memory);
  }
  return kDimText;
}

// A "nice" tick step (1, 2, 5 x 10^k ns) giving roughly `target` ticks over `width` ns.
uint64_t tick_step(uint64_t width, int target) {
  double raw = static_cast<double>(width) / std::max(target, 1);
  double p = std::pow(10.0, std::floor(std::log10(std::max(raw, 1.0))));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return static_cast<uint64_t>(m * p);
  return static_cast<uint64_t>(10 * p);
}

std::string tick_label(uint64_t rel_ns, uint64_t step) {
  char buf[32];
  int decimals = step >= 1'000'000'000 ? 0
                 : step >= 100'000'000 ? 1
                 : step >= 10'000'000  ? 2
                 : step >= 1'000'000   ? 3
                 : step >= 100'000     ? 4
                 : step >= 10'000      ? 5
                                       : 6;
  std::snprintf(buf, sizeof buf, "%.*f s", decimals, static_cast<double>(rel_ns) / 1e9);
  return buf;
}

uint64_t wall_now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

void draw_timeline(AppState& s) {
  const Store& st = s.store();
  const view::TimelineIndex& tl = s.timeline;
  const auto& lanes = tl.lanes();
  s.stats.timeline_lanes = lanes.size();
  s.stats.timeline_buckets = 0;
  s.stats.timeline_hangs = 0;
  if (lanes.empty()) {
    text_colored(kDimText, "Timeline: no records yet.");
    return;
  }
  const bool live = s.ctl.mode() == Mode::Live;
  const uint64_t now = live ? wall_now_ns() : tl.max_time();
  const view::TimeRange bounds =
      view::fit_range(tl.min_time(), std::max(tl.max_time(), live ? now : tl.max_time()));
  if (s.timeline_follow || s.timeline_range.width() == 0) s.timeline_range = bounds;
  view::TimeRange& range = s.timeline_range;

  const float fs = ImGui::GetFontSize();
  const float label_w = fs * 7;
  const float axis_h = fs * 1.3f;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float plot_w = std::max(avail.x - label_w - fs * 0.5f, fs * 4);
  const float lane_h =
      std::clamp((avail.y - axis_h - 4) / static_cast<float>(lanes.size()), fs * 0.9f, fs * 1.6f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float px0 = origin.x + label_w;
  const float lanes_top = origin.y + axis_h;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const double ns_per_px = static_cast<double>(range.width()) / plot_w;
  auto x_of = [&](uint64_t t) {
    return px0 +
           static_cast<float>((static_cast<double>(t) - static_cast<double>(range.t0)) / ns_per_px);
  };
  const uint64_t base = st.first_timestamp();

  // Axis.
  const uint64_t step = tick_step(range.width(), std::max(2, static_cast<int>(plot_w / (fs * 7))));
  const uint64_t rel0 = range.t0 > base ? range.t0 - base : 0;
  for (uint64_t rel = (rel0 / step) * step; base + rel <= range.t1; rel += step) {
    if (base + rel < range.t0) continue;
    float x = x_of(base + rel);
    dl->AddLine(ImVec2(x, origin.y + axis_h - fs * 0.3f),
                ImVec2(x, lanes_top + lane_h * static_cast<float>(lanes.size())),
                IM_COL32(255, 255, 255, 18));
    dl->AddText(ImVec2(x + 2, origin.y), kDimText, tick_label(rel, step).c_str());
  }

  // Lanes.
  std::vector<view::TimelineBucket> buckets;
  const size_t nb = static_cast<size_t>(std::max(1.0f, plot_w / 2));
  const float bw = plot_w / static_cast<float>(nb);
  for (size_t li = 0; li < lanes.size(); ++li) {
    const view::TimelineLane& lane = lanes[li];
    const float y = lanes_top + lane_h * static_cast<float>(li);
    if (li % 2)
      dl->AddRectFilled(ImVec2(origin.x, y), ImVec2(px0 + plot_w, y + lane_h),
                        IM_COL32(255, 255, 255, 8));
    dl->AddText(ImVec2(origin.x + 2, y + (lane_h - fs) * 0.5f), lane_color(lane.key.kind),
                lane.label.c_str());
    tl.bucket(li, range.t0, range.t1, nb, buckets);
    uint32_t max_count = 1;
    for (const auto& b : buckets) max_count = std::max(max_count, b.count);
    const float logmax = std::log1p(static_cast<float>(max_count));
    const ImU32 col = lane_color(lane.key.kind);
    for (size_t k = 0; k < nb; ++k) {
      const auto& b = buckets[k];
      if (!b.count) continue;
      ++s.stats.timeline_buckets;
      const float x = px0 + bw * static_cast<float>(k);
      const float frac = 0.3f + 0.7f * std::log1p(static_cast<float>(b.count)) / logmax;
      const float h = (lane_h - 3) * frac;
      const float yb = y + lane_h - 1.5f;
      dl->AddRectFilled(ImVec2(x, yb - h), ImVec2(x + std::max(bw - 0.5f, 1.0f), yb), col);
      if (b.errors || b.warnings) {
        ImU32 mark = severity_color(b.errors ? Severity::Error : Severity::Warning);
        dl->AddRectFilled(ImVec2(x - 0.5f, y + 1),
                          ImVec2(x + std::max(bw, 2.0f) + 0.5f, y + lane_h * 0.35f), mark);
      }
    }
  }

  // Hangs: requests left waiting.
  const auto hangs = view::hang_spans(st, tl, now, live);
  s.stats.timeline_hangs = hangs.size();
  const ImVec2 mouse = ImGui::GetMousePos();
  std::string hang_tip;
  for (const auto& h : hangs) {
    if (h.lane >= lanes.size() || h.end < range.t0 || h.start > range.t1) continue;
    const float y = lanes_top + lane_h * static_cast<float>(h.lane);
    const float xa = std::max(x_of(h.start), px0),
                xb = std::min(std::max(x_of(h.end), x_of(h.start) + 3), px0 + plot_w);
    dl->AddRectFilled(ImVec2(xa, y + lane_h * 0.4f), ImVec2(xb, y + lane_h * 0.75f),
                      IM_COL32(230, 50, 50, h.open ? 150 : 110));
    dl->AddRect(ImVec2(xa, y + lane_h * 0.4f), ImVec2(xb, y + lane_h * 0.75f),
                IM_COL32(255, 90, 90, 255));
    const std::string label =
        "⚠ " + h.what + " " + format_duration(h.end - h.start) + (h.open ? " (still waiting)" : "");
    if (xb - xa > ImGui::CalcTextSize(label.c_str()).x + 6)
      dl->AddText(ImVec2(xa + 3, y + lane_h * 0.4f - fs * 0.1f), IM_COL32(255, 230, 230, 255),
                  label.c_str());
    if (mouse.x >= xa && mouse.x <= xb && mouse.y >= y && mouse.y < y + lane_h)
      hang_tip = record_number(h.entry) + " " + label;
  }

  // Selection marker.
  if (s.selected != view::kNoSelection && s.selected < st.size()) {
    const uint64_t t = st.entry(s.selected).timestamp_ns;
    if (t >= range.t0 && t <= range.t1) {
      const float x = x_of(t);
      dl->AddLine(ImVec2(x, lanes_top),
                  ImVec2(x, lanes_top + lane_h * static_cast<float>(lanes.size())),
                  IM_COL32(255, 255, 255, 200), 1.5f);
    }
  }

  // Interaction over the plot.
  ImGui::SetCursorScreenPos(ImVec2(px0, lanes_top));
  ImGui::InvisibleButton("##plot",
                         ImVec2(plot_w, std::max(lane_h * static_cast<float>(lanes.size()), 1.0f)));
  const bool hovered = ImGui::IsItemHovered();
  ImGuiIO& io = ImGui::GetIO();
  if (hovered && io.MouseWheel != 0) {
    const double anchor = (mouse.x - px0) / plot_w;
    range = view::zoom_range(range, std::pow(0.8, io.MouseWheel), anchor, bounds);
    s.timeline_follow = false;
  }
  if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 2.0f) &&
      io.MouseDelta.x != 0) {
    range = view::pan_range(range, static_cast<int64_t>(-io.MouseDelta.x * ns_per_px), bounds);
    s.timeline_follow = false;
  }
  if (hovered && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
    s.timeline_follow = true;
  } else if (ImGui::IsItemDeactivated() &&
             io.MouseDragMaxDistanceSqr[0] < 4.0f) {  // a click, not the end of a drag
    const size_t lane = static_cast<size_t>((mouse.y - lanes_top) / lane_h);
    const uint64_t t = range.t0 + static_cast<uint64_t>(std::max(0.0, (mouse.x - px0) * ns_per_px));
    const uint32_t e = tl.nearest_entry(lane, t);
    if (e != UINT32_MAX) s.select(e);
  }
  if (hovered) {
    if (!hang_tip.empty()) {
      ImGui::SetTooltip("%s", hang_tip.c_str());
    } else {
      const size_t lane =
          std::min(static_cast<size_t>((mouse.y - lanes_top) / lane_h), lanes.size() - 1);
      const uint64_t t =
          range.t0 + static_cast<uint64_t>(std::max(0.0, (mouse.x - px0) * ns_per_px));
      const uint32_t e = tl.nearest_entry(lane, t);
      std::string tip = lanes[lane].label + "  " + relative_time(t, base) + " s";
      if (e != UINT32_MAX) tip += "\nnearest: " + record_number(e) + " " + entry_title(st, e);
      tip += "\nwheel: zoom  drag: pan  double-click: fit  click: select";
      ImGui::SetTooltip("%s", tip.c_str());
    }
  }
  ImGui::SetCursorScreenPos(
      ImVec2(origin.x, lanes_top + lane_h * static_cast<float>(lanes.size()) + 2));
}

}  // namespace vhs::gui
