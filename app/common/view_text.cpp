#include "app/common/view_text.hpp"

namespace vhs::view {

std::string count_of(size_t n, std::string_view singular, std::string_view plural) {
  std::string out = std::to_string(n) + " ";
  if (n == 1)
    out += singular;
  else if (plural.empty())
    out += std::string(singular) + "s";
  else
    out += plural;
  return out;
}

}  // namespace vhs::view
