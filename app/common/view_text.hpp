// Small wording helpers the views share, so counts read as English ("1 reply pending").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vhs::view {

// "1 session", "2 sessions", "0 replies" (`plural` defaults to singular + "s").
std::string count_of(size_t n, std::string_view singular, std::string_view plural = {});

}  // namespace vhs::view
