// What a descriptor chain carries: the generic chain view shared by split and packed rings, and the
// device-aware readings of it (virtio-blk request, virtio-net header, virtio-fs FUSE headers). The
// blk request-type and FUSE opcode name tables live only here.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "decoders/virtio/guest_memory.hpp"

namespace vhs {

// Descriptor flags (VIRTIO spec "The Virtqueue Descriptor Table", "Packed Virtqueues").
inline constexpr uint16_t kDescNext = 0x1;
inline constexpr uint16_t kDescWrite = 0x2;
inline constexpr uint16_t kDescIndirect = 0x4;
inline constexpr uint16_t kPackedDescAvail = 0x80;
inline constexpr uint16_t kPackedDescUsed = 0x8000;

// Why a chain walk stopped early or what is wrong with the chain. The walk always stops at the
// first problem; descriptors read before it are kept.
enum class ChainError : uint8_t {
  None = 0,
  HeadOutOfRange,     // head index >= queue size
  NextOutOfRange,     // next >= queue size / indirect table length; packed: chain runs past the
                      // available descriptors
  Loop,               // more descriptors than the queue (or indirect table) holds
  NestedIndirect,     // INDIRECT inside an indirect table
  IndirectWithNext,   // INDIRECT and NEXT on one descriptor
  IndirectBadLength,  // indirect table length 0, not a multiple of 16, or over 32768 entries
  TableUnreadable,    // the descriptor (or indirect table) itself is not in guest memory
  BufferUnmapped,     // a buffer [addr, addr + len) is not in guest memory (walk continues)
};

std::string_view chain_error_name(ChainError e);

struct ChainDesc {
  uint64_t addr = 0;
  uint32_t len = 0;
  uint16_t flags = 0;
  uint16_t index = 0;  // position in the descriptor table/ring, or in the indirect table
  bool in_indirect = false;
  bool device_writable() const { return (flags & kDescWrite) != 0; }
};

// One buffer's descriptor chain. Reuse one Chain across walks: clear() keeps the vector's
// capacity, so steady-state walking does not allocate.
struct Chain {
  uint16_t head = 0;  // split: head descriptor index; packed: ring slot of the first desc
  uint16_t id = 0;    // packed: buffer id (last descriptor, spec 2.8.6); split: == head
  uint16_t ring_descs =
      0;  // descriptors taken from the table/ring (indirect table entries excluded)
  std::vector<ChainDesc> descs;  // data descriptors in order (an INDIRECT descriptor is replaced by
                                 // its table's entries)
  uint64_t readable_bytes = 0;   // sum of device-readable lengths
  uint64_t writable_bytes = 0;   // sum of device-writable lengths
  ChainError error = ChainError::None;  // first problem (BufferUnmapped does not stop the walk)
  uint32_t error_at = 0;                // descriptor index (table or indirect) where it was seen
  uint64_t error_value = 0;             // offending next / length / address

  void clear();
  void add(const ChainDesc& d);  // appends and updates the byte totals
};

// Copies bytes from the concatenation of the chain's device-readable (or device-writable)
// buffers, starting `offset` bytes into that stream. Returns how many bytes were copied (fewer
// than out.size() when the stream is shorter or a buffer is unreadable).
size_t read_chain_bytes(const GuestMemoryView& mem, const Chain& chain, bool writable,
                        uint64_t offset, std::span<uint8_t> out);

// Generic view: "3 descs: R 16 @0x1000, W 4096 @0x2000, W 1 @0x3000".
std::string describe_chain(const Chain& chain);

// ---- virtio-blk (VIRTIO spec "Block Device", "Device Operation") ----

std::string_view blk_type_name(uint32_t type);     // "READ", "WRITE", ...; "" if unknown
std::string_view blk_status_name(uint8_t status);  // "OK", "IOERR", "UNSUPP", ...; "" if unknown

struct BlkRequest {
  bool header_ok = false;  // the 16-byte header was readable
  uint32_t type = 0;       // raw, legacy barrier bit 0x80000000 included
  uint32_t ioprio = 0;
  uint64_t sector = 0;      // 512-byte units
  uint64_t data_len = 0;    // bytes between header and status: readable - 16 + writable - 1
  bool has_status = false;  // a device-writable byte exists at the end of the chain
  uint8_t status = 0;  // last byte of the last device-writable descriptor; meaningful once used
  // DISCARD / WRITE_ZEROES / SECURE_ERASE: the first segment (16 bytes after the header).
  bool has_segment = false;
  uint64_t seg_sector = 0;
  uint32_t seg_sectors = 0;
  uint32_t seg_flags = 0;
};

BlkRequest decode_blk_request(const GuestMemoryView& mem, const Chain& chain);
// "READ sector 2048 len 4096", "+ status OK" when `completed`.
std::string describe_blk_request(const BlkRequest& req, bool completed);

// ---- virtio-net (VIRTIO spec "Network Device", "Device Operation") ----

struct NetHeader {
  bool ok = false;
  bool tx = false;           // header read from the readable (TX) or writable (RX) side
  uint32_t header_size = 0;  // 12 (VERSION_1 or MRG_RXBUF) or 10
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0, num_buffers = 0;
  uint64_t packet_len = 0;  // bytes after the header on that side
  // The Ethernet frame after the header: its EtherType (or 802.3 length), when 14 bytes of it
  // were readable.
  bool frame_ok = false;
  uint16_t ethertype = 0;
};

// Queue 2k is rx k, 2k+1 is tx k (the control queue stays in QEMU, VIRTIO spec "Network Device",
// "Virtqueues").
inline bool net_queue_is_tx(uint32_t queue) { return (queue & 1u) != 0; }
inline uint32_t net_header_size(uint64_t features) {
  return ((features >> 32) & 1u) || ((features >> 15) & 1u) ? 12 : 10;  // VERSION_1, MRG_RXBUF
}
std::string_view net_gso_name(uint8_t gso_type);  // "NONE", "TCPV4", ...; "" if unknown
// "IPv4", "ARP", "IPv6", "VLAN", ...; "802.3" for a length field (< 0x600); else "ethertype
// 0x88b5".
std::string net_frame_type(uint16_t ethertype);
NetHeader decode_net_header(const GuestMemoryView& mem, const Chain& chain, bool tx,
                            uint32_t header_size);
// "TX 1514 bytes IPv4 gso TCPV4 size 1448 csum 34+16", "RX 60 bytes ARP gso NONE buffers 1".
std::string describe_net_header(const NetHeader& h);

// ---- virtio-fs (FUSE over virtio: VIRTIO spec "File System Device") ----

std::string_view fuse_opcode_name(uint32_t opcode);  // "LOOKUP", "READ", ...; "" if unknown

struct FuseRequest {
  bool in_ok = false;  // fuse_in_header (40 bytes) readable from the device-readable side
  uint32_t len = 0, opcode = 0;
  uint64_t unique = 0, nodeid = 0;
  uint32_t uid = 0, gid = 0, pid = 0;
  bool out_ok = false;  // fuse_out_header (16 bytes) readable from the writable side
  uint32_t out_len = 0;
  int32_t error = 0;
  uint64_t out_unique = 0;
};

FuseRequest decode_fuse_request(const GuestMemoryView& mem, const Chain& chain);
// "READ unique 42 nodeid 7 len 80", "+ -> error 0 len 4112" when completed.
std::string describe_fuse_request(const FuseRequest& req, bool completed);

// ---- compact per-buffer summary (goes into RingState records) ----

// What the hang rules and an offline view need to know about one in-flight buffer without guest
// memory: fixed size, no strings.
struct BufferSummary {
  uint16_t head = 0;                        // split head index / packed buffer id
  uint16_t descs = 0;                       // data descriptors in the chain
  DeviceKind device = DeviceKind::Unknown;  // how op/arg/data_len were read
  ChainError error = ChainError::None;
  uint32_t op = 0;        // blk: request type; fs: FUSE opcode; net TX: gso_type | flags << 8 |
                          // ethertype << 16 (0: frame not readable)
  uint64_t arg = 0;       // blk: sector; fs: unique; net: gso_size
  uint64_t data_len = 0;  // blk: data bytes; fs: fuse len; net: packet bytes after the header
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
  bool detail_ok = false;  // op/arg/data_len were read from guest memory

  bool operator==(const BufferSummary&) const = default;
};

// Device context for summaries: which device, and for net the queue direction and header size.
struct DetailContext {
  DeviceKind device = DeviceKind::Unknown;
  uint32_t queue = 0;
  uint64_t features = 0;  // acked virtio features (net header size)
};

// The raw head of one in-flight chain, kept in RingState records so that the device detail can
// be derived again offline (`--device`, or a device recognised later in the capture).
// kChainHeadBytes is enough for every request header read above: a blk header and its first
// DISCARD segment (32 bytes), a FUSE in-header (40), a virtio-net header and the Ethernet header
// after it (12 + 14).
inline constexpr size_t kChainHeadBytes = 40;

struct ChainHead {
  uint16_t head = 0;   // split head index / packed buffer id
  uint16_t descs = 0;  // data descriptors in the chain
  ChainError error = ChainError::None;
  uint8_t byte_count = 0;  // valid bytes in `bytes` (the rest are 0)
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
  // The first bytes of the device-readable stream (any framing: the request header is read
  // across descriptors, VIRTIO spec "Message Framing").
  std::array<uint8_t, kChainHeadBytes> bytes{};

  bool operator==(const ChainHead&) const = default;
};

// Copies the chain's shape and the first kChainHeadBytes of its device-readable bytes.
void capture_chain_head(const GuestMemoryView& mem, const Chain& chain, ChainHead& out);
// The summary of a buffer from its raw head alone (what summarize_buffer reads, without guest
// memory).
BufferSummary summarize_chain_head(const ChainHead& head, const DetailContext& ctx);

BufferSummary summarize_buffer(const GuestMemoryView& mem, const Chain& chain,
                               const DetailContext& ctx);

// ---- recognising the device from its requests ----

// Whether `b`, read as its device kind, looks like a request that device's driver makes on
// `queue`: the header's values are valid and the chain's readable/writable split fits the
// request (VIRTIO spec "Block Device" / "File System Device" / "Network Device", "Device
// Operation"). False for a summary without detail.
bool plausible_request(const BufferSummary& b, uint32_t queue);
// Without header bytes (a capture that kept only the generic fields): the device kind whose
// requests have this readable/writable split (blk: a 16-byte header with data and a status byte;
// fs: a FUSE in-header and room for an out-header), Unknown when none or several fit.
DeviceKind request_shape_kind(const BufferSummary& b);
// The one device kind whose request `head` is on `queue`, Unknown when none or several fit.
DeviceKind recognise_chain_head(const ChainHead& head, uint32_t queue, uint64_t features);
// "head 4: READ sector 2048 len 4096" / "head 3: LOOKUP unique 9 len 45" / "head 7: TX 42 bytes
// ARP gso NONE" / "head 0: RX buffer 1536 bytes, empty until a packet arrives" / generic
// "head 2: 3 descs, 16 readable + 4097 writable bytes".
std::string describe_buffer(const BufferSummary& b);

}  // namespace vhs
