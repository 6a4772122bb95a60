// The ring picture: each queue of the current session at one recorded ring state, drawn as two
// concentric rings (outer: the descriptor table by index; inner: the ring positions the indexes
// run over) with the avail and used indexes as hands, and the in-flight chains listed beside it
// with their device detail and how long they have been in flight. A scrubber moves through the
// session's ring states; it follows the selected row (and so the stepper and a live tail).
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <string>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "app/common/view_ring_picture.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

constexpr float kPi = 3.14159265f;
constexpr size_t kMaxSegments = 512;  // cells drawn per ring; larger rings are folded

ImU32 cell_color(view::CellState c) {
  switch (c) {
    case view::CellState::Free: return IM_COL32(72, 74, 84, 255);
    case view::CellState::Used: return IM_COL32(110, 200, 120, 255);
    case view::CellState::Available: return IM_COL32(90, 150, 235, 255);
    case view::CellState::InFlight: return IM_COL32(245, 160, 40, 255);
  }
  return IM_COL32(255, 0, 255, 255);
}
constexpr ImU32 kAvailHand = IM_COL32(120, 175, 255, 255);
constexpr ImU32 kUsedHand = IM_COL32(130, 225, 140, 255);

uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

float angle_of(float position, size_t cells) {
  return -kPi / 2 + 2 * kPi * position / static_cast<float>(std::max<size_t>(cells, 1));
}

// One ring of cells, clockwise from the top; cell 0 starts at 12 o'clock.
void draw_cells(ImDrawList* dl, ImVec2 center, float radius, float width,
                const std::vector<view::CellState>& cells) {
  const auto segments = view::fold_cells(cells, kMaxSegments);
  const size_t n = segments.size();
  if (n == 0) return;
  const float gap = n <= 256 ? 0.18f : 0.0f;  // small rings show each cell apart
  for (size_t k = 0; k < n; ++k) {
    const float a0 = angle_of(static_cast<float>(k) + gap / 2, n);
    const float a1 = angle_of(static_cast<float>(k + 1) - gap / 2, n);
    dl->PathArcTo(center, radius, a0, a1, std::max(2, static_cast<int>(64 / n) + 1));
    dl->PathStroke(cell_color(segments[k]), 0, width);
  }
}

void draw_hand(ImDrawList* dl, ImVec2 center, float length, uint32_t position, size_t cells,
               ImU32 color, const std::string& label, bool label_left) {
  const float a = angle_of(static_cast<float>(position) + 0.5f, cells);
  const ImVec2 tip(center.x + std::cos(a) * length, center.y + std::sin(a) * length);
  dl->AddLine(center, tip, color, 2.5f);
  dl->AddCircleFilled(tip, 3.5f, color);
  const ImVec2 size = ImGui::CalcTextSize(label.c_str());
  const float dx = std::cos(a) >= 0 ? 6.0f : -size.x - 6.0f;
  ImVec2 at(tip.x + dx, tip.y - size.y / 2 + (label_left ? -size.y * 0.6f : size.y * 0.6f));
  dl->AddText(at, color, label.c_str());
}

void legend_item(view::CellState c) {
  const float h = ImGui::GetTextLineHeight();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(p.x, p.y + h * 0.15f),
                                            ImVec2(p.x + h * 0.7f, p.y + h * 0.85f), cell_color(c));
  ImGui::Dummy(ImVec2(h * 0.8f, h));
  ImGui::SameLine();
  text_unformatted(view::cell_state_name(c));
}

// The scrubber: the session's ring states, one step each, following the selection when on.
void scrubber(AppState& s, AppState::RingPictureUi& ui) {
  const Store& st = s.store();
  const int last = static_cast<int>(ui.states.size()) - 1;
  ImGui::Checkbox("follow selection", &ui.follow);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Show the ring state at the selected row (the newest while the list follows a live "
        "session); off: the slider decides");
  ImGui::SameLine();
  bool moved = false;
  if (ImGui::ArrowButton("##prev", ImGuiDir_Left) && ui.position > 0) --ui.position, moved = true;
  ImGui::SameLine();
  if (ImGui::ArrowButton("##next", ImGuiDir_Right) && static_cast<int>(ui.position) < last)
    ++ui.position, moved = true;
  ImGui::SameLine();
  int at = static_cast<int>(ui.position);
  const uint32_t entry = ui.states[ui.position];
  const std::string label = std::to_string(ui.position + 1) + "/" +
                            std::to_string(ui.states.size()) + "  " + record_number(entry) + "  " +
                            entry_time(st, entry) + " s";
  ImGui::SetNextItemWidth(std::max(ImGui::GetFontSize() * 8,
                                   ImGui::GetContentRegionAvail().x - ImGui::GetFontSize() * 6));
  if (ImGui::SliderInt("##state", &at, 0, std::max(last, 0), label.c_str())) {
    ui.position = static_cast<size_t>(std::clamp(at, 0, std::max(last, 0)));
    moved = true;
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("select")) s.select(entry);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("select this ring-state record in the list");
  if (moved) ui.follow = false;
}

// How long a chain has been in flight, as of `reference_ns`.
std::string age_text(const view::InFlightChain& c, uint64_t reference_ns) {
  const uint64_t age = reference_ns > c.since_ns ? reference_ns - c.since_ns : 0;
  if (age == 0 && !c.at_least) return "new here";  // first listed by the ring state shown
  return (c.at_least ? ">= " : "") + format_duration(age);
}

void chains_table(AppState& s, const view::QueuePicture& q, uint64_t reference_ns) {
  if (q.chains.empty()) {
    text_colored(kDimText,
                 q.snapshot.inflight ? "in flight, heads not recorded" : "nothing in flight");
    return;
  }
  const ImGuiTableFlags flags =
      ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
  if (!ImGui::BeginTable("chains", 4, flags)) return;
  ImGui::TableSetupColumn("head");
  ImGui::TableSetupColumn("state");
  ImGui::TableSetupColumn("in flight for");
  ImGui::TableSetupColumn("request", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableHeadersRow();
  ImGui::PushFont(fonts().mono);
  for (const view::InFlightChain& c : q.chains) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    text_unformatted(std::to_string(c.head));
    ImGui::TableNextColumn();
    const auto state = c.fetched ? view::CellState::InFlight : view::CellState::Available;
    text_colored(cell_color(state), view::cell_state_name(state));
    ImGui::TableNextColumn();
    text_unformatted(age_text(c, reference_ns));
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip(c.at_least ? "already in flight in the first ring state looked at"
                                   : "since the first of the consecutive ring states listing it, "
                                     "up to the selected row (the session's end at the newest "
                                     "ring state)");
    ImGui::TableNextColumn();
    text_or_tip(c.detail.empty() ? std::string("(no request bytes recorded)") : c.detail);
  }
  ImGui::PopFont();
  ImGui::EndTable();
  (void)s;
}

void queue_picture(AppState& s, const view::QueuePicture& q, uint64_t reference_ns) {
  const RingSnapshot& r = q.snapshot;
  ImGui::PushID(static_cast<int>(q.queue));
  std::string head = "queue " + std::to_string(q.queue) + "  " +
                     std::string(ring_type_name(r.type)) + " size " + std::to_string(r.size);
  if (r.indices_ok)
    head += "  avail " + std::to_string(r.avail_idx) + "  used " + std::to_string(r.used_idx);
  head += "  " + std::to_string(r.inflight) + " in flight";
  if (r.pending) head += " (" + std::to_string(*r.pending) + " not fetched)";
  entry_link(s, q.entry);
  ImGui::SameLine();
  ImGui::PushFont(fonts().mono);
  text_or_tip(head);
  ImGui::PopFont();
  for (const RingFault& f : r.faults) {
    (void)f;
    text_colored(severity_color(Severity::Error), std::to_string(r.faults.size()) +
                                                      " fault(s) in this ring state (hover the "
                                                      "Rings tab's row for the whole snapshot)");
    break;
  }

  const float fs = ImGui::GetFontSize();
  const float avail_w = ImGui::GetContentRegionAvail().x;
  const float diameter = std::clamp(avail_w * 0.42f, fs * 10, fs * 20);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  const ImVec2 center(origin.x + diameter / 2 + fs, origin.y + diameter / 2 + fs * 0.5f);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float outer = diameter / 2;
  const float ring_w = std::max(6.0f, diameter * 0.07f);
  if (q.descriptors.empty()) {
    dl->AddCircle(center, outer - ring_w / 2, cell_color(view::CellState::Free), 64, 1.0f);
    const char* why = r.indices_ok ? "no valid size" : "indexes not readable";
    const ImVec2 ts = ImGui::CalcTextSize(why);
    dl->AddText(ImVec2(center.x - ts.x / 2, center.y - ts.y / 2), kDimText, why);
  } else {
    draw_cells(dl, center, outer - ring_w / 2, ring_w, q.descriptors);
    draw_cells(dl, center, outer - ring_w * 2.2f, ring_w, q.positions);
    const float hand = outer - ring_w * 3.4f;
    // The label of the hand that leads (avail) sits above, the other below, so they never overlap.
    draw_hand(dl, center, hand, q.used_hand, q.positions.size(), kUsedHand,
              "used " + std::to_string(r.used_idx), false);
    draw_hand(dl, center, hand, q.avail_hand, q.positions.size(), kAvailHand,
              "avail " + std::to_string(r.avail_idx), true);
    dl->AddCircleFilled(center, 3.0f, IM_COL32(220, 220, 220, 255));
    s.stats.picture_hands += 2;
    s.stats.picture_in_flight_cells += static_cast<size_t>(
        std::count(q.descriptors.begin(), q.descriptors.end(), view::CellState::InFlight));
  }
  ImGui::Dummy(ImVec2(diameter + fs * 2, diameter + fs));
  if (ImGui::IsItemHovered() && !q.descriptors.empty()) {
    // Which cell is under the mouse: its index and state, on either ring.
    const ImVec2 m = ImGui::GetIO().MousePos;
    const float dx = m.x - center.x, dy = m.y - center.y;
    const float dist = std::sqrt(dx * dx + dy * dy);
    float a = std::atan2(dy, dx) + kPi / 2;
    if (a < 0) a += 2 * kPi;
    const size_t n = q.descriptors.size();
    const size_t k = std::min(n - 1, static_cast<size_t>(a / (2 * kPi) * static_cast<float>(n)));
    if (dist > outer - ring_w && dist <= outer)
      ImGui::SetTooltip("descriptor %zu: %s", k,
                        std::string(view::cell_state_name(q.descriptors[k])).c_str());
    else if (dist > outer - ring_w * 2.7f && dist <= outer - ring_w * 1.7f)
      ImGui::SetTooltip("ring position %zu: %s", k,
                        std::string(view::cell_state_name(q.positions[k])).c_str());
  }

  // Beside the picture (below it when the pane is narrow): legend and in-flight chains.
  // Room for the chains' request text (about 36 characters) beside the picture, else below it.
  const bool beside = avail_w > diameter + fs * 38;
  if (beside) {
    ImGui::SetCursorScreenPos(ImVec2(origin.x + diameter + fs * 3, origin.y));
    ImGui::BeginGroup();
  }
  ImGui::PushTextWrapPos(0.0f);  // the notes wrap at the pane's edge
  text_colored(kDimText, "outer: descriptor table (a chain colours its head)");
  text_colored(kDimText, "inner: ring positions; hands: avail and used index");
  for (auto c : {view::CellState::Free, view::CellState::Available, view::CellState::InFlight,
                 view::CellState::Used}) {
    legend_item(c);
    ImGui::SameLine(0, fs);
  }
  ImGui::NewLine();
  if (q.used_unconsumed)
    text_colored(kDimText, std::to_string(*q.used_unconsumed) +
                               " used, not yet consumed (used idx - the driver's used_event)");
  else if (r.type == RingType::Split)
    text_colored(kDimText, "used, not yet consumed: unknown without EVENT_IDX");
  if (q.unlisted)
    text_colored(kDimText,
                 std::to_string(q.unlisted) + " more in flight, not listed by the record");
  if (r.heads_approximate)
    text_colored(severity_color(Severity::Warning), "heads approximate (completed out of order)");
  ImGui::PopTextWrapPos();
  chains_table(s, q, reference_ns);
  s.stats.picture_chains += q.chains.size();
  if (beside) {
    ImGui::EndGroup();
    ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + diameter + fs * 1.5f));
    ImGui::Dummy(ImVec2(1, 1));
  }
  ImGui::Separator();
  ImGui::PopID();
}

}  // namespace

void draw_ring_picture(AppState& s) {
  auto& ui = s.ring_picture;
  s.stats.picture_queues = s.stats.picture_states = s.stats.picture_position = 0;
  s.stats.picture_chains = s.stats.picture_in_flight_cells = s.stats.picture_hands = 0;
  const Store& st = s.store();
  const auto& sessions = st.sessions();
  if (sessions.empty()) {
    text_colored(kDimText, "No session yet.");
    return;
  }
  session_picker(s);
  const size_t si = std::min(s.session_index, sessions.size() - 1);

  // The session's ring states, extended as records arrive.
  if (ui.session != si || ui.ring_records_seen > s.ring_records.size()) {
    ui.session = si;
    ui.ring_records_seen = 0;
    ui.states.clear();
    ui.built_position = SIZE_MAX;
    ui.selected_seen = view::kNoSelection;
  }
  if (ui.ring_records_seen < s.ring_records.size()) {
    const auto added = view::session_ring_states(
        st, si, std::span<const uint32_t>(s.ring_records).subspan(ui.ring_records_seen));
    ui.states.insert(ui.states.end(), added.begin(), added.end());
    ui.ring_records_seen = s.ring_records.size();
    if (!added.empty()) ui.built_position = SIZE_MAX;  // newer states: ages may change
  }
  if (ui.states.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, kDimText);
    ImGui::TextWrapped(
        "No ring-state records in this session. The recorder samples ring indexes and in-flight "
        "buffers from guest memory every 50 ms unless it ran with `--sample-interval 0` "
        "(docs/ring-state-format.md).");
    ImGui::PopStyleColor();
    return;
  }

  // Following: the selected row's ring state, or the newest while the list follows the tail.
  const bool at_tail =
      s.selected == view::kNoSelection || (s.ctl.mode() == Mode::Live && s.follow_tail);
  if (ui.follow)
    ui.position = at_tail ? ui.states.size() - 1 : view::ring_state_at(ui.states, s.selected);
  ui.position = std::min(ui.position, ui.states.size() - 1);
  scrubber(s, ui);
  if (ui.built_position != ui.position) {
    ui.picture = view::build_ring_picture(st, si, ui.states, ui.position);
    ui.built_position = ui.position;
  }

  // Ages are counted to the end of the session (now, live) at its newest ring state: nothing later
  // says the chains completed. At an earlier state, to the selected row when following it, else
  // to the state itself.
  uint64_t reference_ns = ui.picture.time_ns;
  if (ui.position + 1 == ui.states.size())
    reference_ns = std::max(reference_ns, s.ctl.live_running()
                                              ? realtime_ns()
                                              : st.entry(sessions[si].last_entry).timestamp_ns);
  else if (ui.follow && s.selected < st.size())
    reference_ns = std::max(reference_ns, st.entry(s.selected).timestamp_ns);
  s.stats.picture_states = ui.states.size();
  s.stats.picture_position = ui.position;
  s.stats.picture_queues = ui.picture.queues.size();

  ImGui::BeginChild("picture scroll");
  for (const view::QueuePicture& q : ui.picture.queues) queue_picture(s, q, reference_ns);
  ImGui::EndChild();
}

}  // namespace vhs::gui
