// Feature negotiation of the current session as two matrices (virtio/vhost bits, vhost-user
// protocol bits): every named bit, what the back-end offered and the front-end acked.
// Acked-not-offered is red, offered-not-acked dim; clicking the word's source jumps to it.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "app/common/text_format.hpp"
#include "app/common/view_features.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

std::string hex64(const std::optional<uint64_t>& v) {
  if (!v) return "not seen";
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, *v);
  return buf;
}

void word_line(AppState& s, const char* what, const std::optional<uint64_t>& v, MessageRef by) {
  ImGui::TextUnformatted(what);
  ImGui::SameLine(ImGui::GetFontSize() * 5);
  ImGui::PushFont(fonts().mono);
  text_unformatted(hex64(v));
  ImGui::PopFont();
  if (by != kNoMessage && by < s.store().size()) {
    ImGui::SameLine();
    entry_link(s, static_cast<uint32_t>(by), "from ");
  }
}

// Returns the number of rows drawn.
size_t matrix(AppState& s, const char* id, const view::FeatureMatrix& m) {
  // Columns as wide as what they hold (the longest name, the longest note), and a table that
  // scrolls sideways in a narrow pane rather than cutting the note off (1280x800 showed
  // "negotiate" and "offered, n").
  ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                          ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX;
  if (!ImGui::BeginTable(id, 5, flags)) return 0;
  const float pad = ImGui::GetFontSize() * 0.4f;
  float name_w = ImGui::CalcTextSize("name").x;
  for (const auto& r : m.rows) name_w = std::max(name_w, ImGui::CalcTextSize(r.name.c_str()).x);
  ImGui::TableSetupScrollFreeze(2, 1);
  ImGui::TableSetupColumn("bit", ImGuiTableColumnFlags_WidthFixed,
                          ImGui::CalcTextSize("63").x + pad);
  ImGui::TableSetupColumn("name", ImGuiTableColumnFlags_WidthFixed, name_w + pad);
  ImGui::TableSetupColumn("offered", ImGuiTableColumnFlags_WidthFixed,
                          ImGui::CalcTextSize("offered").x + pad);
  ImGui::TableSetupColumn("acked", ImGuiTableColumnFlags_WidthFixed,
                          ImGui::CalcTextSize("offered").x + pad);
  ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed,
                          ImGui::CalcTextSize("acked but not offered").x + pad);
  ImGui::TableHeadersRow();
  (void)s;
  for (const auto& r : m.rows) {
    ImGui::TableNextRow();
    ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
    const char* note = "";
    switch (r.state) {
      case view::BitState::AckedNotOffered:
        ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, severity_row_bg(Severity::Error));
        text = severity_color(Severity::Error);
        note = "acked but not offered";
        break;
      case view::BitState::OfferedOnly:
        text = kDimText;
        note = "offered, not acked";
        break;
      case view::BitState::Negotiated: note = "negotiated"; break;
      case view::BitState::Neither: text = IM_COL32(95, 95, 105, 255); break;
    }
    ImGui::TableNextColumn();
    ImGui::PushFont(fonts().mono);
    text_colored(text, std::to_string(r.bit));
    ImGui::PopFont();
    ImGui::TableNextColumn();
    text_colored(text, r.name);
    ImGui::TableNextColumn();
    if (r.offered)
      text_colored(kOkText, "✓");
    else if (m.offered_known)
      text_colored(IM_COL32(95, 95, 105, 255), "·");
    ImGui::TableNextColumn();
    if (r.acked)
      text_colored(
          r.state == view::BitState::AckedNotOffered ? severity_color(Severity::Error) : kOkText,
          "✓");
    else if (m.acked_known)
      text_colored(IM_COL32(95, 95, 105, 255), "·");
    ImGui::TableNextColumn();
    text_colored(text, note);
  }
  ImGui::EndTable();
  return m.rows.size();
}

void summary_line(const view::FeatureMatrix& m) {
  std::string t = std::to_string(m.offered) + " offered, " + std::to_string(m.acked) + " acked, " +
                  std::to_string(m.negotiated) + " negotiated";
  text_colored(kDimText, t);
  if (m.mismatches) {
    ImGui::SameLine();
    text_colored(severity_color(Severity::Error),
                 std::to_string(m.mismatches) + " acked without an offer");
  }
}

}  // namespace

void draw_features(AppState& s) {
  s.stats.feature_bits = s.stats.protocol_bits = s.stats.feature_mismatches = 0;
  const auto& sessions = s.store().sessions();
  if (sessions.empty()) {
    text_colored(kDimText, "No session yet.");
    return;
  }
  session_picker(s);
  const SessionState& st = sessions[std::min(s.session_index, sessions.size() - 1)].state();
  const view::FeatureMatrix virtio = view::feature_matrix(st.features, st.device);
  const view::FeatureMatrix proto = view::protocol_feature_matrix(st.protocol_features);
  s.stats.feature_bits = virtio.rows.size();
  s.stats.protocol_bits = proto.rows.size();
  s.stats.feature_mismatches = virtio.mismatches + proto.mismatches;

  ImGui::BeginChild("features scroll");
  const float half = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) * 0.5f;
  const bool side_by_side = half > ImGui::GetFontSize() * 24;

  ImGui::BeginGroup();
  if (side_by_side) ImGui::PushItemWidth(half);
  ImGui::Text("virtio / vhost features   (device: %s%s)",
              std::string(device_kind_name(st.device)).c_str(),
              st.device_from_user ? ", given" : ", inferred");
  word_line(s, "offered", st.features.offered, st.features.offered_by);
  word_line(s, "acked", st.features.acked, st.features.acked_by);
  summary_line(virtio);
  ImGui::BeginChild("virtio bits",
                    ImVec2(side_by_side ? half : 0, side_by_side ? 0 : ImGui::GetFontSize() * 24));
  matrix(s, "virtio", virtio);
  ImGui::EndChild();
  if (side_by_side) ImGui::PopItemWidth();
  ImGui::EndGroup();

  if (side_by_side) ImGui::SameLine();
  ImGui::BeginGroup();
  ImGui::TextUnformatted("vhost-user protocol features");
  word_line(s, "offered", st.protocol_features.offered, st.protocol_features.offered_by);
  word_line(s, "acked", st.protocol_features.acked, st.protocol_features.acked_by);
  summary_line(proto);
  ImGui::BeginChild("protocol bits", ImVec2(side_by_side ? half : 0, 0));
  matrix(s, "protocol", proto);
  ImGui::EndChild();
  ImGui::EndGroup();
  ImGui::EndChild();
}

}  // namespace vhs::gui
