// How session trackers point at messages: a caller-chosen reference (the Store uses its entry
// index), so state can name the message that set it without owning it.
#pragma once

#include <cstdint>

namespace vhs {

using MessageRef = uint64_t;
inline constexpr MessageRef kNoMessage = UINT64_MAX;

}  // namespace vhs
