// `vhostscope summary`: per session, what was negotiated and set up, what went wrong, and which
// requests were still waiting for an answer when the capture ended.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_selection.hpp"
#include "app/common/json_format.hpp"
#include "app/common/summary_format.hpp"
#include "app/common/text_format.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

namespace {

// With -Y: whether any record of the session matches.
bool session_selected(const Store& store, const StoreSession& s, const RecordSelection& selection) {
  if (!selection.filtering()) return true;
  for (uint32_t i = s.first_entry; i <= s.last_entry && i < store.size(); ++i)
    if (&store.session_of(i) == &s && selection.selects(store, i, s.id)) return true;
  return false;
}

}  // namespace

int run_summary(int argc, char** argv) {
  std::string path, session_text, device_text;
  bool check = false, json = false;
  SelectionArgs selection_args;
  ArgParser args(
      "summary", "FILE [--session N] [-Y EXPR] [--device blk|net|fs] [--check] [--json]",
      "Per session: virtio and protocol feature negotiation (offered vs acked), the memory\n"
      "map, vring state, the back-end channel, findings grouped by severity with record\n"
      "numbers, and requests still unanswered when the capture ends (how a hang shows).\n"
      "With -Y only the sessions holding a record that matches are shown.");
  add_capture_file_argument(args, &path);
  args.option("session", 's', "N", "only session N", &session_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  args.flag("check", 'c', "exit with status 1 when any error finding exists (for scripts and CI)",
            &check);
  args.flag("json", 0, "one JSON object (docs/json.md) instead of text", &json);
  add_selection_options(args, selection_args, kSelectFilter);
  if (auto rc = args.parse(argc, argv)) return *rc;

  auto selection = RecordSelection::parse("summary", selection_args);
  if (!selection) return 2;
  auto input = open_capture_input("summary", path, device_text, session_text, true);
  if (!input) return 2;
  Store& store = input->store;
  const std::optional<uint32_t>& session = input->session;

  std::string out =
      json ? std::string()
           : fmt::format("Capture {}: {} record{}, {} session{}, {}\n", escape_text(path),
                         store.size(), store.size() == 1 ? "" : "s", store.sessions().size(),
                         store.sessions().size() == 1 ? "" : "s",
                         format_duration(store.last_timestamp() - store.first_timestamp()));
  Json sessions = Json::array();
  bool errors = false;
  for (const StoreSession& s : store.sessions()) {
    if (session && s.id != *session) continue;
    if (!session_selected(store, s, *selection)) continue;
    if (json) {
      sessions.push_back(session_summary_json(store, s));
    } else {
      out += '\n';
      out += format_session_summary(store, s);
    }
    for (const auto& g : finding_groups(store, s)) errors |= g.severity == Severity::Error;
  }
  if (json) {
    Json j;
    j["schema"] = std::string(kJsonSchema);
    j["type"] = "summary";
    j["capture"] = path;
    j["records"] = store.size();
    j["duration_ns"] = store.last_timestamp() - store.first_timestamp();
    j["sessions"] = std::move(sessions);
    out = json_line(j) + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return check && errors ? 1 : 0;
}

}  // namespace vhs::cli
