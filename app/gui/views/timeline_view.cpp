// Timeline: the device-status lifecycle row, then one lane per channel / event kind and per queue
// (its messages, kicks, calls and ring states as tracks), messages bucketed per two pixels (binary
// searches over sorted lanes, so a million messages draw as fast as a hundred). Long idle
// stretches are compressed to a marked sliver (view::TimeAxis), so the width goes to the records.
// Wheel zooms around the mouse, drag pans, Shift+drag or right-drag zooms to the dragged stretch,
// double-click or 0 fits, + / - / z zoom by keys, a click selects the nearest message of the lane.
// Error and warning findings mark their buckets; requests left waiting and ring stalls are red
// spans. The plots (plots_view.cpp) share the axis and the zoom.
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
#include "decoders/vhost_user/features.hpp"

namespace vhs::gui {
namespace {

using Pane = AppState::BottomPane;

ImU32 lane_color(const view::LaneKey& key) {
  switch (key.kind) {
    case view::LaneKind::Events: return kEventText;
    case view::LaneKind::Control: return category_color(Category::Negotiation);
    case view::LaneKind::Queue:
      switch (key.track) {
        case view::QueueTrack::Messages: return category_color(Category::Vring);
        case view::QueueTrack::Kicks: return IM_COL32(120, 190, 250, 255);
        case view::QueueTrack::Calls: return IM_COL32(240, 170, 90, 255);
        case view::QueueTrack::RingStates: return category_color(Category::Memory);
      }
      break;
    case view::LaneKind::BackendChannel: return category_color(Category::BackendChannel);
    case view::LaneKind::RingRecords: return category_color(Category::Memory);
  }
  return kDimText;
}

// Colour of a lifecycle stage: grey reset, blue while the driver sets up, green running, orange
// / red when the device needs a reset or the driver gave up.
ImU32 stage_color(uint8_t status, bool inferred) {
  const int a = inferred ? 120 : 220;
  if (status & status_bit(kStatusFailed)) return IM_COL32(220, 60, 60, a);
  if (status & status_bit(kStatusNeedsReset)) return IM_COL32(235, 140, 40, a);
  if (status & status_bit(kStatusDriverOk)) return IM_COL32(80, 170, 90, a);
  if (status & status_bit(kStatusFeaturesOk)) return IM_COL32(70, 130, 190, a);
  if (status) return IM_COL32(90, 100, 150, a);
  return IM_COL32(110, 110, 115, a);
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

// Does entry `i` move the device status (what the checker's lifecycle derivation reads)?
bool moves_status(const Store& st, size_t i) {
  const StoreEntry& e = st.entry(i);
  if (!e.is_message() || !e.info || e.channel != Channel::Frontend) return false;
  for (FrontendRequest r : {FrontendRequest::SET_FEATURES, FrontendRequest::SET_STATUS,
                            FrontendRequest::GET_STATUS, FrontendRequest::RESET_DEVICE,
                            FrontendRequest::RESET_OWNER, FrontendRequest::SET_VRING_KICK})
    if (e.info->is(r)) return true;
  return false;
}

// The current session's lifecycle. It replays the session through the checker, a few
// milliseconds per frame until done (the row stays empty meanwhile), so it is recomputed only
// when a record that can move the status arrives (in a live session at most once a second); a
// session change takes the session's earlier result when there is one.
void refresh_lifecycle(AppState& s) {
  constexpr double kReplayBudgetMs = 3.0;
  constexpr size_t kReplayChunk = 4096;  // entries between clock checks
  const Store& st = s.store();
  if (s.ctl.loading()) return;
  const double now = ImGui::GetTime();
  const bool fresh = s.lifecycle_store_size == SIZE_MAX || s.lifecycle_store_size > st.size();
  const bool grew = !fresh && s.lifecycle_store_size < st.size();
  const bool paced = s.ctl.mode() == Mode::Live && now - s.lifecycle_computed_at < 1.0;
  if (fresh || (grew && !paced)) {
    bool moved = fresh;
    // New records since the last look: any that moves a status stales every result.
    for (size_t i = s.lifecycle_store_size; !moved && i < st.size(); ++i)
      moved = moves_status(st, i);
    s.lifecycle_store_size = st.size();
    if (moved) {
      s.lifecycle_by_session.clear();
      s.lifecycle_replay.reset();
      s.lifecycle_session = SIZE_MAX;
    }
  }
  if (s.session_index >= st.sessions().size()) return;
  if (s.lifecycle_by_session.size() <= s.session_index)
    s.lifecycle_by_session.resize(s.session_index + 1);
  auto& known = s.lifecycle_by_session[s.session_index];
  if (!known) {
    if (!s.lifecycle_replay || s.lifecycle_replay->session_index() != s.session_index)
      s.lifecycle_replay.emplace(st, s.session_index);
    const auto t0 = std::chrono::steady_clock::now();
    bool done = false;
    while (!(done = s.lifecycle_replay->advance(st, kReplayChunk)) &&
           std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                   .count() < kReplayBudgetMs) {
    }
    if (!done) {
      if (s.lifecycle_session != s.session_index) s.lifecycle.clear();
      return;
    }
    known = view::session_lifecycle(st, s.session_index, s.lifecycle_replay->result(st).lifecycle);
    s.lifecycle_replay.reset();
    s.lifecycle_computed_at = now;
    s.lifecycle_session = SIZE_MAX;
  }
  if (s.lifecycle_session == s.session_index) return;
  s.lifecycle = *known;
  s.lifecycle_session = s.session_index;
}

// Lane `li`'s buckets between `edges`. Bucketing reads every lane's times with a binary search per
// pixel column, which over a big capture costs a few milliseconds a frame; while neither the range,
// the index nor its finding marks change (scrolling the message list), the last frame's are kept.
const std::vector<view::TimelineBucket>& lane_buckets(AppState& s, size_t li,
                                                      const std::vector<uint64_t>& edges) {
  AppState::TimelineBuckets& c = s.timeline_buckets;
  const size_t lanes = s.timeline.lanes().size();
  if (li == 0 && (c.edges != edges || c.indexed != s.timeline.indexed() ||
                  c.marks_version != s.timeline_marks_version || c.per_lane.size() != lanes)) {
    c.edges = edges;
    c.indexed = s.timeline.indexed();
    c.marks_version = s.timeline_marks_version;
    c.per_lane.assign(lanes, {});
    c.valid.assign(lanes, false);
  }
  if (li >= c.per_lane.size()) {  // not reached: lanes are drawn from 0
    c.per_lane.resize(li + 1);
    c.valid.resize(li + 1, false);
  }
  if (!c.valid[li]) {
    s.timeline.bucket_edges(li, edges, c.per_lane[li]);
    c.valid[li] = true;
  }
  return c.per_lane[li];
}

// The axis over the data; in a live session the silence up to now is a gap like any other.
view::TimeAxis build_axis(const view::TimelineIndex& tl, uint64_t end, bool compress) {
  if (!compress) return {};
  std::vector<view::IdleGap> gaps(tl.idle_gaps().begin(), tl.idle_gaps().end());
  if (end > tl.max_time() && end - tl.max_time() >= view::kIdleGapFloorNs)
    gaps.push_back({tl.max_time(), end});
  return view::TimeAxis(tl.min_time(), end, gaps);
}

void toolbar(AppState& s) {
  auto pane_button = [&](const char* label, Pane p) {
    if (ImGui::RadioButton(label, s.bottom == p)) s.bottom = p;
    ImGui::SameLine();
  };
  pane_button("Timeline", Pane::Timeline);
  pane_button("Plots", Pane::Plots);
  pane_button("Both", Pane::Both);
  ImGui::Checkbox("compress idle", &s.timeline_compress);
  ImGui::SameLine();
  help_marker(
      "Wheel: zoom around the mouse. Drag: pan. Shift+drag or right-drag: zoom to the dragged "
      "stretch. Double-click or 0: fit. + / -: zoom in / out, z: zoom in on the selected message. "
      "Click: select the nearest message of the lane.\n\nIdle stretches (no record for a while) "
      "are drawn compressed, marked with how long they lasted; untick \"compress idle\" for a "
      "linear axis.\n\nThe top row is the VIRTIO device status of the current session (set by "
      "SET_STATUS, or ~inferred from SET_FEATURES, ring starts and resets).");
}

}  // namespace

void draw_timeline(AppState& s) {
  const Store& st = s.store();
  const view::TimelineIndex& tl = s.timeline;
  const auto& lanes = tl.lanes();
  s.stats.timeline_lanes = lanes.size();
  s.stats.timeline_buckets = 0;
  s.stats.timeline_hangs = 0;
  s.stats.timeline_gaps = 0;
  s.stats.timeline_lifecycle = 0;
  s.stats.plot_rows = 0;
  s.stats.plot_columns = 0;
  toolbar(s);
  if (lanes.empty()) {
    text_colored(kDimText, "Timeline: no records yet.");
    return;
  }
  refresh_lifecycle(s);
  const bool live = s.ctl.mode() == Mode::Live;
  const uint64_t now = live ? wall_now_ns() : tl.max_time();
  const uint64_t end = std::max(tl.max_time(), live ? now : tl.max_time());
  s.timeline_axis = build_axis(tl, end, s.timeline_compress);
  const view::TimeAxis& axis = s.timeline_axis;
  const view::TimeRange bounds =
      view::fit_range(axis.to_display(tl.min_time()), axis.to_display(end));
  if (s.timeline_follow || s.timeline_range.width() == 0) s.timeline_range = bounds;
  view::TimeRange& range = s.timeline_range;
  if (s.timeline_reveal && s.selected != view::kNoSelection && s.selected < st.size()) {
    range = view::reveal_range(range, axis.to_display(st.entry(s.selected).timestamp_ns), bounds);
    s.timeline_reveal = false;
  }

  const float fs = ImGui::GetFontSize();
  const float label_w = fs * 7;
  const float axis_h = fs * 1.3f;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float plot_w = std::max(avail.x - label_w - fs * 0.5f, fs * 4);
  const bool show_lanes = s.bottom != Pane::Plots;
  const bool show_plots = s.bottom != Pane::Timeline;
  const bool lifecycle_row = show_lanes && !s.lifecycle.empty();
  const size_t rows = lanes.size() + (lifecycle_row ? 1 : 0);
  const float lanes_avail =
      show_plots ? (show_lanes ? (avail.y - axis_h) * 0.45f : 0.0f) : avail.y - axis_h - 4;
  const float lane_h =
      show_lanes ? std::clamp(lanes_avail / static_cast<float>(rows), fs * 0.9f, fs * 1.6f) : 0.0f;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const float px0 = origin.x + label_w;
  const float rows_top = origin.y + axis_h;
  const float lanes_top = rows_top + (lifecycle_row ? lane_h : 0.0f);
  const float lanes_bottom = lanes_top + lane_h * static_cast<float>(lanes.size());
  const float rows_bottom = show_lanes ? lanes_bottom : rows_top;
  const float marks_bottom = show_plots ? origin.y + avail.y : rows_bottom;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const double ns_per_px = static_cast<double>(range.width()) / plot_w;
  auto x_of_display = [&](uint64_t u) {
    return px0 +
           static_cast<float>((static_cast<double>(u) - static_cast<double>(range.t0)) / ns_per_px);
  };
  auto x_of = [&](uint64_t t) { return x_of_display(axis.to_display(t)); };
  auto time_at = [&](float x) {
    const double u = static_cast<double>(range.t0) + std::max(0.0, (x - px0) * ns_per_px);
    return axis.to_time(static_cast<uint64_t>(u));
  };
  const uint64_t base = st.first_timestamp();
  dl->PushClipRect(ImVec2(origin.x, origin.y), ImVec2(px0 + plot_w, origin.y + avail.y), true);

  // Axis: ticks on each stretch between compressed gaps (one display ns is one ns there), and
  // over each gap how long nothing happened.
  const uint64_t step = tick_step(range.width(), std::max(2, static_cast<int>(plot_w / (fs * 7))));
  // Tick labels are drawn after the gaps' labels, and only where they overlap neither a gap's
  // label nor the tick label before them ("… 1.18 s" next to "21.5 s" read as one number).
  std::vector<std::pair<float, std::string>> tick_labels;
  std::vector<std::pair<float, float>> gap_labels;  // x extent of each gap label drawn
  auto ticks = [&](uint64_t t_from, uint64_t t_to) {
    const uint64_t rel_from = t_from > base ? t_from - base : 0;
    for (uint64_t rel = (rel_from / step) * step; base + rel <= t_to; rel += step) {
      if (base + rel < t_from) continue;
      const float x = x_of(base + rel);
      dl->AddLine(ImVec2(x, origin.y + axis_h - fs * 0.3f), ImVec2(x, marks_bottom),
                  IM_COL32(255, 255, 255, 18));
      tick_labels.emplace_back(x + 2, tick_label(rel, step));
    }
  };
  uint64_t piece_from = axis.to_time(range.t0);
  std::string gap_tip;
  std::vector<std::pair<float, float>> gap_bands;  // drawn over the lanes once they are drawn
  const ImVec2 mouse = ImGui::GetMousePos();
  for (const auto& g : axis.gaps()) {
    if (g.u1 < range.t0 || g.u0 > range.t1) continue;
    if (g.time.start > piece_from) ticks(piece_from, g.time.start);
    piece_from = std::max(piece_from, g.time.end);
    const float xa = x_of_display(g.u0), xb = std::max(x_of_display(g.u1), xa + 3);
    ++s.stats.timeline_gaps;
    gap_bands.push_back({xa, xb});
    // As much of "… 19.4 s idle" as the sliver holds.
    const std::string took = format_duration(g.time.duration());
    char compact[32];
    const double secs = static_cast<double>(g.time.duration()) / 1e9;
    std::snprintf(compact, sizeof compact, "…%.*fs", secs >= 9.95 ? 0 : 1, secs);
    for (const std::string& label :
         {"… " + took + " idle", "… " + took, std::string(compact), std::string("…")}) {
      const float tw = ImGui::CalcTextSize(label.c_str()).x;
      if (xb - xa > tw + 4 || label == "…") {
        const float lx = (xa + xb - tw) * 0.5f;
        dl->AddText(ImVec2(lx, origin.y), IM_COL32(220, 220, 160, 255), label.c_str());
        gap_labels.push_back({lx, lx + tw});
        break;
      }
    }
    if (mouse.x >= xa && mouse.x <= xb && mouse.y >= origin.y && mouse.y < marks_bottom)
      gap_tip = "nothing recorded for " + format_duration(g.time.duration()) + " (" +
                relative_time(g.time.start, base) + " s to " + relative_time(g.time.end, base) +
                " s), drawn compressed";
  }
  ticks(piece_from, axis.to_time(range.t1));
  const float label_gap = fs * 0.5f;
  float last_tick_end = -1e30f;
  for (const auto& tick : tick_labels) {
    const float x = tick.first;
    const float x_end = x + ImGui::CalcTextSize(tick.second.c_str()).x;
    const bool covered = std::any_of(gap_labels.begin(), gap_labels.end(), [&](const auto& g) {
      return x < g.second + label_gap && x_end + label_gap > g.first;
    });
    if (covered || x < last_tick_end + label_gap) continue;
    dl->AddText(ImVec2(x, origin.y), kDimText, tick.second.c_str());
    last_tick_end = x_end;
  }

  // Lifecycle row: the VIRTIO device status of the current session.
  std::string row_tip;
  if (lifecycle_row) {
    const float y = rows_top;
    dl->AddText(ImVec2(origin.x + 2, y + (lane_h - fs) * 0.5f), kEventText, "device status");
    // A step whose message is held at a breakpoint has not reached the peer: the stage it sets
    // or implies (a held SET_VRING_KICK's DRIVER_OK) is drawn as pending, an outline only.
    const std::vector<uint32_t> held = live && !s.step.status().held.empty()
                                           ? view::held_message_entries(st, s.step.status())
                                           : std::vector<uint32_t>{};
    for (const auto& span : s.lifecycle) {
      if (axis.to_display(span.end) < range.t0 || axis.to_display(span.start) > range.t1) continue;
      const float xa = std::max(x_of(span.start), px0);
      const float xb = std::max(std::min(x_of(span.end), px0 + plot_w), xa + 2);
      const bool pending = std::find(held.begin(), held.end(), span.entry) != held.end();
      ++s.stats.timeline_lifecycle;
      if (pending)
        dl->AddRect(ImVec2(xa, y + 2), ImVec2(xb, y + lane_h - 2),
                    stage_color(span.status, span.inferred), 0.0f, 0, 2.0f);
      else
        dl->AddRectFilled(ImVec2(xa, y + 2), ImVec2(xb, y + lane_h - 2),
                          stage_color(span.status, span.inferred));
      dl->AddLine(ImVec2(xa, y + 1), ImVec2(xa, y + lane_h - 1), IM_COL32(255, 255, 255, 160));
      const std::string label =
          (span.inferred ? "~" : "") + span.label + (pending ? " (held)" : "");
      if (xb - xa > ImGui::CalcTextSize(label.c_str()).x + 6)
        dl->AddText(ImVec2(xa + 3, y + (lane_h - fs) * 0.5f), IM_COL32(240, 240, 240, 255),
                    label.c_str());
      if (mouse.x >= xa && mouse.x < xb && mouse.y >= y && mouse.y < y + lane_h)
        row_tip =
            record_number(span.entry) + " " + entry_title(st, span.entry) + ": status " +
            (span.status ? describe_status(span.status) : std::string("0 (reset)")) +
            (span.inferred ? "\ninferred: the STATUS protocol feature is not negotiated, so "
                             "the transport implies it"
                           : "\nset by the front-end (SET_STATUS) or read back (GET_STATUS)") +
            (pending ? "\npending: the message is held at a breakpoint, the back-end has not "
                       "received it yet"
                     : "") +
            "\nclick: select the message";
    }
  }

  // Lanes. A queue's kick / call / ring tracks are drawn a little inset under its name.
  std::vector<uint64_t> edges;
  const size_t nb = static_cast<size_t>(std::max(1.0f, plot_w / 2));
  const float bw = plot_w / static_cast<float>(nb);
  if (show_lanes) {
    edges.resize(nb + 1);
    for (size_t k = 0; k <= nb; ++k)
      edges[k] = axis.to_time(range.t0 + static_cast<uint64_t>(static_cast<double>(range.width()) *
                                                               static_cast<double>(k) /
                                                               static_cast<double>(nb)));
  }
  for (size_t li = 0; show_lanes && li < lanes.size(); ++li) {
    const view::TimelineLane& lane = lanes[li];
    const float y = lanes_top + lane_h * static_cast<float>(li);
    if (li % 2)
      dl->AddRectFilled(ImVec2(origin.x, y), ImVec2(px0 + plot_w, y + lane_h),
                        IM_COL32(255, 255, 255, 8));
    const bool track =
        lane.key.kind == view::LaneKind::Queue && lane.key.track != view::QueueTrack::Messages;
    dl->AddText(ImVec2(origin.x + 2 + (track ? fs * 0.8f : 0), y + (lane_h - fs) * 0.5f),
                lane_color(lane.key), lane.label.c_str());
    const std::vector<view::TimelineBucket>& buckets = lane_buckets(s, li, edges);
    uint32_t max_count = 1;
    for (const auto& b : buckets) max_count = std::max(max_count, b.count);
    const float logmax = std::log1p(static_cast<float>(max_count));
    const ImU32 col = lane_color(lane.key);
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

  // Compressed silences: a dark hatched band over the lanes (and the plots).
  for (const auto& [xa, xb] : gap_bands) {
    const float top = rows_top, height = marks_bottom - rows_top;
    dl->AddRectFilled(ImVec2(xa, top), ImVec2(xb, marks_bottom), IM_COL32(0, 0, 0, 110));
    for (float hx = xa - height; hx < xb; hx += 6)
      dl->AddLine(ImVec2(std::max(hx, xa), top + std::max(0.0f, xa - hx)),
                  ImVec2(std::min(hx + height, xb), top + std::min(height, xb - hx)),
                  IM_COL32(255, 255, 255, 22));
  }

  // Hangs: requests left waiting, ring stalls.
  const auto hangs = view::hang_spans(st, tl, now, live);
  s.stats.timeline_hangs = hangs.size();
  std::string hang_tip;
  for (const auto& h : hangs) {
    if (!show_lanes || h.lane >= lanes.size()) continue;
    if (axis.to_display(h.end) < range.t0 || axis.to_display(h.start) > range.t1) continue;
    const float y = lanes_top + lane_h * static_cast<float>(h.lane);
    const float xa = std::max(x_of(h.start), px0),
                xb = std::min(std::max(x_of(h.end), x_of(h.start) + 3), px0 + plot_w);
    dl->AddRectFilled(ImVec2(xa, y + lane_h * 0.4f), ImVec2(xb, y + lane_h * 0.75f),
                      IM_COL32(230, 50, 50, h.open ? 150 : 110));
    dl->AddRect(ImVec2(xa, y + lane_h * 0.4f), ImVec2(xb, y + lane_h * 0.75f),
                IM_COL32(255, 90, 90, 255));
    const std::string label =
        "⚠ " + h.what + " " + format_duration(h.end - h.start) + (h.open ? " (still waiting)" : "");
    // The label goes inside the bar when it fits. A bar squeezed by a compressed silence still
    // says what hung, on a dark patch beside the bar (left of it, else right of it) so that the
    // bar stays visible, centred in the lane so that it stays out of the lane below; only when
    // neither side has room is it moved over the bar, as far left as needed to stay on screen.
    const float tw = ImGui::CalcTextSize(label.c_str()).x;
    const float ty = y + lane_h * 0.4f - fs * 0.1f;
    if (xb - xa > tw + 6) {
      dl->AddText(ImVec2(xa + 3, ty), IM_COL32(255, 230, 230, 255), label.c_str());
    } else if (xa - tw - 6 >= px0 || xb + tw + 6 <= px0 + plot_w) {
      const float tx = xa - tw - 6 >= px0 ? xa - tw - 4 : xb + 4;
      const float cy = y + std::max(0.0f, (lane_h - fs) * 0.5f);
      dl->AddRectFilled(ImVec2(tx - 2, cy), ImVec2(tx + tw + 2, cy + fs), IM_COL32(40, 10, 10, 210),
                        2.0f);
      dl->AddText(ImVec2(tx, cy), IM_COL32(255, 230, 230, 255), label.c_str());
    } else {
      const float tx = std::max(px0, std::min(xa + 3, px0 + plot_w - tw - 3));
      dl->AddRectFilled(ImVec2(tx - 2, ty), ImVec2(tx + tw + 2, ty + fs), IM_COL32(40, 10, 10, 210),
                        2.0f);
      dl->AddText(ImVec2(tx, ty), IM_COL32(255, 230, 230, 255), label.c_str());
    }
    if (mouse.x >= xa && mouse.x <= xb && mouse.y >= y && mouse.y < y + lane_h)
      hang_tip = record_number(h.entry) + " " + label;
  }

  // Selection marker.
  if (s.selected != view::kNoSelection && s.selected < st.size()) {
    const uint64_t u = axis.to_display(st.entry(s.selected).timestamp_ns);
    if (u >= range.t0 && u <= range.t1) {
      const float x = x_of_display(u);
      dl->AddLine(ImVec2(x, rows_top), ImVec2(x, marks_bottom), IM_COL32(255, 255, 255, 200), 1.5f);
    }
  }

  // A zoom-to-selection drag in progress.
  if (s.timeline_zoom_from >= 0) {
    const float xa = std::min(s.timeline_zoom_from, mouse.x),
                xb = std::max(s.timeline_zoom_from, mouse.x);
    dl->AddRectFilled(ImVec2(xa, rows_top), ImVec2(xb, marks_bottom), IM_COL32(120, 170, 255, 50));
    dl->AddRect(ImVec2(xa, rows_top), ImVec2(xb, marks_bottom), IM_COL32(120, 170, 255, 200));
  }
  dl->PopClipRect();

  // Interaction over the lanes (and the plots below them: same axis).
  ImGui::SetCursorScreenPos(ImVec2(px0, rows_top));
  ImGui::InvisibleButton("##plot", ImVec2(plot_w, std::max(marks_bottom - rows_top, 1.0f)),
                         ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight);
  const bool hovered = ImGui::IsItemHovered();
  ImGuiIO& io = ImGui::GetIO();
  const double anchor = (mouse.x - px0) / plot_w;
  if (hovered && io.MouseWheel != 0) {
    range = view::zoom_range(range, std::pow(0.8, io.MouseWheel), anchor, bounds);
    s.timeline_follow = false;
  }
  const bool band_drag = ImGui::IsMouseDragging(ImGuiMouseButton_Right, 2.0f) ||
                         (io.KeyShift && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 2.0f));
  if (ImGui::IsItemActive() && band_drag && s.timeline_zoom_from < 0)
    s.timeline_zoom_from = io.MouseClickedPos[ImGui::IsMouseDown(ImGuiMouseButton_Right) ? 1 : 0].x;
  const bool band_released = s.timeline_zoom_from >= 0 && !ImGui::IsItemActive();
  if (band_released) {
    // Released: zoom to the dragged stretch.
    const double a = (s.timeline_zoom_from - px0) / plot_w, b = anchor;
    if (std::abs(b - a) * plot_w >= 3) {
      range = view::select_range(range, a, b, bounds);
      s.timeline_follow = false;
    }
    s.timeline_zoom_from = -1;
  } else if (s.timeline_zoom_from < 0 && ImGui::IsItemActive() &&
             ImGui::IsMouseDragging(ImGuiMouseButton_Left, 2.0f) && io.MouseDelta.x != 0) {
    range = view::pan_range(range, static_cast<int64_t>(-io.MouseDelta.x * ns_per_px), bounds);
    s.timeline_follow = false;
  }
  if (hovered && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
    s.timeline_follow = true;
  } else if (ImGui::IsItemDeactivated() && !band_released && s.timeline_zoom_from < 0 &&
             io.MouseDragMaxDistanceSqr[0] < 4.0f && show_lanes &&
             mouse.y < rows_bottom) {  // a click, not the end of a drag
    if (lifecycle_row && mouse.y < lanes_top) {
      for (const auto& span : s.lifecycle)
        if (mouse.x >= x_of(span.start) && mouse.x < std::max(x_of(span.end), x_of(span.start) + 2))
          s.select(span.entry);
    } else {
      const size_t lane = static_cast<size_t>((mouse.y - lanes_top) / lane_h);
      const uint32_t e = tl.nearest_entry(lane, time_at(mouse.x));
      if (e != UINT32_MAX) s.select(e);
    }
  }
  // Keys while the mouse is over the timeline or nothing takes text.
  if (!io.WantTextInput && (hovered || !ImGui::IsAnyItemActive())) {
    const double sel_anchor =
        s.selected != view::kNoSelection && s.selected < st.size()
            ? (static_cast<double>(axis.to_display(st.entry(s.selected).timestamp_ns)) -
               static_cast<double>(range.t0)) /
                  std::max(1.0, static_cast<double>(range.width()))
            : 0.5;
    for (ImWchar c : io.InputQueueCharacters) {
      double factor = 0;
      if (c == '+' || c == '=') factor = 0.5;
      if (c == '-') factor = 2.0;
      if (c == 'z') factor = 0.25;
      if (c == '0') s.timeline_follow = true;
      if (factor == 0) continue;
      if (c == 'z' && s.selected != view::kNoSelection && s.selected < st.size())
        range =
            view::reveal_range(range, axis.to_display(st.entry(s.selected).timestamp_ns), bounds);
      range = view::zoom_range(range, factor, std::clamp(sel_anchor, 0.0, 1.0), bounds);
      s.timeline_follow = false;
    }
  }
  if (hovered) {
    if (!hang_tip.empty()) {
      ImGui::SetTooltip("%s", hang_tip.c_str());
    } else if (!row_tip.empty()) {
      ImGui::SetTooltip("%s", row_tip.c_str());
    } else if (!gap_tip.empty()) {
      ImGui::SetTooltip("%s", gap_tip.c_str());
    } else if (show_lanes && mouse.y >= lanes_top && mouse.y < lanes_bottom) {
      const size_t lane =
          std::min(static_cast<size_t>((mouse.y - lanes_top) / lane_h), lanes.size() - 1);
      const uint64_t t = time_at(mouse.x);
      const uint32_t e = tl.nearest_entry(lane, t);
      std::string tip = lanes[lane].label + "  " + relative_time(t, base) + " s";
      if (e != UINT32_MAX) tip += "\nnearest: " + record_number(e) + " " + entry_title(st, e);
      tip +=
          "\nwheel: zoom  drag: pan  shift/right-drag: zoom to it  double-click: fit  click: "
          "select";
      ImGui::SetTooltip("%s", tip.c_str());
    }
  }

  if (show_plots) {
    ImGui::SetCursorScreenPos(ImVec2(origin.x, rows_bottom + 2));
    draw_plots(s, label_w, label_w + plot_w, std::max(origin.y + avail.y - rows_bottom - 2, fs));
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x, std::max(rows_bottom, marks_bottom) + 2));
}

}  // namespace vhs::gui
