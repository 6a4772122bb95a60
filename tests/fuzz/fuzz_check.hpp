// What the fuzz targets share: a check that stops the run like a crash (so libFuzzer saves the
// input) when a property the code promises does not hold, and a sink that keeps formatter output
// observable so the optimiser cannot drop the calls.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace vhs::fuzz {

[[noreturn]] inline void property_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", what, file, line);
  std::abort();
}

// Characters written by every formatter; read by nobody.
inline volatile size_t g_output_chars = 0;
inline void consume(std::string_view text) { g_output_chars = g_output_chars + text.size(); }

}  // namespace vhs::fuzz

#define VHS_FUZZ_CHECK(cond) \
  ((cond) ? void(0) : ::vhs::fuzz::property_failed(#cond, __FILE__, __LINE__))
