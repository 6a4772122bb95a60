// The Ethernet frames the net workload sends and recognises when they come back, and the
// virtio_net_hdr framing around them (VIRTIO "Network Device", "Device Operation": every buffer
// on either queue starts with the header; 12 bytes with VERSION_1 or MRG_RXBUF, else 10).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proxy/exercise/driver_io.hpp"

namespace vhs::exercise {

// Locally administered unicast addresses, distinct so a MAC swap is visible.
inline constexpr std::array<uint8_t, 6> kExerciseDestMac = {0x02, 0x56, 0x48, 0x53, 0x00, 0x02};
inline constexpr std::array<uint8_t, 6> kExerciseSourceMac = {0x02, 0x56, 0x48, 0x53, 0x00, 0x01};
// IEEE 802 "local experimental" EtherType: no stack on the way acts on it.
inline constexpr uint16_t kExerciseEtherType = 0x88b5;
inline constexpr uint32_t kMinFrameSize = 60;    // Ethernet minimum without the FCS
inline constexpr uint32_t kMaxFrameSize = 1514;  // 1500-byte MTU plus the Ethernet header

// Frame `seq` of `size` bytes (clamped to 60..1514): the two MACs, the EtherType, a marker,
// the sequence number and the size, then bytes that depend on both, so a frame delivered to
// the wrong place or cut short does not compare equal.
std::vector<uint8_t> build_exercise_frame(uint32_t seq, uint32_t size);
// The sequence number of a frame this workload built (the marker is found); nullopt otherwise.
std::optional<uint32_t> exercise_frame_seq(std::span<const uint8_t> frame);
// The frame with its destination and source MAC addresses exchanged (testpmd "macswap").
std::vector<uint8_t> mac_swapped(std::span<const uint8_t> frame);
// "byte 40 is 0x12, expected 0x34", "1000 bytes, expected 1514"; empty when equal.
std::string frame_difference(std::span<const uint8_t> got, std::span<const uint8_t> want);
// How many bytes differ: those of the common length that are not equal, plus every byte one
// frame has beyond the other. 0 when equal.
uint64_t mismatched_bytes(std::span<const uint8_t> got, std::span<const uint8_t> want);

// VIRTIO_NET_F_MRG_RXBUF (bit 15), and the offloads that make a receive
// buffer need room for 64 KiB without merging (GUEST_TSO4 7, GUEST_TSO6 8, GUEST_UFO 10).
inline constexpr uint64_t kNetMergeableRxBuffers = 1ull << 15;
// VERSION_1 (bit 32) or ANY_LAYOUT (bit 27): the header need not have a descriptor of its own.
inline constexpr uint64_t kNetFreeLayout = (1ull << 32) | (1ull << 27);
inline constexpr uint64_t kNetGuestLargeReceive = (1ull << 7) | (1ull << 8) | (1ull << 10);

// How this driver frames virtio-net buffers for the acked features. A legacy device without
// ANY_LAYOUT expects the header alone in the first descriptor of every buffer (VIRTIO "Legacy
// Interface: Message Framing"); otherwise one descriptor per receive buffer, and the frame right
// after its header in the same transmit descriptor.
class NetFraming {
 public:
  explicit NetFraming(uint64_t features);

  uint32_t header_size() const { return header_size_; }
  bool separate_header() const { return separate_header_; }
  bool mergeable() const { return mergeable_; }
  // Descriptors one receive buffer or one transmitted frame takes.
  uint32_t descriptors_per_chain() const { return separate_header_ ? 2 : 1; }
  // Writable bytes (header included) of a receive buffer that holds any frame whole: without
  // MRG_RXBUF it must hold the largest packet the acked offloads allow, 1514 bytes after the
  // header or 65550 with large receive offloads (VIRTIO "Setting Up Receive Buffers").
  uint32_t whole_rx_buffer_bytes() const;

  // One receive buffer of `buffer_bytes` writable bytes (header included).
  ChainRequest rx_chain(uint32_t buffer_bytes) const;
  // One frame to transmit behind an all-zero virtio_net_hdr (no offloads asked).
  ChainRequest tx_chain(std::span<const uint8_t> frame) const;

 private:
  uint64_t features_;
  uint32_t header_size_;
  bool separate_header_;
  bool mergeable_;
};

// The bytes the device wrote into one chain: its writable buffers in order, cut at the used length.
std::vector<uint8_t> used_bytes(const ChainCompletion& c);

// The num_buffers field of a receive header (offset 10, little endian); nullopt when the header
// has no such field (10 bytes) or is cut short.
std::optional<uint16_t> net_header_num_buffers(std::span<const uint8_t> header,
                                               uint32_t header_size);

}  // namespace vhs::exercise
