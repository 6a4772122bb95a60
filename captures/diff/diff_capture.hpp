// Message-level diff of two recorded sessions (two QEMU versions, before/after a fix): the
// message sequences are aligned on (kind, channel, direction, request, role) with a shortest edit
// script, then aligned messages are compared field by field (diff_fields.hpp). Pure: two stores
// in, a list of operations out; app/common/diff_format.hpp renders it.
#pragma once

#include <functional>

#include <cstdint>
#include <span>
#include <vector>

#include "captures/diff/diff_fields.hpp"
#include "captures/model/store.hpp"

namespace vhs {

struct DiffOptions {
  AddressPolicy addresses = AddressPolicy::Compare;  // ExpectAll for --ignore-addresses
  // When set, only entries it accepts take part (a presenter's record filter).
  std::function<bool(const Store&, uint32_t)> include;
};

struct DiffOp {
  enum class Kind : uint8_t {
    Same,     // aligned, no difference (or expected ones only: see `changes`)
    Changed,  // aligned, fields differ
    OnlyA,    // in the first session only
    OnlyB,    // in the second session only
  };
  Kind kind = Kind::Same;
  uint32_t a = kNoEntry;  // store entry in A (Same, Changed, OnlyA)
  uint32_t b = kNoEntry;  // store entry in B (Same, Changed, OnlyB)
  std::vector<FieldChange> changes;
};

struct CaptureDiff {
  std::vector<DiffOp> ops;
  size_t same = 0, changed = 0, only_a = 0, only_b = 0;
  bool identical() const { return changed == 0 && only_a == 0 && only_b == 0; }
};

// Entries of a session that take part in a diff: messages (whole ones), disconnects and
// transport errors, in order. Connect records are not compared (their notes name processes).
std::vector<uint32_t> diff_entries(const Store& store, const StoreSession& session);

// The key an entry is aligned on.
uint64_t diff_key(const StoreEntry& entry);

MessageView message_view(const Store& store, uint32_t entry);
// One side's device is known, the other's not (a reconnect without GET_CONFIG, a capture without
// the messages that tell): both are decoded as the known device, so values are compared and
// named alike. Two known kinds stay as they are.
void decode_alike(MessageView& a, MessageView& b);

CaptureDiff diff_sessions(const Store& a, const StoreSession& sa, const Store& b,
                          const StoreSession& sb, const DiffOptions& options = {});

}  // namespace vhs
