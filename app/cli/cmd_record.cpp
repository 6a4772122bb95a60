// Placeholder until the record command lands; replaced by its real implementation.
#include <cstdio>

#include "app/cli/commands.hpp"

namespace vhs::cli {
int run_record(int, char**) {
  std::fprintf(stderr, "vhostscope record: not built yet\n");
  return 2;
}
}  // namespace vhs::cli
