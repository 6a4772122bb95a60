// Error text for failed system calls, in the house style "cannot <what> '<object>': <strerror>".
#pragma once

#include <string>
#include <string_view>

namespace vhs {

// strerror(err) without the thread-safety trap of strerror().
std::string errno_text(int err);

// "cannot <action> '<object>': <errno text>"
std::string sys_error(std::string_view action, std::string_view object, int err);

}  // namespace vhs
