// `vhostscope diff`: message-level diff of two captures (two QEMU versions, before/after a fix):
// aligned message sequences, then field-by-field differences, in unified-diff style.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/cli/record_selection.hpp"
#include "app/common/diff_format.hpp"
#include "app/common/option_values.hpp"
#include "captures/diff/diff_capture.hpp"
#include "captures/model/store.hpp"

namespace vhs::cli {

namespace {

// The session to compare: the one asked for, else the first with messages.
const StoreSession* pick(const Store& store, const std::optional<uint32_t>& id,
                         const std::string& path, std::string& error) {
  if (id) {
    if (const StoreSession* s = store.find_session(*id)) return s;
    error = missing_session_message(*id, path);
    return nullptr;
  }
  for (const StoreSession& s : store.sessions())
    if (!diff_entries(store, s).empty()) return &s;
  error = fmt::format("'{}' has no vhost-user messages", path);
  return nullptr;
}

}  // namespace

int run_diff(int argc, char** argv) {
  std::string path_a, path_b, device_text, context_text;
  std::vector<std::string> sessions;
  bool ignore_addresses = false, show_expected = false;
  SelectionArgs selection_args;
  ArgParser args(
      "diff", "A B [--session N M] [-Y EXPR] [--ignore-addresses] [-U N] [--device blk|net|fs]",
      "Compares two captures message by message. The message sequences of one session from each\n"
      "are aligned (shortest edit script over channel, direction, request and request/reply), "
      "then\n"
      "aligned messages are compared field by field. Timestamps, fd inode numbers and digits in\n"
      "fd names (memfd suffixes) never count; addresses count unless --ignore-addresses.\n"
      "Output: '-' only in A, '+' only in B, '!' same message with different fields (then one\n"
      "'-'/'+' pair per field). Exit status: 0 same, 1 different, 2 error.");
  args.positional("A", "the first capture", &path_a);
  args.positional("B", "the second capture", &path_b);
  args.option_list(
      "session", 's', "N",
      "session of A, then of B: N M or N,M (default: the first with messages; one value = both)",
      &sessions);
  args.flag("ignore-addresses", 0,
            "do not count addresses (GPA, front-end VAs, ring addresses, IOVAs)",
            &ignore_addresses);
  args.option("unified", 'U', "N", "unchanged records shown around each change (default 3)",
              &context_text);
  args.option("device", 'd', "KIND", "decode device fields as blk, net or fs (default: inferred)",
              &device_text);
  args.flag("expected", 'e', "also show differences that are ignored ('~' lines)", &show_expected);
  add_selection_options(args, selection_args, kSelectFilter);
  // `--session N M`: the parser takes one value per option, so a bare second number lands here.
  std::string second_session;
  args.positional("M", "the second number of '--session N M' (B's session)", &second_session,
                  false);
  if (auto rc = args.parse(argc, argv)) return *rc;
  if (!second_session.empty()) sessions.push_back(second_session);
  if (sessions.size() == 1 && sessions[0].find(',') != std::string::npos) {  // --session N,M
    const std::string both = sessions[0];
    sessions = {both.substr(0, both.find(',')), both.substr(both.find(',') + 1)};
  }

  auto fail = [](const std::string& message) { return cli::fail("diff", message); };
  auto selection = RecordSelection::parse("diff", selection_args);
  if (!selection) return 2;
  std::string error;
  Store::Options options;
  if (!parse_device_option(device_text, options.device, error)) return fail(error);
  if (sessions.size() > 2) return fail("--session takes at most two numbers (A's and B's)");
  std::optional<uint32_t> sa, sb;
  if (!sessions.empty() &&
      (!parse_session_option(sessions[0], sa, error) ||
       !parse_session_option(sessions.size() > 1 ? sessions[1] : sessions[0], sb, error)))
    return fail(error);
  size_t context = 3;
  if (!context_text.empty()) {
    try {
      size_t used = 0;
      context = std::stoul(context_text, &used);
      if (used != context_text.size() || context > 1000) throw std::invalid_argument("range");
    } catch (const std::exception&) {
      return fail("-U needs a number of records (0 to 1000), not '" + context_text + "'");
    }
  }

  Store a(options), b(options);
  if (!load_capture_for("diff", path_a, a) || !load_capture_for("diff", path_b, b)) return 2;
  const StoreSession* session_a = pick(a, sa, path_a, error);
  if (!session_a) return fail(error);
  const StoreSession* session_b = pick(b, sb, path_b, error);
  if (!session_b) return fail(error);

  DiffOptions diff_options;
  diff_options.addresses = ignore_addresses ? AddressPolicy::ExpectAll : AddressPolicy::Compare;
  if (selection->filtering())
    diff_options.include = [&selection](const Store& store, uint32_t i) {
      return selection->selects(store, i, std::nullopt);
    };
  const CaptureDiff diff = diff_sessions(a, *session_a, b, *session_b, diff_options);
  DiffFormatOptions format;
  format.a_label = fmt::format("{} session {}", path_a, session_a->id);
  format.b_label = fmt::format("{} session {}", path_b, session_b->id);
  format.context = context;
  format.show_expected = show_expected;
  const std::string out = format_capture_diff(a, b, diff, format);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return diff.identical() ? 0 : 1;
}

}  // namespace vhs::cli
