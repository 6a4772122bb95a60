// Turning store entries back into capture records, so a live session shown in the GUI can be
// saved with CaptureWriter (or any RecordSink) exactly as it was relayed.
#pragma once

#include <cstddef>

#include "captures/format/record.hpp"

namespace vhs {
class Store;
}

namespace vhs::view {

// The record entry `i` was ingested from (kind, direction, channel, flags, session, timestamp,
// fd descriptions and bytes / note text).
Record record_of(const Store& store, size_t i);

// Feeds entries [0, store.size()) to `sink` in order; returns how many were written.
size_t export_records(const Store& store, RecordSink& sink);

}  // namespace vhs::view
