// Selection and keyboard navigation over the filtered message rows: moving by row/page, jumping
// between a request and its reply, stepping through findings. Pure functions of the row list and
// the store, so the rules are unit-tested without a GUI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vhs {
class Store;
}

namespace vhs::view {

inline constexpr uint32_t kNoSelection = UINT32_MAX;

enum class NavKey : uint8_t { Up, Down, PageUp, PageDown, Home, End };

// The entry to select after `key`, given the (sorted) filtered rows and the current selection.
// A selection hidden by the filter moves to the nearest visible row in the key's direction.
// With nothing selected, Up/Down/PageUp/PageDown select the first row (End the last).
// kNoSelection when there are no rows.
uint32_t navigate(std::span<const uint32_t> rows, uint32_t current, NavKey key, size_t page_rows);

// The request <-> reply partner of `entry`, kNoSelection if it has none.
uint32_t peer_of(const Store& store, uint32_t entry);

// Next (forward) or previous entry carrying a finding that is also in `rows`, starting after
// (before) `current`; wraps around once. kNoSelection when no visible entry has findings.
uint32_t step_finding(const Store& store, std::span<const uint32_t> rows, uint32_t current,
                      bool forward);

// Scroll target keeping `row` visible: given the first visible row and how many fit, returns the
// new first visible row (unchanged when `row` is already in view).
size_t scroll_to_show(size_t row, size_t first_visible, size_t visible_rows);

}  // namespace vhs::view
