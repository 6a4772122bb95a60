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

// VIRTIO_NET_F_MRG_RXBUF (bit 15), and the offloads that make a receive
// buffer need room for 64 KiB without merging (GUEST_TSO4 7, GUEST_TSO6 8, GUEST_UFO 10).
inline constexpr uint64_t kNetMergeableRxBuffers = 1ull << 15;
// VERSION_1 (bit 32) or ANY_LAYOUT (bit 27): the header need not have a descriptor of its own.
inline constexpr uint64_t kNetFreeLayout = (1ull << 32) | (1ull << 27);
inline constexpr uint64_t kNetGuestLargeReceive = (1ull << 7) | (1ull << 8) | (1ull << 10);

// The num_buffers field of a receive header (offset 10, little endian); nullopt when the header
// has no such field (10 bytes) or is cut short.
std::optional<uint16_t> net_header_num_buffers(std::span<const uint8_t> header,
                                               uint32_t header_size);

}  // namespace vhs::exercise
