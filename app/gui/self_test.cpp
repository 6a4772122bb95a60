// Screenshot and bench modes: load the capture (synchronously for a screenshot of the finished
// views; frame by frame, as a user gets it, for the bench and --first-screen), index it fully,
// then drive frames of the real UI and report.
#include "app/gui/self_test.hpp"

#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <numeric>
#include <string>
#include <vector>

#include "app/common/text_format.hpp"
#include "app/gui/image_file.hpp"

namespace vhs::gui {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// "mean=1.23,p50=1.10,p95=2.00,p99=2.50,max=3.10"
std::string summary(std::vector<double> v) {
  if (v.empty()) return "none";
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  std::sort(v.begin(), v.end());
  auto pct = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  char buf[160];
  std::snprintf(buf, sizeof buf, "mean=%.2f,p50=%.2f,p95=%.2f,p99=%.2f,max=%.2f", mean, pct(0.5),
                pct(0.95), pct(0.99), v.back());
  return buf;
}

// Frame times as the bench reports them: the UI half (our views + ImGui building draw lists) is
// what this code controls; the GL half is Mesa's software rasteriser under Xvfb, timed apart so
// it does not hide the first.
struct FrameTimes {
  std::vector<double> ui_cpu, ui_wall, gl_wall;
  std::string text() const {
    return "frames=" + std::to_string(ui_cpu.size()) + " ui_cpu_ms " + summary(ui_cpu) +
           " ui_wall_ms " + summary(ui_wall) + " gl_wall_ms " + summary(gl_wall);
  }
};

void timed_frame(Platform& p, App& app, FrameTimes& times) {
  const auto t0 = Clock::now();
  const double c0 = thread_cpu_s();
  p.begin_frame(0);
  app.frame();
  p.end_ui();
  times.ui_cpu.push_back((thread_cpu_s() - c0) * 1e3);
  times.ui_wall.push_back(seconds_since(t0) * 1e3);
  const auto t1 = Clock::now();
  p.draw();
  p.finish_gl();
  p.present();
  times.gl_wall.push_back(seconds_since(t1) * 1e3);
}

// Frames a view needs before its layout is settled: a tab switch takes effect on the next frame,
// a table measures its columns in the frame after that, and a table that scrolls sideways shows
// its scrollbar only once it knows that width (the Memory tab's regions table needs 4; one spare).
constexpr int kSettleFrames = 5;

Tab tab_for(const std::string& view) {
  for (int t = 0; t < static_cast<int>(Tab::Count); ++t)
    if (view == tab_name(static_cast<Tab>(t))) return static_cast<Tab>(t);
  return Tab::Detail;  // messages and timeline are always on screen
}

// The plots share the bottom pane with the timeline's lanes: give the pane room for both.
void show_plots(AppState& s, bool on) {
  s.bottom = on ? AppState::BottomPane::Both : AppState::BottomPane::Timeline;
  s.layout.timeline_height = on ? 420.0f : Layout{}.timeline_height;
}

void render_frames(Platform& p, App& app, int n) {
  for (int i = 0; i < n; ++i) {
    p.begin_frame(0);
    app.frame();
    p.render();
    if (i + 1 < n) p.present();
  }
}

// Frames from the open on with the per-frame work budget a user's window has: when the first rows
// are on screen, and the frame times until the capture is loaded and every index complete. With
// --first-screen (screenshot) it stops at the first frame with rows.
bool load_progressively(Platform& p, App& app, const Options& o) {
  AppState& s = app.state();
  app.set_bounded_work(true);
  const auto t0 = Clock::now();
  if (!s.ctl.open_capture(o.capture)) {
    std::fprintf(stderr, "vhostscope-gui: %s\n", s.ctl.last_error().c_str());
    return false;
  }
  if (!o.filter.empty()) app.set_filter(o.filter);
  FrameTimes times;
  double loaded_s = -1;
  bool first_screen = false;
  // Where the slowest frame was: how far loading and each index had got before it.
  std::string slowest;
  double slowest_ms = -1;
  while (!app.caught_up()) {
    char before[192];
    std::snprintf(before, sizeof before,
                  "loading=%d records=%zu rows_scanned=%zu timeline=%zu plots=%zu lifecycle=%d",
                  s.ctl.loading() ? 1 : 0, s.store().size(), s.rows.scanned(),
                  s.timeline.indexed(), s.plots.indexed(), s.lifecycle_replay ? 1 : 0);
    timed_frame(p, app, times);
    if (times.ui_cpu.back() > slowest_ms) {
      slowest_ms = times.ui_cpu.back();
      slowest = before;
    }
    if (!first_screen && s.stats.message_visible > 0) {
      first_screen = true;
      std::printf("first_screen seconds=%.3f frames=%zu records_loaded=%zu rows_visible=%zu\n",
                  seconds_since(t0), times.ui_cpu.size(), s.store().size(),
                  s.stats.message_visible);
      std::fflush(stdout);
      if (o.first_screen) break;
    }
    if (loaded_s < 0 && !s.ctl.loading()) loaded_s = seconds_since(t0);
  }
  if (o.first_screen) return true;  // the screenshot's frame is drawn with the same budget
  app.set_bounded_work(false);
  std::printf("loading records=%zu loaded_seconds=%.3f indexed_seconds=%.3f %s\n",
              s.store().size(), loaded_s, seconds_since(t0), times.text().c_str());
  std::printf("loading slowest_frame ui_cpu_ms=%.2f before it: %s\n", slowest_ms,
              slowest.c_str());
  return true;
}

bool load(Platform& p, App& app, const Options& o) {
  auto t0 = Clock::now();
  if (!o.bench.empty() || o.first_screen) {
    if (!load_progressively(p, app, o)) return false;
  } else {
    app.state().ctl.open_capture(o.capture);
    app.state().ctl.wait_for_load();
    render_frames(p, app, 1);  // pump() reports the loaded store
    p.present();
  }
  const double load_s = seconds_since(t0);
  const Store& st = app.state().store();
  if (st.empty() && !app.state().ctl.last_error().empty()) {
    std::fprintf(stderr, "vhostscope-gui: %s\n", app.state().ctl.last_error().c_str());
    return false;
  }
  auto t1 = Clock::now();
  if (!o.filter.empty() && o.bench.empty() && !o.first_screen) app.set_filter(o.filter);
  if (!o.first_screen) app.finish_indexing();
  std::printf("load records=%zu seconds=%.3f ingest_seconds=%.3f index_seconds=%.3f\n", st.size(),
              load_s, app.state().ctl.last_load_seconds(), seconds_since(t1));
  if (!app.state().filter_error.empty()) {
    std::fprintf(stderr, "vhostscope-gui: --filter: %s (column %zu)\n",
                 app.state().filter_error.c_str(), app.state().filter_error_pos + 1);
    return false;
  }
  AppState& s = app.state();
  if (o.first_screen) return true;  // as the window shows it: nothing selected yet
  if (o.select) {
    if (*o.select > st.size()) {
      std::fprintf(stderr, "vhostscope-gui: --select %u: the capture has %zu records\n", *o.select,
                   st.size());
      return false;
    }
    s.select(*o.select - 1);
  } else if (const uint32_t e = view::first_problem(st); e != kNoEntry) {
    s.select(e);  // as an opened capture does: its first error
  } else if (!s.rows.rows().empty()) {
    s.select(s.rows.rows().front());
  }
  return true;
}

std::string path_for(const std::string& out, const std::string& view, bool several) {
  if (!several) return out;
  const size_t dot = out.rfind('.');
  const size_t slash = out.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return out + "-" + view;
  return out.substr(0, dot) + "-" + view + out.substr(dot);
}

void print_stats(const std::string& view, const AppState& s) {
  const ViewStats& v = s.stats;
  const Store& st = s.store();
  if (view == "messages")
    std::printf(
        "view=messages rows=%zu visible=%zu summary_chars=%zu request_chars=%zu selected=%s\n",
        v.message_rows, v.message_visible, v.summary_chars, v.request_chars,
        s.selected == view::kNoSelection ? "none" : record_number(s.selected).c_str());
  else if (view == "timeline")
    std::printf("view=timeline lanes=%zu buckets=%zu hangs=%zu gaps=%zu lifecycle=%zu\n",
                v.timeline_lanes, v.timeline_buckets, v.timeline_hangs, v.timeline_gaps,
                v.timeline_lifecycle);
  else if (view == "plots")
    std::printf("view=plots rows=%zu columns=%zu\n", v.plot_rows, v.plot_columns);
  else if (view == "detail")
    std::printf("view=detail fields=%zu fds=%zu findings=%zu\n", v.detail_fields, v.detail_fds,
                v.detail_findings);
  else if (view == "features")
    std::printf("view=features bits=%zu protocol_bits=%zu mismatches=%zu\n", v.feature_bits,
                v.protocol_bits, v.feature_mismatches);
  else if (view == "memory")
    std::printf("view=memory regions=%zu ring_marks=%zu\n", v.memory_regions, v.memory_marks);
  else if (view == "rings")
    std::printf(
        "view=rings queues=%zu ring_records=%zu snapshot_rows=%zu columns=%zu "
        "columns_beyond_edge=%zu\n",
        v.ring_queues, v.ring_records, v.ring_snapshot_rows, v.ring_columns, v.ring_columns_beyond);
  else if (view == "findings")
    std::printf("view=findings total=%zu\n", v.findings_total);
  else if (view == "picture")
    std::printf(
        "view=picture queues=%zu ring_states=%zu position=%zu chains=%zu in_flight_cells=%zu "
        "hands=%zu\n",
        v.picture_queues, v.picture_states, v.picture_position, v.picture_chains,
        v.picture_in_flight_cells, v.picture_hands);
  else if (view == "stats")
    std::printf("view=stats requests=%zu queues=%zu findings=%zu\n", v.stats_requests,
                v.stats_queues, v.stats_findings);
  else if (view == "status")
    std::printf("view=status records=%zu sessions=%zu pending=%zu flagged=%zu session_index=%zu\n",
                st.size(), st.sessions().size(), v.pending, st.flagged().size(), s.session_index);
}

}  // namespace

int run_screenshot(Platform& p, App& app, const Options& o) {
  if (!load(p, app, o)) return 1;
  std::vector<std::string> views;
  if (o.view == "all") {
    for (const auto& v : view_names())
      if (v != "messages" && v != "timeline") views.push_back(v);
  } else {
    views.push_back(o.view);
  }
  const bool several = views.size() > 1;
  std::vector<uint8_t> rgb;
  for (size_t k = 0; k < views.size(); ++k) {
    app.force_tab(tab_for(views[k]));
    app.state().show_stats = views[k] == "stats";  // a window over the layout, not a tab
    show_plots(app.state(), views[k] == "plots");
    render_frames(p, app, o.first_screen ? 1 : kSettleFrames);
    int w = 0, h = 0;
    if (!p.read_pixels(rgb, w, h)) {
      std::fprintf(stderr, "vhostscope-gui: cannot read the framebuffer back\n");
      return 1;
    }
    p.present();
    const std::string path = path_for(o.screenshot, views[k], several);
    std::string error;
    if (!write_image(path, rgb, w, h, error)) {
      std::fprintf(stderr, "vhostscope-gui: %s\n", error.c_str());
      return 1;
    }
    std::printf("image view=%s path=%s width=%d height=%d\n", views[k].c_str(), path.c_str(), w, h);
    if (k == 0) {  // always-visible views: report them once
      print_stats("messages", app.state());
      print_stats("timeline", app.state());
      print_stats("status", app.state());
    }
    if (views[k] != "messages" && views[k] != "timeline") print_stats(views[k], app.state());
  }
  std::fflush(stdout);
  return 0;
}

int run_bench(Platform& p, App& app, const Options& o) {
  if (!load(p, app, o)) return 1;
  AppState& s = app.state();
  app.force_tab(tab_for(o.bench));
  show_plots(s, o.bench == "plots");
  render_frames(p, app, kSettleFrames);
  p.present();
  const auto rows = s.rows.rows();
  FrameTimes scroll;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (int f = 0; f < o.frames; ++f) {
    // Vary what the view shows each frame so caches do not hide the work: jump the selection
    // across the whole list (new rows to format), zoom the timeline in and out.
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    if (!rows.empty() && (o.bench == "messages" || o.bench == "detail" || o.bench == "findings"))
      s.select(rows[seed % rows.size()]);
    if (o.bench == "timeline" || o.bench == "plots") {
      const view::TimeRange all = view::fit_range(s.timeline.min_time(), s.timeline.max_time());
      s.timeline_follow = false;
      s.timeline_range =
          view::zoom_range(all, f % 2 ? 1.0 : 0.001 + 0.1 * static_cast<double>(seed % 100) / 100.0,
                           static_cast<double>(seed % 1000) / 1000.0, all);
    }
    timed_frame(p, app, scroll);
  }
  std::printf("bench view=%s records=%zu rows=%zu %s\n", o.bench.c_str(), s.store().size(),
              s.rows.size(), scroll.text().c_str());
  // Filtering: a new filter is evaluated a slice per frame (the list shows "filtering… n %")
  // until every record has been seen; the frames meanwhile, and how long the whole pass took.
  app.set_bounded_work(true);
  for (const char* expr : {"SET_VRING_CALL or finding", "latency > 1ms", ""}) {
    FrameTimes filtering;
    const auto t0 = Clock::now();
    app.set_filter(expr);
    do timed_frame(p, app, filtering);
    while (!app.caught_up());
    std::printf("bench-filter expr=\"%s\" rows=%zu seconds=%.3f %s\n", expr, s.rows.size(),
                seconds_since(t0), filtering.text().c_str());
  }
  app.set_bounded_work(false);
  std::fflush(stdout);
  return 0;
}

}  // namespace vhs::gui
