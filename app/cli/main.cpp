// Entry point of the headless CLI: dispatches to one subcommand.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "app/cli/commands.hpp"

namespace {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"record", "relay a live session between a front-end and a back-end and record it",
     vhs::cli::run_record},
    {"dump", "print every message of a capture, one per line (-V for fields and hex)",
     vhs::cli::run_dump},
    {"summary", "per session: features, memory map, vrings, findings, unanswered requests",
     vhs::cli::run_summary},
    {"replay", "replay a recorded session against a live back-end or front-end; report divergences",
     vhs::cli::run_replay},
    {"diff", "message-level diff of two captures (aligned sequences, then fields)",
     vhs::cli::run_diff},
    {"report", "a Markdown bug report of a capture, ready to paste into an issue",
     vhs::cli::run_report},
    {"ctl", "step debugging of a running 'record --control SOCK': status, step, continue, break",
     vhs::cli::run_ctl},
    {"rings", "virtqueue state over time and at the end, in-flight requests, stalls",
     vhs::cli::run_rings},
    {"stats", "request counts and reply latencies, per-queue completions and depth, findings",
     vhs::cli::run_stats},
    {"check",
     "conformance gate: every rule citing the spec, blaming one side (exit 1 on violations)",
     vhs::cli::run_check},
    {"exercise",
     "drive a live back-end as a scripted front-end and virtio driver; check every step",
     vhs::cli::run_exercise},
    {"memmap", "guest memory regions per session and where each vring lies in them",
     vhs::cli::run_memmap},
    {"wireshark-lua", "print a Wireshark Lua dissector generated from the registry",
     vhs::cli::run_wireshark_lua},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: vhostscope <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands)
    std::fprintf(out, "  %-9.*s %.*s\n", int(c.name.size()), c.name.data(), int(c.summary.size()),
                 c.summary.data());
  std::fprintf(out, "\n'vhostscope <command> --help' describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("%s\n", vhs::cli::kToolVersion);
    return 0;
  }
  for (const auto& c : kCommands)
    if (c.name == name) return c.run(argc - 1, argv + 1);
  std::fprintf(stderr, "vhostscope: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
