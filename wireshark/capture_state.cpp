// See capture_state.hpp.
#include "wireshark/capture_state.hpp"

namespace vhs::wireshark {

void CaptureState::ingest(uint32_t frame, std::span<const uint8_t> packet, bool captured_short,
                          uint64_t timestamp_ns) {
  if (frame < frames_.size() && frames_[frame].seen) return;
  if (frames_.size() <= frame) frames_.resize(size_t{frame} + 1);
  FrameRecord& out = frames_[frame];
  out.seen = true;
  Record record;
  out.status = decode_packet(packet, captured_short, record, out.why);
  if (out.status == PacketStatus::Corrupt) {
    if (out.why.empty()) out.why = "corrupt record";
    stopped_ = true;
    return;
  }
  if (out.status != PacketStatus::Ok) return;
  if (stopped_) {
    out.after_corrupt = true;
    return;
  }
  record.timestamp_ns = timestamp_ns;
  out.entry = static_cast<uint32_t>(store_.size());
  store_.append(record);
  entry_frames_.push_back(frame);
}

void CaptureState::finish() {
  if (finished_) return;
  finished_ = true;
  store_.finish();
}

const FrameRecord* CaptureState::frame(uint32_t frame) const {
  if (frame >= frames_.size()) return nullptr;
  return frames_[frame].seen ? &frames_[frame] : nullptr;
}

uint32_t CaptureState::frame_of_entry(uint32_t entry) const {
  return entry < entry_frames_.size() ? entry_frames_[entry] : 0;
}

}  // namespace vhs::wireshark
