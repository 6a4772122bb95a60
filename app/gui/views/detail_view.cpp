// Detail of the selected entry: what it is and who answers it, its findings, the decoded field
// tree (describe_fields) with byte offsets, the fds with what each is for, and the hex of the
// record. Hovering a field highlights its bytes; hovering a byte highlights its field.
#include <algorithm>
#include <string>

#include "app/common/dump_format.hpp"
#include "app/common/text_format.hpp"
#include "app/common/view_fds.hpp"
#include "app/common/view_filter.hpp"
#include "app/common/view_sample_fields.hpp"
#include "app/gui/app_state.hpp"
#include "app/gui/style.hpp"
#include "app/gui/views/views.hpp"
#include "app/gui/widgets.hpp"

namespace vhs::gui {
namespace {

// The innermost field (largest depth, then smallest) covering byte `off`.
int field_at(const std::vector<Field>& fields, int off) {
  int best = -1;
  for (size_t k = 0; k < fields.size(); ++k) {
    const Field& f = fields[k];
    if (f.length == 0 || off < static_cast<int>(f.offset) ||
        off >= static_cast<int>(f.offset + f.length))
      continue;
    if (best < 0 || f.depth > fields[static_cast<size_t>(best)].depth ||
        (f.depth == fields[static_cast<size_t>(best)].depth &&
         f.length < fields[static_cast<size_t>(best)].length))
      best = static_cast<int>(k);
  }
  return best;
}

std::string last_segment(const std::string& path) {
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// Appends "path == value" to the filter (right-click on a field).
void filter_on(AppState& s, const Field& f) {
  const std::string term = view::filter_term(f);
  s.filter_text = s.filter_text.empty() ? term : "(" + s.filter_text + ") and " + term;
  s.filter_dirty = true;
}

void draw_header(AppState& s, uint32_t i) {
  const Store& st = s.store();
  const StoreEntry& e = st.entry(i);
  const std::string title = entry_title(st, i);
  ImGui::PushFont(fonts().mono);
  text_colored(e.is_message() && e.info ? category_color(e.info->category) : kEventText, title);
  ImGui::SameLine();
  std::string where = record_number(i) + "  session " + std::to_string(e.session);
  if (e.is_message())
    where += "  " + std::string(direction_arrow(e.direction)) + " " +
             std::string(channel_short(e.channel)) + " channel";
  text_colored(kDimText, where);
  text_colored(kDimText, "at " + entry_time(st, i) + " s  (" + absolute_time(e.timestamp_ns) + ")");
  if (e.is_message() && e.info) text_colored(kDimText, std::string(e.info->meaning));
  // Pairing.
  if (e.is_message()) {
    if (e.peer != kNoEntry) {
      if (e.role == MessageRole::Request) {
        ImGui::TextUnformatted(e.expects == ReplyExpectation::Ack ? "acked by" : "answered by");
        ImGui::SameLine();
        entry_link(s, e.peer);
        ImGui::SameLine();
        text_unformatted("after " + format_duration(st.entry(e.peer).latency_ns) + "  (Enter)");
      } else {
        ImGui::TextUnformatted("answers");
        ImGui::SameLine();
        entry_link(s, e.peer);
        ImGui::SameLine();
        text_unformatted("after " + format_duration(e.latency_ns) + "  (Enter)");
      }
    } else if (e.role == MessageRole::Request && e.expects != ReplyExpectation::None) {
      text_colored(severity_color(Severity::Warning), e.expects == ReplyExpectation::OptionalAck
                                                          ? "ack optional, none seen"
                                                          : "no reply seen");
    } else if (e.role == MessageRole::Request) {
      text_colored(kDimText, "no reply expected");
    }
  } else if (e.kind == RecordKind::RingState || e.kind == RecordKind::Notify) {
    // The recorder's own samples: what they mean in one line; the fields follow below.
    ImGui::PushTextWrapPos(0);
    text_unformatted(e.kind == RecordKind::RingState ? view::ring_state_summary(st, i)
                                                     : entry_summary(st, i));
    ImGui::PopTextWrapPos();
  } else {
    ImGui::PushTextWrapPos(0);
    text_unformatted(quote_text(st.text(i)));
    ImGui::PopTextWrapPos();
  }
  ImGui::PopFont();
}

void draw_findings_of(AppState& s, uint32_t i) {
  const auto findings = s.store().findings(i);
  s.stats.detail_findings = findings.size();
  for (const Finding& f : findings) {
    const FindingInfo& fi = finding_info(f.code);
    text_colored(severity_color(fi.severity),
                 "● " + std::string(severity_name(fi.severity)) + " " + std::string(fi.id));
    ImGui::SameLine();
    ImGui::PushTextWrapPos(0);
    text_unformatted(f.detail.empty() ? std::string(fi.title) : escape_text(f.detail));
    ImGui::PopTextWrapPos();
  }
}

// `filterable`: the paths are describe_fields paths the filter understands (messages only).
void draw_fields(AppState& s, const std::vector<Field>& fields, int highlight_field,
                 bool filterable) {
  ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                          ImGuiTableFlags_Resizable | ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("fields", 3, flags)) return;
  ImGui::TableSetupColumn("field", ImGuiTableColumnFlags_WidthStretch, 0.35f);
  ImGui::TableSetupColumn("value", ImGuiTableColumnFlags_WidthStretch, 0.5f);
  ImGui::TableSetupColumn("bytes", ImGuiTableColumnFlags_WidthStretch, 0.15f);
  ImGui::TableHeadersRow();
  ImGui::PushFont(fonts().mono);
  for (size_t k = 0; k < fields.size(); ++k) {
    const Field& f = fields[k];
    if (f.path.starts_with("fd[")) continue;  // listed with their roles below
    ImGui::TableNextRow();
    if (static_cast<int>(k) == highlight_field)
      ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, IM_COL32(80, 140, 255, 70));
    ImGui::TableNextColumn();
    ImGui::PushID(static_cast<int>(k));
    // Indent(0) would mean "the default indent": only indent nested fields.
    const float indent = static_cast<float>(f.depth) * ImGui::GetFontSize();
    if (indent > 0) ImGui::Indent(indent);
    ImGui::Selectable(last_segment(f.path).c_str(), false, ImGuiSelectableFlags_SpanAllColumns);
    if (indent > 0) ImGui::Unindent(indent);
    if (ImGui::IsItemHovered()) {
      s.hover_offset = static_cast<int>(f.offset);
      s.hover_length = static_cast<int>(f.length);
      ImGui::SetTooltip(filterable ? "%s\nright-click: filter on this value" : "%s",
                        f.path.c_str());
    }
    if (ImGui::BeginPopupContextItem("field menu")) {
      if (filterable && ImGui::MenuItem(("filter: " + escape_text(view::filter_term(f))).c_str()))
        filter_on(s, f);
      if (ImGui::MenuItem("copy path")) ImGui::SetClipboardText(f.path.c_str());
      if (ImGui::MenuItem("copy value")) ImGui::SetClipboardText(f.text.c_str());
      ImGui::EndPopup();
    }
    ImGui::PopID();
    ImGui::TableNextColumn();
    // Long values (feature lists, buffer details) wrap inside their column.
    ImGui::PushTextWrapPos(0);
    text_unformatted(escape_text(f.text));
    ImGui::PopTextWrapPos();
    ImGui::TableNextColumn();
    if (f.length) text_colored(kDimText, std::to_string(f.offset) + "+" + std::to_string(f.length));
  }
  ImGui::PopFont();
  ImGui::EndTable();
}

void draw_fds(AppState& s, uint32_t i, const DecodedMessage* msg) {
  const auto fds = s.store().fds(i);
  s.stats.detail_fds = fds.size();
  if (fds.empty()) return;
  const std::vector<std::string> roles =
      msg ? view::fd_roles(*msg, fds.size()) : std::vector<std::string>(fds.size());
  ImGui::Spacing();
  ImGui::TextUnformatted("passed fds");
  if (!ImGui::BeginTable("fds", 3,
                         ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV |
                             ImGuiTableFlags_SizingStretchProp))
    return;
  ImGui::TableSetupColumn("#", ImGuiTableColumnFlags_WidthFixed, ImGui::GetFontSize() * 2);
  ImGui::TableSetupColumn("what it is", ImGuiTableColumnFlags_WidthStretch, 0.5f);
  ImGui::TableSetupColumn("role", ImGuiTableColumnFlags_WidthStretch, 0.5f);
  ImGui::TableHeadersRow();
  ImGui::PushFont(fonts().mono);
  for (size_t k = 0; k < fds.size(); ++k) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    text_unformatted(std::to_string(k));
    ImGui::TableNextColumn();
    text_or_tip(format_fd_long(fds[k]));
    ImGui::TableNextColumn();
    const std::string& role = roles[k];
    text_or_tip(role == "unexpected fd" ? severity_color(Severity::Warning) : kOkText, role);
  }
  ImGui::PopFont();
  ImGui::EndTable();
  if (s.store().entry(i).record_flags & kRecordFdsTruncated)
    text_colored(severity_color(Severity::Error),
                 "the kernel dropped fds of this message (MSG_CTRUNC)");
}

}  // namespace

void draw_detail(AppState& s) {
  s.stats.detail_fields = s.stats.detail_fds = s.stats.detail_findings = 0;
  const Store& st = s.store();
  if (s.selected == view::kNoSelection || s.selected >= st.size()) {
    text_colored(kDimText, "Select a message (click, or Up/Down in the list).");
    return;
  }
  const uint32_t i = s.selected;
  const StoreEntry& e = st.entry(i);
  std::optional<DecodedMessage> msg;
  std::vector<Field> fields;
  if (e.is_message()) {
    msg = st.decoded(i);
    fields = describe_fields(*msg, st.bytes(i), st.fds(i), st.context(i));
  } else {
    fields = view::sample_fields(st, i);  // ring states and notifications; empty for the rest
  }
  for (const Field& f : fields) s.stats.detail_fields += !f.path.starts_with("fd[");

  const float avail = ImGui::GetContentRegionAvail().y;
  const float hex_h = std::max(ImGui::GetFontSize() * 4, avail * s.layout.detail_hex_fraction);
  const float top_h = std::max(ImGui::GetFontSize() * 4, avail - hex_h - 6);

  // The byte under the mouse in the hex pane (last frame) picks the field to highlight; a field
  // hovered in the tree (this frame, drawn first) picks the bytes.
  const int highlight_field = s.hex_hover_byte >= 0 ? field_at(fields, s.hex_hover_byte) : -1;
  s.hover_offset = -1;
  s.hover_length = 0;

  ImGui::BeginChild("detail top", ImVec2(0, top_h));
  draw_header(s, i);
  draw_findings_of(s, i);
  ImGui::Separator();
  if (!fields.empty()) draw_fields(s, fields, highlight_field, e.is_message());
  draw_fds(s, i, msg ? &*msg : nullptr);
  ImGui::EndChild();

  float frac = s.layout.detail_hex_fraction;
  if (splitter("##detail split", false, 6, ImGui::GetContentRegionAvail().x, &frac,
               -1.0f / std::max(avail, 1.0f), 0.1f, 0.85f))
    s.layout.detail_hex_fraction = frac;

  int hl_off = s.hover_offset, hl_len = s.hover_length;
  if (hl_len == 0 && highlight_field >= 0) {
    hl_off = static_cast<int>(fields[static_cast<size_t>(highlight_field)].offset);
    hl_len = static_cast<int>(fields[static_cast<size_t>(highlight_field)].length);
  }
  s.hex_hover_byte = draw_hex("hex", st.bytes(i), hl_off, hl_len);
  if (s.hex_hover_byte >= 0) {
    int f = field_at(fields, s.hex_hover_byte);
    if (f >= 0)
      ImGui::SetTooltip("%s = %s", fields[static_cast<size_t>(f)].path.c_str(),
                        escape_text(fields[static_cast<size_t>(f)].text).c_str());
  }
}

}  // namespace vhs::gui
