// `vhostscope summary`: per session, what was negotiated and set up, what went wrong, and which
// requests were still waiting for an answer when the capture ended.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/common/summary_format.hpp"
#include "app/common/text_format.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

int run_summary(int argc, char** argv) {
  std::string path, session_text, device_text;
  bool check = false;
  ArgParser args(
      "summary", "FILE [--session N] [--device blk|net|fs] [--check]",
      "Per session: virtio and protocol feature negotiation (offered vs acked), the memory\n"
      "map, vring state, the back-end channel, findings grouped by severity with record\n"
      "numbers, and requests still unanswered when the capture ends (how a hang shows).");
  args.positional("FILE", "a capture written by 'vhostscope record' (pcap or pcapng)", &path);
  args.option("session", 's', "N", "only session N", &session_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  args.flag("check", 'c', "exit with status 1 when any error finding exists (for scripts and CI)",
            &check);
  if (auto rc = args.parse(argc, argv)) return *rc;

  auto input = open_capture_input("summary", path, device_text, session_text);
  if (!input) return 2;
  Store& store = input->store;
  const std::optional<uint32_t>& session = input->session;

  std::string out = fmt::format("Capture {}: {} record{}, {} session{}, {}\n", path, store.size(),
                                store.size() == 1 ? "" : "s", store.sessions().size(),
                                store.sessions().size() == 1 ? "" : "s",
                                format_duration(store.last_timestamp() - store.first_timestamp()));
  size_t shown = 0;
  bool errors = false;
  for (const StoreSession& s : store.sessions()) {
    if (session && s.id != *session) continue;
    out += '\n';
    out += format_session_summary(store, s);
    for (const auto& g : finding_groups(store, s)) errors |= g.severity == Severity::Error;
    ++shown;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (session && shown == 0) {
    std::fprintf(stderr, "vhostscope summary: no session %u in '%s'\n", *session, path.c_str());
    return 1;
  }
  return check && errors ? 1 : 0;
}

}  // namespace vhs::cli
