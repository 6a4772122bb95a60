// `vhostscope stats`: request counts and reply latencies, per-queue notifications, completions and
// in-flight depth, findings by kind; per session and overall (app/common/stats_format.hpp).
#include <cstdio>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_selection.hpp"
#include "app/common/stats_format.hpp"

namespace vhs::cli {

int run_stats(int argc, char** argv) {
  std::string path, session_text, device_text;
  bool json = false;
  SelectionArgs selection_args;
  ArgParser args(
      "stats", "FILE [--session N] [-Y EXPR] [--no-rings] [--no-notify] [--json]",
      "Statistics over a capture, per session and overall: per request kind the requests sent,\n"
      "the replies/acks that answered them and the reply latency (min, p50, p99, max); per\n"
      "queue the kicks and calls relayed (record --interpose-notify), the buffers completed\n"
      "(used index advance between ring-state samples) per second and the in-flight depth;\n"
      "findings by kind. -Y counts only the records that match.");
  add_capture_file_argument(args, &path);
  args.option("session", 's', "N", "only session N", &session_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  args.flag("json", 0, "one JSON object (docs/json.md) instead of text tables", &json);
  add_selection_options(args, selection_args, kSelectFilter | kSelectKinds);
  if (auto rc = args.parse(argc, argv)) return *rc;

  auto selection = RecordSelection::parse("stats", selection_args);
  if (!selection) return 2;
  auto input = open_capture_input("stats", path, device_text, session_text);
  if (!input) return 2;
  const Store& store = input->store;

  const CaptureStats stats =
      compute_stats(store, [&](size_t i) { return selection->selects(store, i, input->session); });
  const std::string out = json ? json_line(stats_json(stats)) + "\n" : format_stats(stats);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace vhs::cli
