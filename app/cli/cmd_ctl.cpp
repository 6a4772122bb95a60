// `vhostscope ctl SOCK COMMAND`: step debugging of a running `vhostscope record --control SOCK`.
// Sends one line of the control protocol (docs/step.md) and prints the answer; an "error: ..."
// answer goes to stderr with exit code 2, like any other usage error.
#include <cstdio>
#include <string>
#include <string_view>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "app/common/text_escape.hpp"
#include "proxy/control_server.hpp"

namespace vhs::cli {

int run_ctl(int argc, char** argv) {
  std::string socket, verb, name, queue, session;
  ArgParser parser(
      "ctl",
      "[--session N] SOCK (status | step | continue | break NAME | delete NAME | inject SPEC | "
      "hold|unhold kick|call|err QUEUE)",
      "Controls a recorder started with --control SOCK: shows what is held (status), releases the\n"
      "oldest held message or notification (step) or everything until the next breakpoint hit\n"
      "(continue), sets or removes a breakpoint on a request name, 'any', a finding ('finding', "
      "'error',\n"
      "'finding:ID'); sets a fault injection (inject drop:NAME | delay:NAME:MS | "
      "replace-reply:NAME:HEX;\n"
      "'delete SPEC' removes it). With --interpose-notify, 'hold kick 0' holds queue 0's kicks "
      "(counted,\n"
      "written on by step/continue), 'unhold kick 0' ends it.");
  parser.option("session", 's', "N",
                "the live session the command is for (default: break, delete, inject, hold and "
                "unhold apply to every session, the others to the newest)",
                &session);
  parser.positional("SOCK", "the recorder's control socket", &socket);
  parser.positional("COMMAND", "status, step, continue, break, delete, inject, hold or unhold",
                    &verb);
  parser.positional(
      "NAME",
      "breakpoint for break/delete (request name as 'vhostscope dump' prints it, 'any', 'finding', "
      "'error', 'finding:ID'), injection SPEC, or kick/call/err for hold/unhold",
      &name, false);
  parser.positional("QUEUE", "queue index for hold/unhold", &queue, false);
  if (auto rc = parser.parse(argc, argv)) return *rc;

  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "vhostscope ctl: %s\nTry 'vhostscope ctl --help'.\n", message.c_str());
    return 2;
  };
  bool needs_name = verb == "break" || verb == "delete" || verb == "inject";
  if (verb == "hold" || verb == "unhold") {
    if (name.empty() || queue.empty())
      return usage("'" + verb + "' needs kick, call or err and a queue index");
    name += " " + queue;
    needs_name = true;
  } else if (!queue.empty()) {
    return usage("'" + verb + "' takes at most one argument");
  }
  if (!needs_name && verb != "status" && verb != "step" && verb != "continue")
    return usage("unknown command '" + verb +
                 "' (expected status, step, continue, break NAME, delete NAME, inject SPEC, hold "
                 "or unhold)");
  if (verb == "inject" && name.empty())
    return usage("'inject' needs drop:NAME, delay:NAME:MS or replace-reply:NAME:HEX");
  if (needs_name && name.empty())
    return usage("'" + verb +
                 "' needs a request name (or 'any', 'finding', 'error', 'finding:ID')");
  if (!needs_name && !name.empty()) return usage("'" + verb + "' takes no argument");

  if (!session.empty() && session.find_first_not_of("0123456789") != std::string::npos)
    return usage("--session needs a session number, not '" + session + "'");
  std::string line = needs_name ? verb + " " + name : verb;
  if (!session.empty()) line = "session " + session + " " + line;
  std::string answer, error;
  if (!control_request(socket, line, answer, error)) {
    std::fprintf(stderr, "vhostscope ctl: %s\n", escape_text(error).c_str());
    return 2;
  }
  if (answer.rfind("error: ", 0) == 0) {
    // The recorder's answers name held messages and peer data: escaped, its lines kept.
    std::fprintf(stderr, "vhostscope ctl: %s",
                 escape_text(std::string_view(answer).substr(7), Newlines::Keep).c_str());
    return 2;
  }
  std::fputs(escape_text(answer, Newlines::Keep).c_str(), stdout);
  return 0;
}

}  // namespace vhs::cli
