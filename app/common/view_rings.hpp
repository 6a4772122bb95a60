// Ring view-model: the session state as it was at an earlier point ("slider over time"), made by
// replaying the session's messages through a fresh SessionAnalyser up to that entry. Replays
// continue forward incrementally and restart only when the slider moves back, and each update is
// bounded so dragging the slider over a million messages never blocks a frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "decoders/session/session.hpp"

namespace vhs {
class Store;
}

namespace vhs::view {

class SessionReplay {
 public:
  // Moves the replay of session `session_index` towards "state just after entry `until`"; feeds at
  // most `budget` messages. Returns true when the state is exactly at `until`.
  bool update(const Store& store, size_t session_index, uint32_t until, size_t budget);
  void reset();

  const SessionState& state() const { return analyser_.state(); }
  // Last entry fed (UINT32_MAX when nothing yet).
  uint32_t position() const { return position_; }
  size_t session_index() const { return session_; }

 private:
  SessionAnalyser analyser_;
  size_t session_ = SIZE_MAX;
  uint32_t next_ = 0;  // next entry index to look at
  uint32_t position_ = UINT32_MAX;
};

// The session's entries (indices into the store) in order; the slider's domain.
std::vector<uint32_t> session_entries(const Store& store, size_t session_index);

// Ring records (issue 4 RingState snapshots) of a session at or before `until`, newest last.
std::vector<uint32_t> ring_records_until(const Store& store, size_t session_index, uint32_t until);

}  // namespace vhs::view
