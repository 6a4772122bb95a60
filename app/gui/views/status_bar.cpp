// Status bar: where the data comes from (capture file, loading, live relay and recording),
// message and session counts, the current session, replies still pending, and the last error.
#include <algorithm>
#include <string>

#include "app/common/text_format.hpp"
#include "app/common/view_text.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {

void draw_status_bar(AppState& s) {
  const Store& st = s.store();
  const Controller& c = s.ctl;
  auto sep = [] {
    ImGui::SameLine();
    text_colored(kDimText, " │ ");
    ImGui::SameLine();
  };
  if (c.loading()) {
    // The views show what has arrived while the rest is read (a slice per frame).
    std::string text =
        "loading " + c.loading_path() + " … " + std::to_string(c.load_progress()) + " records";
    if (c.load_fraction() > 0)
      text += " (" + std::to_string(static_cast<int>(c.load_fraction() * 100)) + " %)";
    text_colored(severity_color(Severity::Info), text);
  } else if (c.mode() == Mode::Live) {
    const RelayStats rs = c.live_stats();
    text_colored(c.live_running() ? kOkText : kDimText,
                 c.live_running() ? "● live" : "○ live (stopped)");
    ImGui::SameLine();
    text_unformatted(c.source());
    if (!c.recording_path().empty()) {
      sep();
      text_colored(severity_color(Severity::Error), "● rec " + c.recording_path());
    }
    sep();
    text_unformatted(view::count_of(rs.sessions, "session") + " relayed");
    if (c.dropped()) {
      sep();
      text_colored(severity_color(Severity::Warning),
                   std::to_string(c.dropped()) + " records dropped (GUI behind)");
    }
  } else if (c.mode() == Mode::Capture) {
    text_unformatted("capture " + c.source());
    // Loaded, but the timeline and plots still index it (a slice per frame).
    const size_t indexed = std::min(s.timeline.indexed(), s.plots.indexed());
    if (indexed < st.size()) {
      sep();
      text_colored(severity_color(Severity::Info),
                   "indexing… " + std::to_string(indexed * 100 / st.size()) + " %");
    }
  } else {
    text_colored(kDimText, "no capture open (File ▸ Open)");
  }
  sep();
  text_unformatted(view::count_of(st.size(), "record"));
  sep();
  const auto& sessions = st.sessions();
  text_unformatted(view::count_of(sessions.size(), "session"));
  if (!sessions.empty()) {
    const StoreSession& cur = sessions[std::min(s.session_index, sessions.size() - 1)];
    sep();
    text_unformatted("session " + std::to_string(cur.id) + " (" +
                     std::string(device_kind_name(cur.state().device)) + ")");
  }
  size_t pending = 0;
  for (const StoreSession& ss : sessions)
    for (const PendingRequest& p : ss.analyser.pending())
      pending += p.expects != ReplyExpectation::None;
  s.stats.pending = pending;
  sep();
  text_colored(pending ? severity_color(Severity::Warning) : kDimText,
               view::count_of(pending, "reply", "replies") + " pending");
  if (!st.flagged().empty()) {
    sep();
    text_colored(severity_color(Severity::Error), std::to_string(st.flagged().size()) + " flagged");
  }
  const std::string err = c.last_error(), warn = c.last_warning();
  if (!err.empty()) {
    sep();
    text_colored(severity_color(Severity::Error), err);
  } else if (!warn.empty()) {
    sep();
    text_colored(severity_color(Severity::Warning), warn);
  }
}

}  // namespace vhs::gui
