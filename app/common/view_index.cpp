// FilteredIndex: incremental, budgeted evaluation of a Filter over the append-only Store.
#include "app/common/view_index.hpp"

#include <algorithm>

#include "captures/model/store.hpp"

namespace vhs::view {

void FilteredIndex::set_filter(Filter filter) {
  filter_ = std::move(filter);
  invalidate();
}

void FilteredIndex::invalidate() {
  rows_.clear();
  unsettled_.clear();
  scanned_ = 0;
  flagged_below_ = 0;
}

bool FilteredIndex::complete(const Store& store) const { return scanned_ >= store.size(); }

std::string FilteredIndex::empty_hint(const Store& store) const {
  if (!rows_.empty()) return {};
  if (store.empty()) return "No records yet.";
  const std::string total = std::to_string(store.size());
  if (!complete(store))
    return "Filtering… no match in the first " + std::to_string(scanned_) + " of " + total +
           " records yet.";
  if (filter_.match_all()) return {};
  return "No record matches the filter '" + filter_.text() + "' (all " + total +
         " hidden). Edit it or clear it (Ctrl+F, Ctrl+A, Delete).";
}

size_t FilteredIndex::lower_bound(uint32_t entry) const {
  return static_cast<size_t>(std::lower_bound(rows_.begin(), rows_.end(), entry) - rows_.begin());
}

std::optional<size_t> FilteredIndex::position_of(uint32_t entry) const {
  size_t p = lower_bound(entry);
  if (p < rows_.size() && rows_[p] == entry) return p;
  return std::nullopt;
}

void FilteredIndex::set_member(uint32_t entry, bool member) {
  auto it = std::lower_bound(rows_.begin(), rows_.end(), entry);
  bool present = it != rows_.end() && *it == entry;
  if (member && !present) rows_.insert(it, entry);
  if (!member && present) rows_.erase(it);
}

// A request waiting for its reply can change its answer (unanswered, latency) once the reply
// arrives; findings can be attributed to entries long after they were scanned.
void FilteredIndex::settle(const Store& store) {
  size_t kept = 0;
  for (uint32_t e : unsettled_) {
    if (store.entry(e).peer != kNoEntry) {
      set_member(e, filter_.matches(store, e));
    } else {
      unsettled_[kept++] = e;
    }
  }
  unsettled_.resize(kept);

  // The flagged list is sorted and only grows: if the number of flagged entries below the scan
  // point changed, a finding was attributed to an entry already scanned.
  auto flagged = store.flagged();
  size_t below = static_cast<size_t>(std::lower_bound(flagged.begin(), flagged.end(), scanned_) -
                                     flagged.begin());
  if (below != flagged_below_) {
    for (size_t k = 0; k < below; ++k) set_member(flagged[k], filter_.matches(store, flagged[k]));
  }
}

bool FilteredIndex::update(const Store& store, size_t budget) {
  if (scanned_ > store.size()) invalidate();  // a smaller store replaced the one we indexed
  const bool vol = filter_.is_volatile();
  if (vol && scanned_ > 0) settle(store);
  const size_t end =
      scanned_ + std::min(budget, store.size() - scanned_);  // no overflow with SIZE_MAX
  if (filter_.match_all()) {
    for (size_t i = scanned_; i < end; ++i) rows_.push_back(static_cast<uint32_t>(i));
  } else {
    for (size_t i = scanned_; i < end; ++i) {
      if (filter_.matches(store, i)) rows_.push_back(static_cast<uint32_t>(i));
      if (vol && store.kind(i) == RecordKind::Message) {
        const StoreEntry e = store.entry(i);
        if (e.role == MessageRole::Request && e.expects != ReplyExpectation::None &&
            e.peer == kNoEntry)
          unsettled_.push_back(static_cast<uint32_t>(i));
      }
    }
  }
  scanned_ = end;
  if (vol) {
    auto flagged = store.flagged();
    flagged_below_ = static_cast<size_t>(
        std::lower_bound(flagged.begin(), flagged.end(), scanned_) - flagged.begin());
  }
  return scanned_ >= store.size();
}

}  // namespace vhs::view
