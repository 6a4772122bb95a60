// App: per-frame model pump, budgeted indexing, keys, menu and the pane layout.
#include "app/gui/app.hpp"

#include <GLFW/glfw3.h>
#include <imgui.h>

#include <algorithm>
#include <chrono>

#include "app/common/dump_format.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kIndexChunk = 2048;  // entries per index step between clock checks
// A frame's own work (reading the next slice of a capture being loaded, advancing the indexes)
// gets what drawing the last frame left of this, so a frame stays within 60 Hz's 16.7 ms with
// room for a draw slower than the last one (13 ms left frames of 17-20 ms at p99 while filtering).
constexpr double kFrameTargetMs = 12.0;
constexpr double kMinWorkMs = 2.0;  // a slow frame still makes progress
constexpr double kMaxWorkMs = 10.0;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Did this frame see mouse, wheel or key input? ImGui applies some of its effects (tab switches,
// a selection's partner, scrolling to it) a frame later, which an idle loop would draw 250 ms late.
bool had_input(const ImGuiIO& io) {
  if (io.MouseDelta.x != 0 || io.MouseDelta.y != 0 || io.MouseWheel != 0 || io.MouseWheelH != 0 ||
      !io.InputQueueCharacters.empty())
    return true;
  for (bool down : io.MouseDown)
    if (down) return true;
  for (bool released : io.MouseReleased)
    if (released) return true;
  for (bool down : io.KeysDown)
    if (down) return true;
  return false;
}

}  // namespace

const char* tab_name(Tab t) {
  switch (t) {
    case Tab::Detail: return "detail";
    case Tab::Features: return "features";
    case Tab::Memory: return "memory";
    case Tab::Rings: return "rings";
    case Tab::Picture: return "picture";
    case Tab::Findings: return "findings";
    case Tab::Count: break;
  }
  return "?";
}

void AppState::select(uint32_t entry, bool scroll) {
  if (entry >= store().size()) return;
  selected = entry;
  scroll_to_selected = scroll_to_selected || scroll;
}

App::App(Controller& controller, const Options& options) : state_(controller) {
  state_.headless = options.headless();
  state_.filter_text = options.filter;
  state_.filter_dirty = !options.filter.empty();
  state_.layout.hide_samples = options.hide_samples;
  if (options.select && *options.select > 0) state_.select_on_open = *options.select - 1;
  state_.filter_dirty = state_.filter_dirty || options.hide_samples;
}

bool App::busy() const {
  return settle_frames_ > 0 || state_.ctl.mode() == Mode::Live || !caught_up();
}

bool App::caught_up() const {
  const Store& st = state_.store();
  return !state_.ctl.loading() && state_.rows.complete(st) &&
         state_.timeline.indexed() >= st.size() && state_.plots.indexed() >= st.size();
}

void App::force_tab(Tab t) {
  state_.tab = t;
  state_.tab_forced = true;
}

void App::set_filter(const std::string& text) {
  state_.filter_text = text;
  state_.filter_dirty = true;
  apply_filter();
}

void App::toggle_samples() {
  state_.layout.hide_samples = !state_.layout.hide_samples;
  state_.filter_dirty = true;
}

void App::apply_filter() {
  if (!state_.filter_dirty) return;
  state_.filter_dirty = false;
  view::FilterError err;
  auto f = view::Filter::parse(state_.filter_text, err);
  if (!f) {
    state_.filter_error = err.message;
    state_.filter_error_pos = err.position;
    return;  // keep showing the last valid filter's rows
  }
  state_.filter_error.clear();
  // Hiding the recorder's samples composes with the user's filter (which parsed on its own, so
  // its error positions stay the user's).
  if (state_.layout.hide_samples) {
    const std::string hide = "not (kind:ring-state or kind:notify)";
    const std::string text =
        state_.filter_text.empty() ? hide : "(" + state_.filter_text + ") and " + hide;
    if (auto both = view::Filter::parse(text, err)) f = std::move(both);
  }
  state_.rows.set_filter(std::move(*f));
  state_.scroll_to_selected = true;
}

void App::on_pump(const PumpResult& r) {
  AppState& s = state_;
  if (r.replaced) {
    s.rows.invalidate();
    s.timeline.invalidate();
    ++s.timeline_marks_version;
    s.timeline_follow = true;
    s.plots.invalidate();
    s.lifecycle_store_size = SIZE_MAX;
    s.lifecycle.clear();  // the new store's is computed once it has loaded
    s.lifecycle_session = SIZE_MAX;
    s.lifecycle_replay.reset();
    // A capture opens at its first error (a live session starts with nothing to show).
    s.open_at_problem = s.ctl.mode() != Mode::Live;
    s.findings.clear();
    s.findings_flagged_seen = SIZE_MAX;
    s.ring_records.clear();
    s.ring_records_scanned = 0;
    s.backend_messages = 0;
    s.request_chars = 0;
    s.request_chars_applied = 0;
    s.replay.reset();
    s.rings_follow = true;
    s.ring_picture = {};
    s.capture_stats_records = SIZE_MAX;
    s.selected = view::kNoSelection;
    s.session_index = 0;
    s.session_pinned = false;
  } else if (r.finished || r.ring_findings) {
    // finish() attributed findings to old entries: re-evaluate what depends on them.
    if (s.rows.filter().is_volatile()) s.rows.invalidate();
    s.timeline.refresh_findings(s.store());
    ++s.timeline_marks_version;
    s.findings_flagged_seen = SIZE_MAX;
  }
  // A row's text changes when its reply arrives or a finding is attached to it. While a capture
  // loads, the cache is cleared at most once a second: formatting the visible rows again reads
  // their bytes, moving the mapped capture's resident window away from where ingest reads.
  const bool loading_paced = r.appended && !r.replaced && !r.finished && s.ctl.loading() &&
                             ImGui::GetTime() - row_cache_cleared_at_ < 1.0;
  if ((r.replaced || r.finished || r.appended) && !loading_paced) {
    s.row_cache.clear();
    row_cache_cleared_at_ = ImGui::GetTime();
  }
}

void App::update_indexes(double budget_ms) {
  AppState& s = state_;
  const Store& st = s.store();
  const auto t0 = Clock::now();
  // The index furthest behind takes the next step, so the three read the same stretch of the
  // capture: a mapped capture keeps one window of it resident and moving that window (mapping a
  // 16 MiB step in, handing the rest back) costs more than the step's records. A step of none
  // first: a complete filter still settles answers that arrived, an index notices a smaller store.
  s.rows.update(st, 0);
  s.timeline.update(st, 0);
  s.plots.update(st, 0);
  for (;;) {
    const size_t rows_at = s.rows.complete(st) ? SIZE_MAX : s.rows.scanned();
    const size_t timeline_at = s.timeline.indexed() >= st.size() ? SIZE_MAX : s.timeline.indexed();
    const size_t plots_at = s.plots.indexed() >= st.size() ? SIZE_MAX : s.plots.indexed();
    const size_t lowest = std::min({rows_at, timeline_at, plots_at});
    if (lowest == SIZE_MAX) break;
    if (rows_at == lowest)
      s.rows.update(st, kIndexChunk);
    else if (timeline_at == lowest)
      s.timeline.update(st, kIndexChunk);
    else
      s.plots.update(st, kIndexChunk);
    if (ms_since(t0) >= budget_ms) break;
  }
  // --select N: the record once it exists (a live session may take a while to reach it).
  if (s.select_on_open && *s.select_on_open < st.size() &&
      s.timeline.indexed() > *s.select_on_open) {
    s.select(*s.select_on_open);
    s.timeline_reveal = true;
    s.select_on_open.reset();
    s.open_at_problem = false;
  }
  if (s.open_at_problem && !s.ctl.loading() && s.timeline.indexed() >= st.size()) {
    s.open_at_problem = false;
    const uint32_t e = view::first_problem(st);
    if (e != kNoEntry && s.selected == view::kNoSelection) {
      s.select(e);
      s.timeline_reveal = true;
    }
  }
  for (; s.ring_records_scanned < st.size(); ++s.ring_records_scanned) {
    const StoreEntry& e = st.entry(s.ring_records_scanned);
    if (e.kind == RecordKind::RingState)
      s.ring_records.push_back(static_cast<uint32_t>(s.ring_records_scanned));
    s.backend_messages += e.is_message() && e.channel == Channel::Backend;
    if (e.is_message() && e.header_complete) {
      // The registry's name is enough for known requests; only unknown codes build the title.
      const size_t suffix = !e.header.is_reply()          ? 0
                            : e.role == MessageRole::Ack ? kAckTitleSuffix.size()
                                                         : kReplyTitleSuffix.size();
      const size_t chars = e.info ? e.info->name.size() + suffix
                                  : entry_title(st, s.ring_records_scanned).size();
      s.request_chars = std::max(s.request_chars, chars);
    }
  }
  // Findings list, severity first; rebuilt when the flagged list changes (it only grows), while
  // a capture loads at most once a second (each rebuild reads every flagged entry).
  const bool paced = s.ctl.loading() && ImGui::GetTime() - findings_built_at_ < 1.0;
  if (st.flagged().size() != s.findings_flagged_seen && !paced) {
    findings_built_at_ = ImGui::GetTime();
    s.findings.clear();
    for (int sev = 2; sev >= 0; --sev)
      for (uint32_t e : st.flagged()) {
        const auto fl = st.findings(e);
        for (uint32_t k = 0; k < fl.size(); ++k)
          if (static_cast<int>(fl[k].severity()) == sev) s.findings.push_back({e, k});
      }
    s.findings_flagged_seen = st.flagged().size();
  }
}

void App::finish_indexing() {
  const Store& st = state_.store();
  while (!state_.rows.update(st, SIZE_MAX)) {
  }
  while (!state_.timeline.update(st, SIZE_MAX)) {
  }
  while (!state_.plots.update(st, SIZE_MAX)) {
  }
  update_indexes(0);
}

void App::follow_session() {
  AppState& s = state_;
  const auto& sessions = s.store().sessions();
  if (sessions.empty()) return;
  if (s.selected != last_selected_) {
    last_selected_ = s.selected;
    if (s.selected != view::kNoSelection && s.selected < s.store().size()) {
      s.session_index = s.store().entry(s.selected).session_index;
      s.session_pinned = false;
    }
  }
  if (s.session_index >= sessions.size()) s.session_index = sessions.size() - 1;
}

void App::handle_keys() {
  AppState& s = state_;
  ImGuiIO& io = ImGui::GetIO();
  // ImGui 1.86 names only a few letter keys; the GLFW backend indexes KeysDown by GLFW key codes.
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_O, false)) s.open_dialog = true;
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_S, false) && !s.store().empty())
    s.save_dialog = true;
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_Q, false)) s.quit_requested = true;
  if (ImGui::IsKeyPressed(GLFW_KEY_F1, false)) s.show_help = !s.show_help;
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_H, false)) toggle_samples();
  if (io.WantTextInput || ImGui::IsPopupOpen("", ImGuiPopupFlags_AnyPopupId)) return;
  handle_step_keys(s);
  const auto rows = s.rows.rows();
  const size_t page = std::max<size_t>(s.stats.message_visible, 2) - 1;
  struct KeyNav {
    ImGuiKey key;
    view::NavKey nav;
  };
  for (KeyNav k :
       {KeyNav{ImGuiKey_UpArrow, view::NavKey::Up}, KeyNav{ImGuiKey_DownArrow, view::NavKey::Down},
        KeyNav{ImGuiKey_PageUp, view::NavKey::PageUp},
        KeyNav{ImGuiKey_PageDown, view::NavKey::PageDown},
        KeyNav{ImGuiKey_Home, view::NavKey::Home}, KeyNav{ImGuiKey_End, view::NavKey::End}}) {
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(k.key))) {
      uint32_t e = view::navigate(rows, s.selected, k.nav, page);
      if (e != view::kNoSelection) s.select(e);
    }
  }
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter), false) ||
      ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_KeyPadEnter), false)) {
    uint32_t p = view::peer_of(s.store(), s.selected);
    if (p != view::kNoSelection) s.select(p);
  }
  // n / N: typed characters, so keyboard layouts and Shift behave as the user expects.
  for (ImWchar c : io.InputQueueCharacters) {
    if (c == 'n' || c == 'N') {
      uint32_t e = view::step_finding(s.store(), rows, s.selected, c == 'n');
      if (e != view::kNoSelection) s.select(e);
    }
  }
}

void App::draw_menu() {
  AppState& s = state_;
  if (!ImGui::BeginMenuBar()) return;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("Open capture…", "Ctrl+O", false,
                        s.ctl.mode() != Mode::Live || !s.ctl.live_running()))
      s.open_dialog = true;
    if (ImGui::MenuItem("Save capture as…", "Ctrl+S", false, !s.store().empty()))
      s.save_dialog = true;
    ImGui::Separator();
    if (ImGui::MenuItem("Stop live session", nullptr, false, s.ctl.live_running()))
      s.ctl.stop_live();
    ImGui::Separator();
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) s.quit_requested = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    for (int t = 0; t < static_cast<int>(Tab::Count); ++t)
      if (ImGui::MenuItem(tab_name(static_cast<Tab>(t)), nullptr, s.tab == static_cast<Tab>(t)))
        force_tab(static_cast<Tab>(t));
    ImGui::Separator();
    ImGui::MenuItem("Relay log", nullptr, &s.show_log, s.ctl.mode() == Mode::Live);
    if (ImGui::MenuItem("Fit timeline", "0")) s.timeline_follow = true;
    if (ImGui::MenuItem("Compress idle time", nullptr, s.timeline_compress))
      s.timeline_compress = !s.timeline_compress;
    if (ImGui::MenuItem("Plots under the timeline", nullptr,
                        s.bottom == AppState::BottomPane::Both))
      s.bottom = s.bottom == AppState::BottomPane::Both ? AppState::BottomPane::Timeline
                                                        : AppState::BottomPane::Both;
    ImGui::MenuItem("Statistics", nullptr, &s.show_stats);
    if (ImGui::MenuItem("Hide ring states and notifications", "Ctrl+H", s.layout.hide_samples))
      toggle_samples();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    ImGui::MenuItem("Keys and filter syntax", "F1", &s.show_help);
    ImGui::EndMenu();
  }
  ImGui::EndMenuBar();
}

void App::draw_layout() {
  AppState& s = state_;
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(vp->WorkPos);
  ImGui::SetNextWindowSize(vp->WorkSize);
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(6, 4));
  ImGui::Begin("vhostscope", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                   ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_MenuBar |
                   ImGuiWindowFlags_NoBringToFrontOnFocus);
  ImGui::PopStyleVar();
  draw_menu();
  draw_filter_bar(s);
  draw_step_bar(s);

  const float fs = ImGui::GetFontSize();
  const float scale = fonts().scale;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float status_h = ImGui::GetFrameHeightWithSpacing() + 2;
  const float split = 6;
  const float timeline_h =
      std::clamp(s.layout.timeline_height * scale, fs * 4, std::max(fs * 4, avail.y * 0.6f));
  const float top_h = std::max(fs * 6, avail.y - timeline_h - status_h - split);
  const float left_w =
      std::clamp(avail.x * s.layout.left_fraction, fs * 12, std::max(fs * 12, avail.x - fs * 16));

  ImGui::BeginChild("left", ImVec2(left_w, top_h), false);
  draw_messages(s);
  ImGui::EndChild();
  ImGui::SameLine(0, 0);
  splitter("##lr", true, split, top_h, &s.layout.left_fraction, 1.0f / std::max(avail.x, 1.0f),
           0.2f, 0.85f);
  ImGui::SameLine(0, 0);
  ImGui::BeginChild("right", ImVec2(0, top_h), false);
  if (ImGui::BeginTabBar("tabs")) {
    for (int t = 0; t < static_cast<int>(Tab::Count); ++t) {
      const Tab tab = static_cast<Tab>(t);
      std::string label = tab_name(tab);
      label[0] = static_cast<char>(label[0] - 'a' + 'A');
      if (tab == Tab::Picture) label = "Ring picture";
      if (tab == Tab::Findings && !s.findings.empty())
        label += " (" + std::to_string(s.findings.size()) + ")";
      label += "###" + std::string(tab_name(tab));
      ImGuiTabItemFlags flags = s.tab_forced && s.tab == tab ? ImGuiTabItemFlags_SetSelected : 0;
      if (ImGui::BeginTabItem(label.c_str(), nullptr, flags)) {
        if (!s.tab_forced) s.tab = tab;
        ImGui::BeginChild("tab content");
        switch (tab) {
          case Tab::Detail: draw_detail(s); break;
          case Tab::Features: draw_features(s); break;
          case Tab::Memory: draw_memory(s); break;
          case Tab::Rings: draw_rings(s); break;
          case Tab::Picture: draw_ring_picture(s); break;
          case Tab::Findings: draw_findings(s); break;
          case Tab::Count: break;
        }
        ImGui::EndChild();
        ImGui::EndTabItem();
      }
    }
    ImGui::EndTabBar();
  }
  s.tab_forced = false;
  ImGui::EndChild();

  float th = s.layout.timeline_height;
  if (splitter("##tb", false, split, avail.x, &th, -1.0f / scale, 60.0f, 2000.0f))
    s.layout.timeline_height = th;
  ImGui::BeginChild("timeline", ImVec2(0, timeline_h), false,
                    ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoScrollbar);
  draw_timeline(s);
  ImGui::EndChild();
  ImGui::Separator();
  draw_status_bar(s);
  ImGui::End();
  s.layout.tab = s.tab;
}

void App::frame() {
  if (had_input(ImGui::GetIO()))
    settle_frames_ = 3;
  else if (settle_frames_ > 0)
    --settle_frames_;
  // Screenshots want the finished picture; everything else (the bench too) works in slices.
  const bool unbounded = state_.headless && !bounded_work_;
  const double work_ms = std::clamp(kFrameTargetMs - last_draw_ms_, kMinWorkMs, kMaxWorkMs);
  const auto t0 = Clock::now();
  // While loading, reading the file takes half the work budget and the indexes the rest, so the
  // views fill in behind the records that have arrived.
  on_pump(state_.ctl.pump(unbounded                ? Controller::kUnbounded
                          : state_.ctl.loading() ? work_ms / 2
                                                 : 0));
  apply_filter();
  update_indexes(unbounded ? 1e9 : std::max(work_ms - ms_since(t0), kMinWorkMs / 2));
  const auto t1 = Clock::now();
  handle_keys();
  follow_session();
  draw_layout();
  draw_dialogs(state_);
  draw_stats_window(state_);
  last_draw_ms_ = ms_since(t1);
}

}  // namespace vhs::gui
