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

  // Self-test hooks.
  AppState& state() { return state_; }
  void force_tab(Tab t);
  // Runs the indexes to completion (no frame budget).
  void finish_indexing();
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
};

}  // namespace vhs::gui
