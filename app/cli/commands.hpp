// Subcommands of the `vhostscope` CLI. Each takes argv starting at the subcommand name and
// returns the process exit code (0 ok, 1 the job found what it reports as failure, 2 usage or I/O
// error).
#pragma once

namespace vhs::cli {

// What `vhostscope --version` prints and reports carry; VHS_VERSION is CMake's project version.
inline constexpr const char* kToolVersion = "vhostscope " VHS_VERSION;

int run_record(int argc, char** argv);
int run_dump(int argc, char** argv);
int run_summary(int argc, char** argv);
int run_replay(int argc, char** argv);
int run_diff(int argc, char** argv);
int run_report(int argc, char** argv);
int run_ctl(int argc, char** argv);
int run_rings(int argc, char** argv);
int run_memmap(int argc, char** argv);
int run_wireshark_lua(int argc, char** argv);
int run_stats(int argc, char** argv);
int run_check(int argc, char** argv);
int run_exercise(int argc, char** argv);

}  // namespace vhs::cli
