// The step bar of a live session (docs/step.md, docs/gui.md): Step / Continue, a breakpoint on the
// selected message's request, the breakpoints set (click one to delete it) and what the relay
// holds. Everything goes through Controller::debug_command (the relay's API), never a socket.
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <chrono>
#include <string>

#include "app/common/step_controls.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {

namespace {

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

bool button(const char* label, bool enabled) {
  if (!enabled) ImGui::BeginDisabled();
  bool clicked = ImGui::SmallButton(label);
  if (!enabled) ImGui::EndDisabled();
  return clicked && enabled;
}

}  // namespace

void handle_step_keys(AppState& s) {
  if (s.ctl.mode() != Mode::Live || !s.ctl.live_running()) return;
  auto send = [&s](std::string_view line) { return s.ctl.debug_command(line); };
  view::StepControls& st = s.step;
  const std::string target = view::break_target(s.store(), s.selected);
  const bool shift = ImGui::GetIO().KeyShift;
  if (ImGui::IsKeyPressed(GLFW_KEY_F10, false) && st.can_step()) st.step(send);
  if (ImGui::IsKeyPressed(GLFW_KEY_F5, false)) st.resume(send);
  if (ImGui::IsKeyPressed(GLFW_KEY_F9, false)) {
    if (shift && st.has_break(target)) st.delete_break(send, target);
    if (!shift && st.can_add_break(target)) st.add_break(send, target);
  }
}

void draw_step_bar(AppState& s) {
  if (s.ctl.mode() != Mode::Live || !s.ctl.live_running()) return;
  auto send = [&s](std::string_view line) { return s.ctl.debug_command(line); };
  view::StepControls& st = s.step;
  st.refresh(send, now_ms());
  const std::string target = view::break_target(s.store(), s.selected);

  if (button("Step (F10)", st.can_step())) st.step(send);
  ImGui::SameLine();
  if (button("Continue (F5)", true)) st.resume(send);
  ImGui::SameLine();
  const std::string add = target.empty() ? "Break on … (F9)" : "Break on " + target + " (F9)";
  if (button((add + "###break").c_str(), st.can_add_break(target))) st.add_break(send, target);
  if (target.empty() && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("select a message: the breakpoint is on its request name");
  ImGui::SameLine();
  const std::string del =
      "Delete " + (st.has_break(target) ? target : std::string("breakpoint")) + " (Shift+F9)";
  if (button((del + "###delete").c_str(), st.has_break(target))) st.delete_break(send, target);

  ImGui::SameLine();
  text_colored(kDimText, " breakpoints:");
  if (st.status().breakpoints.empty()) {
    ImGui::SameLine();
    text_colored(kDimText, "none");
  }
  for (const std::string& b : st.status().breakpoints) {
    ImGui::SameLine();
    // Clicking a breakpoint deletes it (also finding and 'any' breakpoints, which no message
    // selects).
    if (ImGui::SmallButton((b + " ×###bp" + b).c_str())) st.delete_break(send, b);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("delete this breakpoint");
  }
  if (!st.status().injections.empty()) {
    ImGui::SameLine();
    text_colored(severity_color(Severity::Warning), " injecting: ");
    for (const std::string& in : st.status().injections) {
      ImGui::SameLine();
      text_colored(severity_color(Severity::Warning), in.size() > 48 ? in.substr(0, 47) + "…" : in);
    }
  }
  if (!st.last_answer().empty() && st.last_answer() != "ok") {
    ImGui::SameLine();
    text_colored(severity_color(Severity::Error), " " + st.last_answer());
  }

  if (!st.status_error().empty()) {
    text_colored(severity_color(Severity::Error), "step control: " + st.status_error());
  } else if (st.status().held.empty()) {
    text_colored(kOkText, "● running: nothing held");
  } else {
    for (const std::string& h : st.status().held)
      text_colored(severity_color(Severity::Warning), "■ held: " + h);
  }
  ImGui::Separator();
}

}  // namespace vhs::gui
