// Placeholder until the dump command lands; replaced by its real implementation.
#include <cstdio>

#include "app/cli/commands.hpp"

namespace vhs::cli {
int run_dump(int, char**) {
  std::fprintf(stderr, "vhostscope dump: not built yet\n");
  return 2;
}
}  // namespace vhs::cli
