// Placeholder until the summary command lands; replaced by its real implementation.
#include <cstdio>

#include "app/cli/commands.hpp"

namespace vhs::cli {
int run_summary(int, char**) {
  std::fprintf(stderr, "vhostscope summary: not built yet\n");
  return 2;
}
}  // namespace vhs::cli
