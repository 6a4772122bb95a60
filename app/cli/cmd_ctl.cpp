// `vhostscope ctl SOCK COMMAND`: step debugging of a running `vhostscope record --control SOCK`.
// Sends one line of the control protocol (docs/step.md) and prints the answer; an "error: ..."
// answer goes to stderr with exit code 2, like any other usage error.
#include <cstdio>
#include <string>
#include <string_view>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "proxy/control_server.hpp"

namespace vhs::cli {

int run_ctl(int argc, char** argv) {
  std::string socket, verb, name;
  ArgParser parser("ctl", "SOCK (status | step | continue | break NAME | delete NAME | inject SPEC)",
                   "Controls a recorder started with --control SOCK: shows what is held (status), releases the\n"
                   "oldest held message (step) or everything until the next breakpoint hit (continue), sets or\n"
                   "removes a breakpoint on a request name, 'any', a finding ('finding', 'error', 'finding:ID'); sets a\n"
                   "fault injection (inject drop:NAME | delay:NAME:MS | replace-reply:NAME:HEX; 'delete SPEC' removes it).");
  parser.positional("SOCK", "the recorder's control socket", &socket);
  parser.positional("COMMAND", "status, step, continue, break, delete or inject", &verb);
  parser.positional("NAME", "breakpoint for break/delete (request name as 'vhostscope dump' prints it, 'any', 'finding', 'error', 'finding:ID'), or injection SPEC", &name, false);
  if (auto rc = parser.parse(argc, argv)) return *rc;

  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "vhostscope ctl: %s\nTry 'vhostscope ctl --help'.\n", message.c_str());
    return 2;
  };
  bool needs_name = verb == "break" || verb == "delete" || verb == "inject";
  if (!needs_name && verb != "status" && verb != "step" && verb != "continue")
    return usage("unknown command '" + verb + "' (expected status, step, continue, break NAME, delete NAME or inject SPEC)");
  if (verb == "inject" && name.empty()) return usage("'inject' needs drop:NAME, delay:NAME:MS or replace-reply:NAME:HEX");
  if (needs_name && name.empty()) return usage("'" + verb + "' needs a request name (or 'any', 'finding', 'error', 'finding:ID')");
  if (!needs_name && !name.empty()) return usage("'" + verb + "' takes no argument");

  std::string line = needs_name ? verb + " " + name : verb;
  std::string answer, error;
  if (!control_request(socket, line, answer, error)) {
    std::fprintf(stderr, "vhostscope ctl: %s\n", error.c_str());
    return 2;
  }
  if (answer.rfind("error: ", 0) == 0) {
    std::fprintf(stderr, "vhostscope ctl: %s", answer.c_str() + 7);
    return 2;
  }
  std::fputs(answer.c_str(), stdout);
  return 0;
}

}  // namespace vhs::cli
