// Scratch directories for tests (see temp_dir.hpp).
#include "support/temp_dir.hpp"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace vhs::test {

TempDir::TempDir() {
  std::string tmpl = "/tmp/vhs-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  // VHS_KEEP_TEST_DIRS=1 keeps captures and logs for a post-mortem.
  if (const char* keep = std::getenv("VHS_KEEP_TEST_DIRS"); keep && *keep && *keep != '0') {
    std::fprintf(stderr, "kept test directory %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace vhs::test
