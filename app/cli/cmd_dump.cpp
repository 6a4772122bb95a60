// `vhostscope dump`: every record of a capture on one line (-V adds fields, findings and hex;
// --json one JSON object per record).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <optional>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_selection.hpp"
#include "app/common/dump_format.hpp"
#include "app/common/json_format.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

namespace {

// Set by SIGINT while --follow waits for more records: the reader then reports end of file.
std::atomic<bool> g_stop_following{false};

void stop_following(int) { g_stop_following.store(true); }

}  // namespace

int run_dump(int argc, char** argv) {
  std::string path, session_text, device_text;
  bool verbose = false, absolute = false, json = false, follow = false;
  SelectionArgs selection_args;
  ArgParser args(
      "dump",
      "FILE|- [-V | --json] [-Y EXPR] [-c N] [--session N] [-t r|d|a|ad] [--device blk|net|fs]\n"
      "             [--follow]",
      "Print every record of a capture on one line: time (seconds since the first record),\n"
      "record number, session, direction (F→B front-end to back-end, B→F back), channel\n"
      "(fe = vhost-user socket, be = back-end channel), request, key fields, fds, reply\n"
      "latency and finding markers (!id). --json writes one JSON object per record instead\n"
      "(JSON Lines, schema in docs/json.md).\n"
      "FILE '-' reads standard input as it arrives ('vhostscope record -w - ... | vhostscope\n"
      "dump -'); --follow prints the records of a capture still being written as they come,\n"
      "like tail -f, until Ctrl-C. Both print each record once, with what is known when it\n"
      "arrives: findings that only later records reveal (a request never answered) are not\n"
      "marked on it.");
  add_capture_file_argument(args, &path);
  args.flag("verbose", 'V', "add the field tree, finding details and a hex dump under each message",
            &verbose);
  args.flag("follow", 'f', "keep printing records as the capture grows, until Ctrl-C", &follow);
  args.flag("json", 0, "one JSON object per record (JSON Lines; docs/json.md)", &json);
  args.option("session", 's', "N", "only records of session N", &session_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  args.flag("absolute-time", 'a', "print UTC wall-clock times (the same as -t ad)", &absolute);
  add_selection_options(args, selection_args,
                        kSelectFilter | kSelectCount | kSelectKinds | kSelectTime);
  if (auto rc = args.parse(argc, argv)) return *rc;
  if (verbose && json) return fail("dump", "-V and --json do not go together");

  if (follow && path == kStandardStream) return fail("dump", "--follow needs a file, not '-'");

  auto selection = RecordSelection::parse("dump", selection_args);
  if (!selection) return 2;

  LineOptions line_options;
  line_options.time = absolute ? TimeFormat::AbsoluteDate : selection->time_format();
  uint64_t shown = 0;
  bool write_failed = false;
  std::string text;
  // Prints entry i if the selection keeps it; false once nothing more is to be printed.
  const auto print = [&](const Store& store, size_t i, std::optional<uint32_t> session) {
    if (selection->count() && shown >= *selection->count()) return false;
    if (!selection->selects(store, i, session)) return true;
    if (json) {
      text = json_line(entry_json(store, i));
      text += '\n';
    } else {
      text = format_entry_line(store, i, line_options);
      text += '\n';
      if (verbose) text += format_entry_details(store, i);
    }
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      write_failed = true;
      return false;
    }
    line_options.previous_ns = store.entry(i).timestamp_ns;
    ++shown;
    return !(selection->count() && shown >= *selection->count());
  };

  if (follow || path == kStandardStream) {
    // Streaming: each record is printed as soon as it is read, and flushed, so a pipe or a
    // terminal sees it while the session is still running.
    auto options = parse_input_options("dump", device_text, session_text);
    if (!options) return 2;
    if (follow) {
      struct sigaction action {};
      action.sa_handler = stop_following;
      sigemptyset(&action.sa_mask);
      sigaction(SIGINT, &action, nullptr);
      sigaction(SIGTERM, &action, nullptr);
    }
    Store store(options->store);
    const bool read =
        stream_capture_for("dump", path, follow, &g_stop_following, store, [&](size_t i) {
          const bool more = print(store, i, options->session);
          std::fflush(stdout);
          return more;
        });
    if (!read || write_failed) return 2;
    if (options->session && !store.find_session(*options->session))
      return fail("dump", missing_session_message(*options->session, path));
    return 0;
  }

  auto input = open_capture_input("dump", path, device_text, session_text);
  if (!input) return 2;
  for (size_t i = 0; i < input->store.size(); ++i)
    if (!print(input->store, i, input->session)) break;
  return write_failed ? 2 : 0;
}

}  // namespace vhs::cli
