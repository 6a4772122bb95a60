#include "proxy/exercise/net_frames.hpp"

#include <algorithm>
#include <cstdio>

#include "decoders/virtio/ring_detail.hpp"

namespace vhs::exercise {
namespace {

constexpr std::array<uint8_t, 4> kMarker = {'V', 'H', 'S', 'X'};
constexpr size_t kMarkerAt = 14;  // right after the Ethernet header
constexpr size_t kSeqAt = 18;
constexpr size_t kSizeAt = 22;
constexpr size_t kPatternAt = 26;

void put_be32(std::vector<uint8_t>& out, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i)
    out[at + static_cast<size_t>(i)] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

uint32_t get_be32(std::span<const uint8_t> in, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | in[at + i];
  return value;
}

}  // namespace

std::vector<uint8_t> build_exercise_frame(uint32_t seq, uint32_t size) {
  size = std::clamp(size, kMinFrameSize, kMaxFrameSize);
  std::vector<uint8_t> frame(size);
  std::copy(kExerciseDestMac.begin(), kExerciseDestMac.end(), frame.begin());
  std::copy(kExerciseSourceMac.begin(), kExerciseSourceMac.end(), frame.begin() + 6);
  frame[12] = static_cast<uint8_t>(kExerciseEtherType >> 8);
  frame[13] = static_cast<uint8_t>(kExerciseEtherType & 0xff);
  std::copy(kMarker.begin(), kMarker.end(), frame.begin() + kMarkerAt);
  put_be32(frame, kSeqAt, seq);
  put_be32(frame, kSizeAt, size);
  for (size_t i = kPatternAt; i < size; ++i)
    frame[i] = static_cast<uint8_t>((seq * 37u + i * 13u + (i >> 8)) & 0xffu);
  return frame;
}

std::optional<uint32_t> exercise_frame_seq(std::span<const uint8_t> frame) {
  if (frame.size() < kPatternAt) return std::nullopt;
  if (!std::equal(kMarker.begin(), kMarker.end(), frame.begin() + kMarkerAt)) return std::nullopt;
  return get_be32(frame, kSeqAt);
}

std::vector<uint8_t> mac_swapped(std::span<const uint8_t> frame) {
  std::vector<uint8_t> out(frame.begin(), frame.end());
  if (out.size() >= 12) std::swap_ranges(out.begin(), out.begin() + 6, out.begin() + 6);
  return out;
}

std::string frame_difference(std::span<const uint8_t> got, std::span<const uint8_t> want) {
  const size_t common = std::min(got.size(), want.size());
  for (size_t i = 0; i < common; ++i) {
    if (got[i] == want[i]) continue;
    char text[64];
    std::snprintf(text, sizeof text, "byte %zu is 0x%02x, expected 0x%02x", i, got[i], want[i]);
    return text;
  }
  if (got.size() != want.size())
    return std::to_string(got.size()) + " bytes, expected " + std::to_string(want.size());
  return {};
}

uint64_t mismatched_bytes(std::span<const uint8_t> got, std::span<const uint8_t> want) {
  const size_t common = std::min(got.size(), want.size());
  uint64_t differ = std::max(got.size(), want.size()) - common;
  for (size_t i = 0; i < common; ++i) differ += got[i] != want[i];
  return differ;
}

NetFraming::NetFraming(uint64_t features)
    : features_(features),
      header_size_(net_header_size(features)),
      separate_header_((features & kNetFreeLayout) == 0),
      mergeable_((features & kNetMergeableRxBuffers) != 0) {}

uint32_t NetFraming::whole_rx_buffer_bytes() const {
  constexpr uint32_t kLargeReceiveBytes = 65550;
  return header_size_ +
         (!mergeable_ && (features_ & kNetGuestLargeReceive) ? kLargeReceiveBytes : kMaxFrameSize);
}

ChainRequest NetFraming::rx_chain(uint32_t buffer_bytes) const {
  ChainRequest chain;
  if (separate_header_)
    chain.writable_sizes = {header_size_, buffer_bytes - header_size_};
  else
    chain.writable_sizes = {buffer_bytes};
  return chain;
}

ChainRequest NetFraming::tx_chain(std::span<const uint8_t> frame) const {
  ChainRequest chain;
  std::vector<uint8_t> packet(header_size_, 0);
  if (separate_header_) {
    chain.readable = {std::move(packet), std::vector<uint8_t>(frame.begin(), frame.end())};
  } else {
    packet.insert(packet.end(), frame.begin(), frame.end());
    chain.readable = {std::move(packet)};
  }
  return chain;
}

std::vector<uint8_t> used_bytes(const ChainCompletion& c) {
  std::vector<uint8_t> bytes;
  for (const auto& buffer : c.written) {
    if (bytes.size() >= c.used_len) break;
    const size_t take = std::min<size_t>(buffer.size(), c.used_len - bytes.size());
    bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(take));
  }
  return bytes;
}

std::optional<uint16_t> net_header_num_buffers(std::span<const uint8_t> header,
                                               uint32_t header_size) {
  if (header_size < 12 || header.size() < 12) return std::nullopt;
  return static_cast<uint16_t>(header[10] | (header[11] << 8));
}

}  // namespace vhs::exercise
