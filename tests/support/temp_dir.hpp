// A scratch directory for one test (short path: unix socket paths must stay under 108 bytes),
// removed with everything in it when the test ends.
#pragma once

#include <string>

namespace vhs::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vhs::test
