// What the recorder's own records mean, for the GUI: a field tree (like describe_fields for
// messages) and a one-line summary that leads with what matters (queue, in flight, the oldest
// request) for RingState samples and Notify records. Offsets follow the versioned payload layouts
// (docs/ring-state-format.md, docs/capture-format.md "Notify (kind 6)"), so hovering a field in
// Detail highlights its bytes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "captures/model/store.hpp"
#include "decoders/vhost_user/message.hpp"

namespace vhs::view {

// Field tree of a RingState or Notify record; empty for any other record kind. An undecodable
// payload gives one field saying why.
std::vector<Field> sample_fields(const Store& store, size_t i);

// The message list's summary of a RingState record, most telling part first:
// "q0 1 in flight · oldest head 0: READ sector 8 len 4096 · avail 6 used 5". Other kinds: "".
std::string ring_state_summary(const Store& store, size_t i);

}  // namespace vhs::view
