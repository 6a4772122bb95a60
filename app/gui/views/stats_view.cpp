// View > Statistics: the numbers of `vhostscope stats` (per request kind counts and reply latency
// percentiles, per queue notification counts and completion rates, findings by kind), computed by
// the same compute_stats and shown through the same table cells (app/common/view_stats).
#include <imgui.h>

#include <algorithm>
#include <string>

#include "app/common/stats_format.hpp"
#include "app/common/view_stats.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

constexpr double kLiveRecomputeSeconds = 1.0;  // a live store grows every frame

void stats_table(const char* id, const view::StatsTable& t) {
  if (t.rows.empty()) return;
  // No scrolling of its own: the table is as tall as its rows and the window scrolls (sideways
  // too, when narrower than the columns).
  const ImGuiTableFlags flags =
      ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
  const bool headers = !t.columns.front().title.empty();
  if (!ImGui::BeginTable(id, static_cast<int>(t.columns.size()), flags)) return;
  for (const view::StatsColumn& c : t.columns)
    ImGui::TableSetupColumn(c.title.empty() ? c.tip.data() : c.title.data(),
                            ImGuiTableColumnFlags_None);
  if (headers) {
    ImGui::TableNextRow(ImGuiTableRowFlags_Headers);
    for (size_t k = 0; k < t.columns.size(); ++k) {
      if (!ImGui::TableSetColumnIndex(static_cast<int>(k))) continue;
      ImGui::TableHeader(std::string(t.columns[k].title).c_str());
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", std::string(t.columns[k].tip).c_str());
    }
  }
  ImGui::PushFont(fonts().mono);
  for (const auto& row : t.rows) {
    ImGui::TableNextRow();
    for (size_t k = 0; k < t.columns.size() && k < row.size(); ++k) {
      ImGui::TableNextColumn();
      if (t.columns[k].right) {  // numbers line up on their last digit
        const float w = ImGui::CalcTextSize(row[k].c_str()).x;
        ImGui::SetCursorPosX(ImGui::GetCursorPosX() +
                             std::max(0.0f, ImGui::GetContentRegionAvail().x - w));
      }
      text_unformatted(row[k]);
    }
  }
  ImGui::PopFont();
  ImGui::EndTable();
}

void scope_section(AppState& s, const ScopeStats& scope, bool open) {
  const std::string title = view::scope_title(scope);
  if (!ImGui::CollapsingHeader(title.c_str(), open ? ImGuiTreeNodeFlags_DefaultOpen : 0)) return;
  ImGui::PushID(title.c_str());
  const auto requests = view::request_table(scope);
  const auto queues = view::queue_table(scope);
  const auto findings = view::finding_table(scope);
  stats_table("requests", requests);
  if (!queues.rows.empty()) {
    stats_table("queues", queues);
    text_colored(kDimText, view::kInFlightNote);
  }
  if (!findings.rows.empty()) {
    text_unformatted("findings:");
    stats_table("findings", findings);
  }
  if (!scope.session) {  // the overall scope is what the self-test reports
    s.stats.stats_requests = requests.rows.size();
    s.stats.stats_queues = queues.rows.size();
    s.stats.stats_findings = findings.rows.size();
  }
  ImGui::PopID();
}

}  // namespace

void draw_stats_window(AppState& s) {
  if (!s.show_stats) return;
  const Store& st = s.store();
  const double now = ImGui::GetTime();
  const bool grew = s.capture_stats_records != st.size();
  if (grew && (s.capture_stats_records == SIZE_MAX || !s.ctl.live_running() ||
               now - s.capture_stats_time >= kLiveRecomputeSeconds)) {
    s.capture_stats = compute_stats(st);
    s.capture_stats_records = st.size();
    s.capture_stats_time = now;
  }
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowSize(ImVec2(vp->WorkSize.x * 0.8f, vp->WorkSize.y * 0.85f),
                           s.headless ? ImGuiCond_Always : ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowPos(
      ImVec2(vp->WorkPos.x + vp->WorkSize.x * 0.5f, vp->WorkPos.y + vp->WorkSize.y * 0.5f),
      s.headless ? ImGuiCond_Always : ImGuiCond_FirstUseEver, ImVec2(0.5f, 0.5f));
  if (!ImGui::Begin("Statistics", &s.show_stats, ImGuiWindowFlags_HorizontalScrollbar)) {
    ImGui::End();
    return;
  }
  text_colored(kDimText, "the numbers of `vhostscope stats` over every record loaded");
  const CaptureStats& cs = s.capture_stats;
  // One session: its section is the overall one, shown once.
  if (cs.sessions.size() > 1)
    for (const ScopeStats& scope : cs.sessions) scope_section(s, scope, false);
  scope_section(s, cs.overall, true);
  ImGui::End();
}

}  // namespace vhs::gui
