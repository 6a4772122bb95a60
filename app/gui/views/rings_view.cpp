// Per-queue state of the current session (size, addresses, base, kick/call/err, started/enabled,
// request counts) at the latest message or, with the slider, as it was at an earlier one (a
// budgeted replay of the session). Below it the ring snapshots (RingState records) recorded up to
// that point: avail/used indices and in-flight buffers per queue.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"

namespace vhs::gui {
namespace {

constexpr size_t kReplayBudget = 50000;  // messages replayed per frame while the slider moves

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

// The header row, each header explaining its column on hover.
template <size_t N>
void column_headers_with_tips(const char* const (&columns)[N][2]) {
  ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
  for (size_t k = 0; k < N; ++k) {
    if (!ImGui::TableSetColumnIndex(static_cast<int>(k))) continue;
    ImGui::TableHeader(columns[k][0]);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", columns[k][1]);
  }
}

void notifier(AppState& s, const NotifierSlot& n, const char* id) {
  switch (n.state) {
    case NotifierSlot::State::Unset: text_colored(kDimText, "-"); break;
    case NotifierSlot::State::NoFd: text_colored(severity_color(Severity::Warning), "nofd"); break;
    case NotifierSlot::State::Fd: {
      ImGui::PushID(id);
      text_unformatted(format_fd(n.fd));
      if (n.set_by != kNoMessage && n.set_by < s.store().size()) {
        ImGui::SameLine();
        entry_link(s, static_cast<uint32_t>(n.set_by));
      }
      ImGui::PopID();
      break;
    }
  }
}

void vring_table(AppState& s, const SessionState& st) {
  ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                          ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX |
                          ImGuiTableFlags_Resizable;
  const float h = std::min(
      ImGui::GetContentRegionAvail().y * 0.6f,
      ImGui::GetTextLineHeightWithSpacing() * static_cast<float>(st.vrings.size() + 2) + 8);
  if (!ImGui::BeginTable("vrings", 11, flags, ImVec2(0, h))) return;
  static const char* const kColumns[][2] = {
      {"queue", "vring index"},
      {"state",
       "started: SET_VRING_KICK, until GET_VRING_BASE or a reset stops it; enabled: "
       "SET_VRING_ENABLE 1 (or at once without PROTOCOL_FEATURES)"},
      {"size", "SET_VRING_NUM: descriptors in the ring"},
      {"base",
       "SET_VRING_BASE: where the back-end starts; (read N): what the last GET_VRING_BASE "
       "returned"},
      {"desc", "descriptor table address as sent (front-end virtual unless IOTLB)"},
      {"avail", "available (driver) ring address as sent"},
      {"used", "used (device) ring address as sent"},
      {"kick", "SET_VRING_KICK: the eventfd the front-end signals; nofd: the back-end polls"},
      {"call", "SET_VRING_CALL: the eventfd the back-end signals; nofd: no interrupts"},
      {"err", "SET_VRING_ERR: the eventfd the back-end signals on errors"},
      {"requests", "how often each request named this queue"},
  };
  for (const auto& c : kColumns) ImGui::TableSetupColumn(c[0]);
  ImGui::TableSetupScrollFreeze(1, 1);
  column_headers_with_tips(kColumns);
  ImGui::PushFont(fonts().mono);
  for (const VringState& v : st.vrings) {
    ImGui::TableNextRow();
    ImGui::PushID(static_cast<int>(v.index));
    ImGui::TableNextColumn();
    text_unformatted(std::to_string(v.index));
    ImGui::TableNextColumn();
    const char* state = v.started ? (v.enabled ? "running" : "started, disabled")
                                  : (v.enabled ? "stopped, enabled" : "stopped");
    text_colored(v.started && v.enabled ? kOkText
                 : v.started            ? severity_color(Severity::Warning)
                                        : kDimText,
                 state);
    ImGui::TableNextColumn();
    text_unformatted(v.num ? std::to_string(*v.num) : "-");
    ImGui::TableNextColumn();
    std::string base = v.base ? std::to_string(*v.base) : "-";
    if (v.last_base) base += " (read " + std::to_string(*v.last_base) + ")";
    text_unformatted(base);
    for (int k = 0; k < 3; ++k) {
      ImGui::TableNextColumn();
      if (v.addr)
        text_unformatted(hex(k == 0   ? v.addr->desc_user_addr
                             : k == 1 ? v.addr->avail_user_addr
                                      : v.addr->used_user_addr));
      else
        text_colored(kDimText, "-");
    }
    ImGui::TableNextColumn();
    notifier(s, v.kick, "kick");
    ImGui::TableNextColumn();
    notifier(s, v.call, "call");
    ImGui::TableNextColumn();
    notifier(s, v.err, "err");
    ImGui::TableNextColumn();
    std::string counts;
    for (const RequestCount& c : v.counts) {
      if (!counts.empty()) counts += "  ";
      counts += std::string(c.info ? c.info->name : "?") + "×" + std::to_string(c.count);
    }
    text_colored(kDimText, counts);
    ImGui::PopID();
  }
  ImGui::PopFont();
  ImGui::EndTable();
}

// Latest ring snapshot per queue among the session's RingState records up to `until`. Counting is
// cheap (entry fields); only the newest records are decoded, walking back until every queue has
// one (or a bounded number were decoded), so a capture with 100k ring samples stays smooth.
size_t ring_records(AppState& s, size_t session, uint32_t until, size_t queues) {
  constexpr size_t kMaxDecoded = 4096;
  const Store& st = s.store();
  std::map<uint32_t, std::pair<uint32_t, RingSnapshot>> latest;
  const auto end = std::upper_bound(s.ring_records.begin(), s.ring_records.end(), until);
  size_t count = 0;
  for (auto it = s.ring_records.begin(); it != end; ++it)
    count += st.entry(*it).session_index == session;
  size_t decoded = 0;
  for (auto it = end; it != s.ring_records.begin() && latest.size() < std::max<size_t>(queues, 1) &&
                      decoded < kMaxDecoded;) {
    --it;
    if (st.entry(*it).session_index != session) continue;
    ++decoded;
    if (auto snap = decode_ring_snapshot(st.bytes(*it)); snap && !latest.count(snap->queue))
      latest[snap->queue] = {*it, std::move(*snap)};
  }
  if (count == 0) {
    ImGui::PushStyleColor(ImGuiCol_Text, kDimText);
    ImGui::TextWrapped(
        "No ring-state records in this session up to here. Ring indices and in-flight buffers "
        "are sampled from guest memory by the recorder every 50 ms unless it ran with "
        "`--sample-interval 0` (docs/ring-state-format.md).");
    ImGui::PopStyleColor();
    return 0;
  }
  ImGui::Text("%zu ring snapshot%s up to here; latest per queue:", count, count == 1 ? "" : "s");
  s.stats.ring_snapshot_rows = latest.size();
  // Scrolls sideways rather than lose columns off a narrow pane's edge.
  const float table_h =
      ImGui::GetTextLineHeightWithSpacing() * static_cast<float>(latest.size() + 1) +
      ImGui::GetStyle().ScrollbarSize + 8;
  if (!ImGui::BeginTable("snapshots", 8,
                         ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                             ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX |
                             ImGuiTableFlags_Resizable,
                         ImVec2(0, table_h)))
    return count;
  static const char* const kColumns[][2] = {
      {"queue", "vring index"},
      {"record", "the RingState record this row comes from"},
      {"type", "split or packed virtqueue"},
      {"size", "descriptors in the ring"},
      {"avail idx", "the driver's avail->idx: buffers made available so far (wraps at 65536)"},
      {"used idx", "the device's used->idx: buffers completed so far (wraps at 65536)"},
      {"in flight",
       "available but not yet used (avail idx - used idx); (N not fetched): of those, not yet read "
       "by the device"},
      {"oldest buffer",
       "the oldest buffer still in flight: its descriptor chain (hover a row for the whole "
       "snapshot)"},
  };
  for (const auto& c : kColumns) ImGui::TableSetupColumn(c[0]);
  ImGui::TableSetupScrollFreeze(1, 1);
  column_headers_with_tips(kColumns);
  ImGui::PushFont(fonts().mono);
  for (const auto& [queue, rec] : latest) {
    const RingSnapshot& r = rec.second;
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    text_unformatted(std::to_string(queue));
    ImGui::TableNextColumn();
    ImGui::PushID(static_cast<int>(rec.first));
    entry_link(s, rec.first);
    ImGui::PopID();
    ImGui::TableNextColumn();
    text_unformatted(ring_type_name(r.type));
    ImGui::TableNextColumn();
    text_unformatted(std::to_string(r.size));
    ImGui::TableNextColumn();
    text_unformatted(r.indices_ok ? std::to_string(r.avail_idx) : "?");
    ImGui::TableNextColumn();
    text_unformatted(r.indices_ok ? std::to_string(r.used_idx) : "?");
    ImGui::TableNextColumn();
    std::string inflight = std::to_string(r.inflight);
    if (r.pending) inflight += " (" + std::to_string(*r.pending) + " not fetched)";
    text_colored(
        r.faults.empty() ? ImGui::GetColorU32(ImGuiCol_Text) : severity_color(Severity::Error),
        inflight);
    ImGui::TableNextColumn();
    text_unformatted(r.oldest ? describe_buffer(*r.oldest) : std::string("-"));
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", describe_ring_snapshot(r).c_str());
  }
  ImGui::PopFont();
  ImGui::EndTable();
  return count;
}

}  // namespace

void draw_rings(AppState& s) {
  s.stats.ring_queues = s.stats.ring_records = s.stats.ring_snapshot_rows = 0;
  const Store& st = s.store();
  const auto& sessions = st.sessions();
  if (sessions.empty()) {
    text_colored(kDimText, "No session yet.");
    return;
  }
  session_picker(s);
  const size_t si = std::min(s.session_index, sessions.size() - 1);
  const StoreSession& session = sessions[si];
  if (session.first_entry == kNoEntry) return;

  // Time slider over the session's records.
  ImGui::Checkbox("latest", &s.rings_follow);
  ImGui::SameLine();
  int at = static_cast<int>(s.rings_follow
                                ? session.last_entry
                                : std::clamp(s.rings_at, session.first_entry, session.last_entry));
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - ImGui::GetFontSize() * 16);
  const std::string label = "at " + record_number(static_cast<uint32_t>(at)) + "  " +
                            entry_time(st, static_cast<size_t>(at)) + " s";
  if (ImGui::SliderInt("##at", &at, static_cast<int>(session.first_entry),
                       static_cast<int>(session.last_entry), label.c_str())) {
    s.rings_follow = false;
    s.rings_at = static_cast<uint32_t>(at);
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("at selection") && s.selected != view::kNoSelection) {
    s.rings_follow = false;
    s.rings_at = s.selected;
  }

  const SessionState* state = &session.state();
  uint32_t until = session.last_entry;
  if (!s.rings_follow) {
    until = std::clamp(s.rings_at, session.first_entry, session.last_entry);
    const bool done = s.replay.update(st, si, until, kReplayBudget);
    state = &s.replay.state();
    if (!done) {
      ImGui::SameLine();
      text_colored(kDimText, "replaying…");
    }
  }
  s.stats.ring_queues = state->vrings.size();
  ImGui::BeginChild("rings scroll");
  if (state->vrings.empty())
    text_colored(kDimText, "No queue set up yet at this point.");
  else
    vring_table(s, *state);
  ImGui::Spacing();
  s.stats.ring_records = ring_records(s, si, until, state->vrings.size());
  ImGui::EndChild();
}

}  // namespace vhs::gui
