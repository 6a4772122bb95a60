// Error text for failed system calls (see sys_error.hpp).
#include "proxy/sys_error.hpp"

#include <cstring>

namespace vhs {

std::string errno_text(int err) {
  char buf[128];
  // GNU strerror_r may return a static string instead of filling buf.
  const char* text = ::strerror_r(err, buf, sizeof buf);
  return text ? std::string(text) : std::string("errno ") + std::to_string(err);
}

std::string sys_error(std::string_view action, std::string_view object, int err) {
  std::string out = "cannot ";
  out += action;
  out += " '";
  out += object;
  out += "': ";
  out += errno_text(err);
  return out;
}

}  // namespace vhs
