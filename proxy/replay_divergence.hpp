// What a replay found different from the recording: a reply field with another value, a reply
// that never came, a message the recording does not have (or lacks), a connection that closed
// where the recording went on. Plain data plus its one-line text, shared by the CLI and tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "captures/diff/diff_fields.hpp"
#include "captures/model/store.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

enum class DivergenceKind : uint8_t {
  ValueDiffers,    // same message, different field values (`changes`)
  MissingReply,    // the recording has a reply; none came within the timeout
  MissingMessage,  // the recording has a message the peer never sent
  ExtraMessage,    // the peer sent a message the recording does not have there
  Disconnect,      // the connection closed where the recording went on, or stayed open
                   // where the recording closed
};

std::string_view divergence_kind_name(DivergenceKind k);  // "value", "missing-reply", ...

struct Divergence {
  DivergenceKind kind = DivergenceKind::ValueDiffers;
  uint32_t recorded_entry = kNoEntry;  // store entry of the recording it is about, if any
  Channel channel = Channel::Frontend;
  std::string message;               // "GET_FEATURES reply", "BACKEND_CONFIG_CHANGE_MSG request"
  std::vector<FieldChange> changes;  // ValueDiffers
  std::string detail;                // the other kinds: what happened instead

  // True when every change is an expected one (addresses, ring progress): a note, not a
  // divergence.
  bool expected() const;
};

// "#12 GET_FEATURES reply: features: recorded 0x140000000 (...), replayed 0x140000020 (...)"
// one line per real change (and per expected change when `with_expected`, marked "(expected:
// why)"); the other kinds as one line "#40 GET_VRING_BASE reply: missing-reply: ...".
std::vector<std::string> divergence_lines(const Divergence& d, bool with_expected = false);

}  // namespace vhs
