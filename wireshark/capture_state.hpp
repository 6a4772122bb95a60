// What the dissector remembers about one open capture file: every record of the first pass fed
// through the project's own ingest path (pseudo-header decoding, then Store::append: message
// decoding with the session's context, the session analyser, ring timelines), keyed by frame
// number. Wireshark dissects frames in file order on its first pass and again, in any order, when
// it builds trees later; the later passes read what the first one stored. No Wireshark headers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "captures/format/pseudo_header.hpp"
#include "captures/model/store.hpp"

namespace vhs::wireshark {

struct FrameRecord {
  bool seen = false;  // ingested on the first pass
  PacketStatus status = PacketStatus::Corrupt;
  std::string why;            // Corrupt: what is wrong
  uint32_t entry = kNoEntry;  // the Store entry; kNoEntry when not ingested
  // Set on frames after the first corrupt one: vhostscope's reader stops there, so they are
  // decoded on their own (no session context) and take no part in the analysis.
  bool after_corrupt = false;
};

class CaptureState {
 public:
  // First pass, frames in file order. Frames seen before are ignored (a dissector may be called
  // twice for one frame).
  void ingest(uint32_t frame, std::span<const uint8_t> packet, bool captured_short,
              uint64_t timestamp_ns);

  // Later passes: every frame has been ingested, so session-wide findings (requests never
  // answered) can be attributed. Idempotent.
  void finish();
  bool finished() const { return finished_; }

  const FrameRecord* frame(uint32_t frame) const;
  // The frame a Store entry came from; 0 when unknown.
  uint32_t frame_of_entry(uint32_t entry) const;

  const Store& store() const { return store_; }

 private:
  Store store_;
  std::vector<FrameRecord> frames_;     // index = frame number (frame 0 does not exist)
  std::vector<uint32_t> entry_frames_;  // index = Store entry
  bool stopped_ = false;                // a corrupt record was seen
  bool finished_ = false;
};

}  // namespace vhs::wireshark
