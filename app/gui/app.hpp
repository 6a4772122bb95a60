// One GUI frame: take what the controller has (new records, a loaded store), advance the
// incremental indexes within a time budget, handle navigation keys, and draw the fixed layout
// (messages | tabs, timeline below, status bar) with resizable splitters.
#pragma once

#include <string>

#include "app/gui/app_state.hpp"
#include "app/gui/options.hpp"

namespace vhs::gui {

class App {
 public:
  App(Controller& controller, const Options& options);

  // Builds the whole UI for this frame (between ImGui::NewFrame() and ImGui::Render()).
  void frame();

  // True while indexes or a load still have work, or input just arrived (a click's effect, a
  // tab switch, a scroll to the selection show up a frame later): the main loop should not sleep.
  bool busy() const;
  // The capture is loaded and the message list, timeline and plots have seen every record.
  bool caught_up() const;

  // Self-test hooks.
  AppState& state() { return state_; }
  void force_tab(Tab t);
  // Runs the indexes to completion (no frame budget).
  void finish_indexing();
  // Headless modes work without a frame budget (a screenshot is of the finished views) unless
  // this is set: the bench times frames as a user gets them.
  void set_bounded_work(bool on) { bounded_work_ = on; }
  void set_filter(const std::string& text);
  // Shows or hides ring-state and notify records in the message list (View menu, Ctrl+H).
  void toggle_samples();

 private:
  void on_pump(const PumpResult& r);
  void update_indexes(double budget_ms);
  void apply_filter();
  void handle_keys();
  void follow_session();
  void draw_menu();
  void draw_layout();

  AppState state_;
  uint32_t last_selected_ = view::kNoSelection;
  int settle_frames_ = 0;  // frames still drawn promptly after the last input
  bool bounded_work_ = false;
  double last_draw_ms_ = 0;
  double findings_built_at_ = -1e9;
  double row_cache_cleared_at_ = -1e9;  // ImGui time the row text cache was last cleared  // ImGui time the findings list was last rebuilt  // drawing the last frame took this long (its work excluded)
};

}  // namespace vhs::gui
