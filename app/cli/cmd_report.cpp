// `vhostscope report`: a Markdown bug report from a capture, ready to paste into an issue
// (app/common/report_format.hpp builds it).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_selection.hpp"
#include "app/common/option_values.hpp"
#include "app/common/report_format.hpp"
#include "captures/format/output_file.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

int run_report(int argc, char** argv) {
  std::string path, output, session_text, device_text, context_text;
  SelectionArgs selection_args;
  ArgParser args(
      "report", "FILE [-o OUT.md] [--session N] [-Y EXPR] [--context N] [--device blk|net|fs]",
      "Writes a Markdown bug report: the vhostscope version, what the capture shows about the\n"
      "peers (features offered, device kind, requests used), the feature negotiation table, the\n"
      "messages around the first error finding and around a hang, the pending state at the end\n"
      "(unanswered requests, vrings started/stopped, memory, back-end channel) and the findings.\n"
      "Paste it into an issue and attach the capture. With -Y (and no --session) the report is\n"
      "about the session of the first record that matches.");
  add_capture_file_argument(args, &path);
  args.option("output", 'o', "OUT", "write the report here instead of standard output", &output);
  args.option("session", 's', "N",
              "report on session N (default: the first with an error, else a hang)", &session_text);
  args.option("context", 'C', "N",
              "messages shown before and after the point of interest (default 8)", &context_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  add_selection_options(args, selection_args, kSelectFilter);
  if (auto rc = args.parse(argc, argv)) return *rc;

  auto fail = [](const std::string& message) { return cli::fail("report", message); };
  auto selection = RecordSelection::parse("report", selection_args);
  if (!selection) return 2;
  std::string error, warning;
  Store::Options options;
  ReportOptions report;
  if (!parse_device_option(device_text, options.device, error) ||
      !parse_session_option(session_text, report.session, error))
    return fail(error);
  if (!context_text.empty()) {
    try {
      size_t used = 0;
      report.context = std::stoul(context_text, &used);
      if (used != context_text.size() || report.context > 1000)
        throw std::invalid_argument("range");
    } catch (const std::exception&) {
      return fail("--context needs a number of messages (0 to 1000), not '" + context_text + "'");
    }
  }
  Store store(options);
  if (!load_capture_for("report", path, store, &warning)) return 2;
  if (report.session && !store.find_session(*report.session))
    return fail(missing_session_message(*report.session, path));
  if (selection->filtering() && !report.session) {
    // The session of the first record the filter picks is the one to report on.
    for (size_t i = 0; i < store.size() && !report.session; ++i)
      if (selection->selects(store, i, std::nullopt)) report.session = store.entry(i).session;
    if (!report.session)
      return fail(fmt::format("no record in '{}' matches the filter '{}'", path,
                              selection->filter().text()));
  }

  report.capture_name = std::filesystem::path(path).filename().string();
  report.tool_version = kToolVersion;
  report.load_warning = warning;
  const std::string text = format_report(store, report);
  if (output.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  std::string open_error;
  FILE* f = open_output_stream(output, open_error);  // no links, FIFOs or devices
  if (f == nullptr) return fail(open_error);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok)
    return fail("cannot write '" + output + "': " + std::strerror(errno));
  std::fprintf(stderr, "vhostscope report: wrote %s\n", output.c_str());
  return 0;
}

}  // namespace vhs::cli
