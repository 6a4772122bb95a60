// `vhostscope dump`: every record of a capture on one line (-V adds fields, findings and hex).
#include <cstdio>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/common/dump_format.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

int run_dump(int argc, char** argv) {
  std::string path, session_text, device_text;
  bool verbose = false, absolute = false, no_notify = false;
  ArgParser args(
      "dump", "FILE [-V] [--session N] [--device blk|net|fs] [--absolute-time]",
      "Print every record of a capture on one line: time (seconds since the first record),\n"
      "record number, session, direction (F→B front-end to back-end, B→F back), channel\n"
      "(fe = vhost-user socket, be = back-end channel), request, key fields, fds, reply\n"
      "latency and finding markers (!id).");
  args.positional("FILE", "a capture written by 'vhostscope record' (pcap or pcapng)", &path);
  args.flag("verbose", 'V', "add the field tree, finding details and a hex dump under each message",
            &verbose);
  args.option("session", 's', "N", "only records of session N", &session_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  args.flag("absolute-time", 'a', "print UTC wall-clock times instead of relative seconds",
            &absolute);
  args.flag("no-notify", 0,
            "leave out notify records (record --interpose-notify: one per relayed kick/call)",
            &no_notify);
  if (auto rc = args.parse(argc, argv)) return *rc;

  auto input = open_capture_input("dump", path, device_text, session_text);
  if (!input) return 2;
  Store& store = input->store;
  const std::optional<uint32_t>& session = input->session;

  LineOptions line_options;
  line_options.absolute_time = absolute;
  size_t shown = 0;
  std::string text;
  for (size_t i = 0; i < store.size(); ++i) {
    if (session && store.entry(i).session != *session) continue;
    if (no_notify && store.entry(i).kind == RecordKind::Notify) continue;
    text = format_entry_line(store, i, line_options);
    text += '\n';
    if (verbose) text += format_entry_details(store, i);
    std::fwrite(text.data(), 1, text.size(), stdout);
    ++shown;
  }
  if (session && shown == 0 && !store.empty()) {
    std::fprintf(stderr, "vhostscope dump: no records of session %u in '%s'\n", *session,
                 path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace vhs::cli
