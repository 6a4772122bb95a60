// Plots under the timeline, drawn with ImGui's draw list on the timeline's axis and zoom (the
// same compressed idle stretches, the same pixel columns): per queue, completions per second and
// the in-flight depth from the ring states, kicks and calls per second from interposed notify
// records; and the reply latency of each request kind. Each pixel column asks the view-model
// (app/common/view_plots) for its interval, so zooming costs nothing but the visible columns.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "app/common/text_format.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

constexpr ImU32 kCompletionsColor = IM_COL32(110, 200, 120, 255);
constexpr ImU32 kInFlightColor = IM_COL32(230, 190, 80, 255);
constexpr ImU32 kKicksColor = IM_COL32(120, 190, 250, 255);
constexpr ImU32 kCallsColor = IM_COL32(240, 150, 90, 255);

// A stable, distinct colour per request kind (hue from the name).
ImU32 kind_color(const std::string& name) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  float r, g, b;
  ImGui::ColorConvertHSVtoRGB(static_cast<float>(h % 360) / 360.0f, 0.55f, 0.95f, r, g, b);
  return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, b, 1.0f));
}

std::string rate_text(double v) {
  char buf[32];
  if (v >= 10000)
    std::snprintf(buf, sizeof buf, "%.0fk/s", v / 1000);
  else if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.0f/s", v);
  else
    std::snprintf(buf, sizeof buf, "%.1f/s", v);
  return buf;
}

// One plot row: a value per pixel column (NaN: nothing there), drawn as a line with a faint
// area under it, scaled to the row's largest value.
struct Series {
  std::vector<double> values;
  ImU32 color = kDimText;
  std::string name;
  bool step = false;  // a level (in flight): drawn as steps, not a slope
};

struct RowGeometry {
  float x0, width, y, height;
};

double series_max(const Series& s) {
  double m = 0;
  for (double v : s.values)
    if (!std::isnan(v)) m = std::max(m, v);
  return m;
}

void draw_series(ImDrawList* dl, const RowGeometry& g, const Series& s, double vmax, float bw,
                 size_t& columns) {
  if (vmax <= 0) vmax = 1;
  const float bottom = g.y + g.height - 2;
  ImVec2 prev(-1, -1);
  for (size_t k = 0; k < s.values.size(); ++k) {
    const double v = s.values[k];
    if (std::isnan(v)) {
      prev = ImVec2(-1, -1);
      continue;
    }
    if (v > 0) ++columns;
    const float x = g.x0 + bw * static_cast<float>(k);
    const float y = bottom - static_cast<float>(v / vmax) * (g.height - 6);
    const ImU32 fill = (s.color & 0x00ffffff) | (0x38u << 24);
    dl->AddRectFilled(ImVec2(x, y), ImVec2(x + bw, bottom), fill);
    if (prev.x >= 0) {
      if (s.step) {
        dl->AddLine(prev, ImVec2(x, prev.y), s.color, 1.5f);
        dl->AddLine(ImVec2(x, prev.y), ImVec2(x, y), s.color, 1.5f);
      } else {
        dl->AddLine(prev, ImVec2(x + bw * 0.5f, y), s.color, 1.5f);
      }
    }
    if (s.step) dl->AddLine(ImVec2(x, y), ImVec2(x + bw, y), s.color, 1.5f);
    prev = s.step ? ImVec2(x + bw, y) : ImVec2(x + bw * 0.5f, y);
  }
}

}  // namespace

void draw_plots(AppState& s, float label_w, float width, float height) {
  const Store& st = s.store();
  const view::PlotsModel& model = s.plots;
  const view::TimeAxis& axis = s.timeline_axis;
  const view::TimeRange range = s.timeline_range;
  const float fs = ImGui::GetFontSize();
  const float plot_w = std::max(width - label_w, fs * 4);
  const size_t nb = static_cast<size_t>(std::max(1.0f, plot_w / 2));
  const float bw = plot_w / static_cast<float>(nb);
  std::vector<uint64_t> edges(nb + 1);
  for (size_t k = 0; k <= nb; ++k)
    edges[k] = axis.to_time(range.t0 + static_cast<uint64_t>(static_cast<double>(range.width()) *
                                                             static_cast<double>(k) /
                                                             static_cast<double>(nb)));

  // The rows: per queue, completions and in flight, and kicks / calls when recorded; then the
  // reply latency of every request kind in one row.
  struct Row {
    std::string label;
    std::vector<Series> series;
    bool latency = false;
  };
  std::vector<Row> rows;
  const bool several_sessions = st.sessions().size() > 1;
  for (const auto& [key, q] : model.queues()) {
    std::string name = "q" + std::to_string(key.queue);
    if (several_sessions && key.session_index < st.sessions().size())
      name = "s" + std::to_string(st.sessions()[key.session_index].id) + " " + name;
    if (!q.in_flight.times.empty()) {
      Series done{{}, kCompletionsColor, "completions", false};
      Series depth{{}, kInFlightColor, "in flight", true};
      for (size_t k = 0; k < nb; ++k) {
        done.values.push_back(view::rate_per_second(q.completions, edges[k], edges[k + 1]));
        const auto d = q.in_flight.max_between(edges[k], edges[k + 1]);
        depth.values.push_back(d ? static_cast<double>(*d) : std::nan(""));
      }
      rows.push_back({name + " done/s", {std::move(done)}, false});
      rows.push_back({name + " in flight", {std::move(depth)}, false});
    }
    if (q.kicks.total() || q.calls.total()) {
      Series kicks{{}, kKicksColor, "kicks", false}, calls{{}, kCallsColor, "calls", false};
      for (size_t k = 0; k < nb; ++k) {
        kicks.values.push_back(view::rate_per_second(q.kicks, edges[k], edges[k + 1]));
        calls.values.push_back(view::rate_per_second(q.calls, edges[k], edges[k + 1]));
      }
      rows.push_back({name + " notify/s", {std::move(kicks), std::move(calls)}, false});
    }
  }
  if (!model.latencies().empty()) {
    Row lat{"reply latency", {}, true};
    for (const auto& [kind, series] : model.latencies()) {
      Series one{{}, kind_color(kind), kind, false};
      bool any = false;
      for (size_t k = 0; k < nb; ++k) {
        const auto v = series.max_between(edges[k], edges[k + 1]);
        one.values.push_back(v ? static_cast<double>(*v) : std::nan(""));
        any = any || v.has_value();
      }
      if (any) lat.series.push_back(std::move(one));
    }
    rows.push_back(std::move(lat));
  }
  s.stats.plot_rows = rows.size();
  if (rows.empty()) {
    text_colored(kDimText,
                 "Plots: no ring states, notifications or answered requests in this capture.");
    return;
  }

  // Drawn straight into the timeline's window (no child): its mouse handling (wheel zoom, drag
  // pan, zoom to a dragged stretch) covers the plots too. Rows that do not fit are counted.
  const float row_h = std::max(fs * 2.4f, (height - 2) / static_cast<float>(rows.size()));
  const size_t shown =
      std::min(rows.size(), static_cast<size_t>(std::max(1.0f, (height - 2) / row_h)));
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float px0 = origin.x + label_w;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 mouse = ImGui::GetMousePos();
  const bool over = ImGui::IsWindowHovered() && mouse.x >= px0 && mouse.x < px0 + plot_w &&
                    mouse.y >= origin.y && mouse.y < origin.y + height;
  const size_t hover_col =
      over ? std::min(nb - 1, static_cast<size_t>((mouse.x - px0) / bw)) : SIZE_MAX;
  std::string tip;
  s.stats.plot_rows = shown;
  for (size_t r = 0; r < shown; ++r) {
    const Row& row = rows[r];
    const RowGeometry g{px0, plot_w, origin.y + row_h * static_cast<float>(r), row_h};
    if (r % 2)
      dl->AddRectFilled(ImVec2(origin.x, g.y), ImVec2(px0 + plot_w, g.y + g.height),
                        IM_COL32(255, 255, 255, 8));
    dl->AddLine(ImVec2(px0, g.y + g.height - 1), ImVec2(px0 + plot_w, g.y + g.height - 1),
                IM_COL32(255, 255, 255, 30));
    dl->AddText(ImVec2(origin.x + 2, g.y + 2), row.series.empty() ? kDimText : row.series[0].color,
                row.label.c_str());
    double vmax = 0;
    for (const Series& one : row.series) vmax = std::max(vmax, series_max(one));
    // The scale: the row's largest value in view.
    const std::string top = row.latency          ? format_duration(static_cast<uint64_t>(vmax))
                            : row.series[0].step ? std::to_string(static_cast<uint64_t>(vmax))
                                                 : rate_text(vmax);
    dl->AddText(ImVec2(origin.x + 2, g.y + 2 + fs), kDimText, ("max " + top).c_str());
    dl->PushClipRect(ImVec2(px0, g.y), ImVec2(px0 + plot_w, g.y + g.height), true);
    if (row.latency) {
      // Latencies span microseconds to seconds: a log scale, one dot per column and kind.
      const double lmax = std::log10(std::max(vmax, 1000.0));
      const double lmin = std::max(2.0, lmax - 7);
      for (const Series& one : row.series)
        for (size_t k = 0; k < nb; ++k) {
          const double v = one.values[k];
          if (std::isnan(v)) continue;
          ++s.stats.plot_columns;
          const double f = (std::log10(std::max(v, 100.0)) - lmin) / std::max(lmax - lmin, 1.0);
          const float y = g.y + g.height - 4 - static_cast<float>(f) * (g.height - 8);
          dl->AddCircleFilled(ImVec2(px0 + bw * (static_cast<float>(k) + 0.5f), y),
                              std::max(2.0f, fs * 0.18f), one.color);
        }
    } else {
      for (const Series& one : row.series) draw_series(dl, g, one, vmax, bw, s.stats.plot_columns);
    }
    dl->PopClipRect();
    if (hover_col != SIZE_MAX && mouse.y >= g.y && mouse.y < g.y + g.height) {
      tip = row.label + "  " + relative_time(edges[hover_col], st.first_timestamp()) + " s";
      for (const Series& one : row.series) {
        const double v = one.values[hover_col];
        if (std::isnan(v)) continue;
        tip += "\n" + one.name + ": " +
               (row.latency ? format_duration(static_cast<uint64_t>(v))
                : one.step  ? std::to_string(static_cast<uint64_t>(v))
                            : rate_text(v));
      }
      if (row.latency && tip.find('\n') == std::string::npos) tip += "\nno answer here";
    }
  }
  if (hover_col != SIZE_MAX) {
    const float x = px0 + bw * (static_cast<float>(hover_col) + 0.5f);
    dl->AddLine(ImVec2(x, origin.y), ImVec2(x, origin.y + row_h * static_cast<float>(shown)),
                IM_COL32(255, 255, 255, 60));
    if (!tip.empty()) ImGui::SetTooltip("%s", tip.c_str());
  }
  if (shown < rows.size())
    dl->AddText(
        ImVec2(origin.x + 2, origin.y + row_h * static_cast<float>(shown) - fs), kDimText,
        ("+" + std::to_string(rows.size() - shown) + " more: drag the splitter up").c_str());
}

}  // namespace vhs::gui
