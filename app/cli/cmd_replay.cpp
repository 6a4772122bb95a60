// `vhostscope replay`: plays one recorded session against a live peer — as the front-end towards a
// real back-end, or as the back-end towards a real front-end — and reports where the peer's
// messages diverge from the recording (proxy/replay.hpp does the work).
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/common/option_values.hpp"
#include "app/common/text_escape.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"
#include "proxy/replay.hpp"

namespace vhs::cli {

namespace {

// "1073741824", "512M", "1G", "2GiB", "64k": bytes, with an optional binary unit.
bool parse_size(const std::string& text, uint64_t& out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return false;
  std::string unit(end, text.data() + text.size());
  if (unit.size() == 3 && (unit[1] == 'i' || unit[1] == 'I') && (unit[2] == 'B' || unit[2] == 'b'))
    unit.resize(1);
  unsigned shift = 0;
  if (unit.empty())
    shift = 0;
  else if (unit.size() == 1 && (unit[0] == 'k' || unit[0] == 'K'))
    shift = 10;
  else if (unit.size() == 1 && (unit[0] == 'm' || unit[0] == 'M'))
    shift = 20;
  else if (unit.size() == 1 && (unit[0] == 'g' || unit[0] == 'G'))
    shift = 30;
  else if (unit.size() == 1 && (unit[0] == 't' || unit[0] == 'T'))
    shift = 40;
  else
    return false;
  if (value == 0 || value > (UINT64_MAX >> shift)) return false;
  out = value << shift;
  return true;
}

std::string kind_counts(const ReplayResult& r) {
  std::map<std::string_view, size_t> counts;
  for (const Divergence& d : r.divergences)
    if (!d.expected()) ++counts[divergence_kind_name(d.kind)];
  std::string s;
  for (const auto& [name, n] : counts) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", n, name);
  return s;
}

}  // namespace

int run_replay(int argc, char** argv) {
  std::string path, backend_connect, frontend_listen, session_text, pace_text, timeout_text,
      connect_text, output, device_text, memory_text;
  bool verbose = false;
  ArgParser args(
      "replay",
      "FILE (--backend-connect PATH | --frontend-listen PATH) [--session N] [--pace "
      "recorded|fast]\n"
      "       [--timeout SECONDS] [--max-guest-memory SIZE] [-w OUT.pcap] [-v]",
      "Replays one recorded session against a live peer and reports every divergence from the\n"
      "recording. With --backend-connect it plays the FRONT-END: re-creates the passed fds (memfd\n"
      "guest memory of the recorded sizes, eventfds, the back-end channel socketpair, the "
      "inflight\n"
      "buffer from the replayed GET_INFLIGHT_FD answer), sends the recorded requests in order, "
      "and\n"
      "compares each answer field by field. With --frontend-listen it plays the BACK-END: answers\n"
      "each request with the recorded answer and compares the front-end's requests.\n"
      "Front-end virtual addresses and fd inode numbers differ per process and are not\n"
      "divergences; nor is a GET_VRING_BASE index (no guest I/O is replayed).\n"
      "Exit status: 0 same, 1 diverged, 2 could not run.");
  add_capture_file_argument(args, &path);
  args.option("backend-connect", 0, "PATH",
              "play the front-end: connect to the back-end listening here", &backend_connect);
  args.option("frontend-listen", 0, "PATH",
              "play the back-end: listen here (mode 0600) for the front-end", &frontend_listen);
  args.option("session", 's', "N",
              "the recorded session to replay (default: the first with messages)", &session_text);
  args.option("pace", 'p', "MODE",
              "fast (default): no pauses; recorded: keep the recorded gaps and latencies",
              &pace_text);
  args.option("timeout", 't', "SECONDS",
              "how long an answer may take before it counts as missing (default 5)", &timeout_text);
  args.option("connect-timeout", 0, "SECONDS",
              "how long to wait for the peer to be there (default 10)", &connect_text);
  args.option("max-guest-memory", 0, "SIZE",
              "the most guest memory (memfds) the replay re-creates in total, e.g. 4G "
              "(default 1G)",
              &memory_text);
  args.option("write", 'w', "OUT",
              "also record the replay to this capture (same format as 'record')", &output);
  args.option("device", 'd', "KIND", "decode device fields as blk, net or fs (default: inferred)",
              &device_text);
  args.flag("verbose", 'v', "log progress to stderr and list expected differences too", &verbose);
  if (auto rc = args.parse(argc, argv)) return *rc;

  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "vhostscope replay: %s\nTry 'vhostscope replay --help'.\n",
                 message.c_str());
    return 2;
  };
  ReplayOptions options;
  if (backend_connect.empty() == frontend_listen.empty())
    return usage("give exactly one of --backend-connect PATH and --frontend-listen PATH");
  options.role = backend_connect.empty() ? ReplayRole::Backend : ReplayRole::Frontend;
  options.socket_path = backend_connect.empty() ? frontend_listen : backend_connect;
  if (pace_text == "recorded")
    options.pace = ReplayPace::Recorded;
  else if (!pace_text.empty() && pace_text != "fast")
    return usage("--pace must be 'recorded' or 'fast', not '" + pace_text + "'");
  if (!timeout_text.empty() && !parse_seconds_option(timeout_text, options.reply_timeout, false))
    return usage("--timeout needs a number of seconds above 0 (up to 86400)");
  if (!connect_text.empty() && !parse_seconds_option(connect_text, options.connect_timeout, false))
    return usage("--connect-timeout needs a number of seconds above 0 (up to 86400)");
  if (!memory_text.empty() && !parse_size(memory_text, options.max_guest_memory))
    return usage("--max-guest-memory needs a size above 0 (bytes, or with K, M, G, T), not '" +
                 memory_text + "'");

  std::string error;
  Store::Options store_options;
  std::optional<uint32_t> session;
  if (!parse_device_option(device_text, store_options.device, error) ||
      !parse_session_option(session_text, session, error))
    return usage(error);
  options.session = session.value_or(0);

  Store store(store_options);
  if (!load_capture_for("replay", path, store)) return 2;
  if (session && !store.find_session(*session))
    return fail("replay", missing_session_message(*session, path));

  std::unique_ptr<CaptureWriter> writer;
  if (!output.empty()) {
    writer = CaptureWriter::create(output, error);
    if (!writer) {
      std::fprintf(stderr, "vhostscope replay: %s\n", escape_text(error).c_str());
      return 2;
    }
    options.sink = writer.get();
  }
  if (verbose)
    options.log = [](std::string_view text) {
      // Progress lines name recorded requests and peer answers.
      const std::string line = escape_text(text);
      std::fprintf(stderr, "vhostscope replay: %s\n", line.c_str());
    };
  signal(SIGPIPE, SIG_IGN);  // a vanished peer is a divergence, not a reason to die

  const ReplayResult result = run_replay(store, options);
  if (writer && !writer->flush())
    std::fprintf(stderr, "vhostscope replay: writing '%s': %s\n", escape_text(output).c_str(),
                 escape_text(writer->error()).c_str());
  if (result.status == ReplayStatus::Failed) {
    std::fprintf(stderr, "vhostscope replay: %s\n", escape_text(result.error).c_str());
    return 2;
  }

  std::string out = fmt::format(
      "replay: session {} of '{}' ({} messages) as the {} {} {}\n", result.session,
      escape_text(path), result.recorded_messages,
      options.role == ReplayRole::Frontend ? "front-end" : "back-end",
      options.role == ReplayRole::Frontend ? "against the back-end at" : "for the front-end at",
      escape_text(options.socket_path));
  size_t expected = 0;
  for (const Divergence& d : result.divergences) {
    if (d.expected()) ++expected;
    for (const std::string& line : divergence_lines(d, verbose))
      // Divergences quote the recorded and the live peer's values.
      out += (d.expected() ? "note: " : "divergence: ") + escape_text(line) + "\n";
  }
  const size_t real = result.real_divergences();
  const std::string notes =
      expected == 0 ? std::string()
                    : fmt::format(", {} expected difference{}{}", expected,
                                  expected == 1 ? "" : "s", verbose ? "" : " (-v lists them)");
  if (real == 0)
    out += fmt::format("replay: SAME: no divergence{}; {} messages sent, {} received\n", notes,
                       result.sent, result.received);
  else
    out += fmt::format("replay: DIVERGED: {} divergence{} ({}){}; {} messages sent, {} received\n",
                       real, real == 1 ? "" : "s", kind_counts(result), notes, result.sent,
                       result.received);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return real == 0 ? 0 : 1;
}

}  // namespace vhs::cli
