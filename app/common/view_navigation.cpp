// Row navigation, request/reply pairing jumps and finding stepping over sorted entry rows.
#include "app/common/view_navigation.hpp"

#include <algorithm>

#include "captures/model/store.hpp"

namespace vhs::view {

uint32_t navigate(std::span<const uint32_t> rows, uint32_t current, NavKey key, size_t page_rows) {
  if (rows.empty()) return kNoSelection;
  const size_t last = rows.size() - 1;
  const size_t page = std::max<size_t>(page_rows, 1);
  if (key == NavKey::Home) return rows.front();
  if (key == NavKey::End) return rows.back();
  if (current == kNoSelection) return rows.front();

  auto it = std::lower_bound(rows.begin(), rows.end(), current);
  size_t pos = static_cast<size_t>(it - rows.begin());
  const bool visible = it != rows.end() && *it == current;
  const bool down = key == NavKey::Down || key == NavKey::PageDown;
  const size_t step = (key == NavKey::PageUp || key == NavKey::PageDown) ? page : 1;

  if (!visible) {
    // `pos` is the first row after the hidden selection: moving down lands there, moving up
    // lands on the row before it; a page step goes one page less far from that anchor.
    if (down) {
      if (pos > last) return rows.back();
      return rows[std::min(last, pos + step - 1)];
    }
    if (pos == 0) return rows.front();
    return rows[pos - 1 >= step - 1 ? pos - 1 - (step - 1) : 0];
  }
  if (down) return rows[std::min(last, pos + step)];
  return rows[pos >= step ? pos - step : 0];
}

uint32_t peer_of(const Store& store, uint32_t entry) {
  if (entry == kNoSelection || entry >= store.size()) return kNoSelection;
  uint32_t p = store.entry(entry).peer;
  return p == kNoEntry ? kNoSelection : p;
}

uint32_t step_finding(const Store& store, std::span<const uint32_t> rows, uint32_t current,
                      bool forward) {
  auto flagged = store.flagged();
  if (flagged.empty() || rows.empty()) return kNoSelection;
  auto visible = [&](uint32_t e) { return std::binary_search(rows.begin(), rows.end(), e); };
  const size_t n = flagged.size();
  size_t start;
  if (forward) {
    start = current == kNoSelection
                ? 0
                : static_cast<size_t>(std::upper_bound(flagged.begin(), flagged.end(), current) -
                                      flagged.begin());
    for (size_t k = 0; k < n; ++k) {
      uint32_t e = flagged[(start + k) % n];
      if (visible(e)) return e;
    }
  } else {
    // Index of the last flagged entry strictly before `current` (wrapping to the end).
    size_t before =
        current == kNoSelection
            ? n
            : static_cast<size_t>(std::lower_bound(flagged.begin(), flagged.end(), current) -
                                  flagged.begin());
    start = before == 0 ? n - 1 : before - 1;
    for (size_t k = 0; k < n; ++k) {
      uint32_t e = flagged[(start + n - k) % n];
      if (visible(e)) return e;
    }
  }
  return kNoSelection;
}

size_t scroll_to_show(size_t row, size_t first_visible, size_t visible_rows) {
  if (visible_rows == 0) return row;
  if (row < first_visible) return row;
  if (row >= first_visible + visible_rows) return row - visible_rows + 1;
  return first_visible;
}

}  // namespace vhs::view
