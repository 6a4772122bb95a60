// The filtered row list of the message view, built incrementally: each update scans only entries
// appended since the last one, a bounded number at a time, so a new filter over a million
// entries is spread over frames instead of freezing one. Rows stay sorted by entry index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "app/common/view_filter.hpp"

namespace vhs {
class Store;
}

namespace vhs::view {

class FilteredIndex {
 public:
  // Starts over with a new filter (rows empty, nothing scanned).
  void set_filter(Filter filter);
  const Filter& filter() const { return filter_; }

  // Re-evaluates everything on the next updates (e.g. after Store::finish() attributed findings
  // to earlier entries, or a new Store replaced the old one).
  void invalidate();

  // Scans up to `budget` entries not seen yet and settles volatile answers (replies that have
  // arrived, findings attributed to earlier entries). Returns true when every entry of `store`
  // has been evaluated.
  bool update(const Store& store, size_t budget);

  std::span<const uint32_t> rows() const { return rows_; }
  size_t size() const { return rows_.size(); }
  uint32_t row(size_t i) const { return rows_[i]; }
  size_t scanned() const { return scanned_; }
  bool complete(const Store& store) const;

  // What an empty message list should say instead of nothing: no records yet, still filtering, or
  // the filter hides all of them. Empty when there are rows to show.
  std::string empty_hint(const Store& store) const;

  // Row position of `entry`, if it passes the filter.
  std::optional<size_t> position_of(uint32_t entry) const;
  // Position of the first row whose entry is >= `entry` (rows().size() if none).
  size_t lower_bound(uint32_t entry) const;

 private:
  void set_member(uint32_t entry, bool member);
  void settle(const Store& store);

  Filter filter_;
  std::vector<uint32_t> rows_;
  size_t scanned_ = 0;
  // Volatile filters only: requests whose answer may still change when their reply arrives, and
  // how many flagged entries lay below the scan point when last looked at.
  std::vector<uint32_t> unsettled_;
  size_t flagged_below_ = 0;
};

}  // namespace vhs::view
