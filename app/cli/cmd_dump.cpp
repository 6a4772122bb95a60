// `vhostscope dump`: every record of a capture on one line (-V adds fields, findings and hex;
// --json one JSON object per record).
#include <cstdio>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_selection.hpp"
#include "app/common/dump_format.hpp"
#include "app/common/json_format.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

int run_dump(int argc, char** argv) {
  std::string path, session_text, device_text;
  bool verbose = false, absolute = false, json = false;
  SelectionArgs selection_args;
  ArgParser args(
      "dump",
      "FILE [-V | --json] [-Y EXPR] [-c N] [--session N] [-t r|d|a|ad] [--device blk|net|fs]",
      "Print every record of a capture on one line: time (seconds since the first record),\n"
      "record number, session, direction (F→B front-end to back-end, B→F back), channel\n"
      "(fe = vhost-user socket, be = back-end channel), request, key fields, fds, reply\n"
      "latency and finding markers (!id). --json writes one JSON object per record instead\n"
      "(JSON Lines, schema in docs/json.md).");
  args.positional("FILE", "a capture written by 'vhostscope record' (pcap or pcapng)", &path);
  args.flag("verbose", 'V', "add the field tree, finding details and a hex dump under each message",
            &verbose);
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

  auto selection = RecordSelection::parse("dump", selection_args);
  if (!selection) return 2;
  auto input = open_capture_input("dump", path, device_text, session_text);
  if (!input) return 2;
  const Store& store = input->store;

  LineOptions line_options;
  line_options.time = absolute ? TimeFormat::AbsoluteDate : selection->time_format();
  uint64_t shown = 0;
  std::string text;
  for (size_t i = 0; i < store.size(); ++i) {
    if (selection->count() && shown >= *selection->count()) break;
    if (!selection->selects(store, i, input->session)) continue;
    if (json) {
      text = json_line(entry_json(store, i));
      text += '\n';
    } else {
      text = format_entry_line(store, i, line_options);
      text += '\n';
      if (verbose) text += format_entry_details(store, i);
    }
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) return 2;
    line_options.previous_ns = store.entry(i).timestamp_ns;
    ++shown;
  }
  return 0;
}

}  // namespace vhs::cli
