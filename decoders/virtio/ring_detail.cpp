// Device-aware readings of descriptor chains and the generic chain view; the blk request-type,
// blk status and FUSE opcode name tables.
#include "decoders/virtio/ring_detail.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace vhs {
namespace {

struct NamedCode {
  uint32_t code;
  std::string_view name;
};

std::string_view lookup(std::span<const NamedCode> table, uint32_t code) {
  for (const NamedCode& n : table)
    if (n.code == code) return n.name;
  return {};
}

// virtio spec 5.2.6 (VIRTIO_BLK_T_*); IN/OUT shown as READ/WRITE, which is what they mean.
constexpr NamedCode kBlkTypes[] = {
    {0, "READ"},          {1, "WRITE"},         {2, "SCSI_CMD"},     {4, "FLUSH"},
    {8, "GET_ID"},        {10, "GET_LIFETIME"}, {11, "DISCARD"},     {13, "WRITE_ZEROES"},
    {14, "SECURE_ERASE"}, {15, "ZONE_APPEND"},  {16, "ZONE_REPORT"}, {18, "ZONE_OPEN"},
    {20, "ZONE_CLOSE"},   {22, "ZONE_FINISH"},  {24, "ZONE_RESET"},  {26, "ZONE_RESET_ALL"},
    {27, "WRITE_FUA"},
};

constexpr NamedCode kBlkStatus[] = {
    {0, "OK"},
    {1, "IOERR"},
    {2, "UNSUPP"},
    {3, "ZONE_INVALID_CMD"},
    {4, "ZONE_UNALIGNED_WP"},
    {5, "ZONE_OPEN_RESOURCE"},
    {6, "ZONE_ACTIVE_RESOURCE"},
};

constexpr uint32_t kBlkBarrier = 0x80000000u;  // legacy flag ORed into the type

// Linux include/uapi/linux/fuse.h enum fuse_opcode (7.45).
constexpr NamedCode kFuseOpcodes[] = {
    {1, "LOOKUP"},        {2, "FORGET"},         {3, "GETATTR"},
    {4, "SETATTR"},       {5, "READLINK"},       {6, "SYMLINK"},
    {8, "MKNOD"},         {9, "MKDIR"},          {10, "UNLINK"},
    {11, "RMDIR"},        {12, "RENAME"},        {13, "LINK"},
    {14, "OPEN"},         {15, "READ"},          {16, "WRITE"},
    {17, "STATFS"},       {18, "RELEASE"},       {20, "FSYNC"},
    {21, "SETXATTR"},     {22, "GETXATTR"},      {23, "LISTXATTR"},
    {24, "REMOVEXATTR"},  {25, "FLUSH"},         {26, "INIT"},
    {27, "OPENDIR"},      {28, "READDIR"},       {29, "RELEASEDIR"},
    {30, "FSYNCDIR"},     {31, "GETLK"},         {32, "SETLK"},
    {33, "SETLKW"},       {34, "ACCESS"},        {35, "CREATE"},
    {36, "INTERRUPT"},    {37, "BMAP"},          {38, "DESTROY"},
    {39, "IOCTL"},        {40, "POLL"},          {41, "NOTIFY_REPLY"},
    {42, "BATCH_FORGET"}, {43, "FALLOCATE"},     {44, "READDIRPLUS"},
    {45, "RENAME2"},      {46, "LSEEK"},         {47, "COPY_FILE_RANGE"},
    {48, "SETUPMAPPING"}, {49, "REMOVEMAPPING"}, {50, "SYNCFS"},
    {51, "TMPFILE"},      {52, "STATX"},         {53, "COPY_FILE_RANGE_64"},
    {4096, "CUSE_INIT"},
};

constexpr NamedCode kNetGso[] = {
    {0, "NONE"}, {1, "TCPV4"}, {3, "UDP"}, {4, "TCPV6"}, {5, "UDP_L4"},
};

constexpr uint8_t kNetGsoEcn = 0x80;
constexpr uint8_t kNetHdrNeedsCsum = 0x1;  // VIRTIO spec "Network Device / Device Operation"
constexpr uint8_t kNetHdrDataValid = 0x2;

// IEEE 802 EtherTypes seen on a test or guest link.
constexpr NamedCode kEtherTypes[] = {
    {0x0800, "IPv4"}, {0x0806, "ARP"},  {0x8035, "RARP"}, {0x86dd, "IPv6"},
    {0x8100, "VLAN"}, {0x88a8, "QinQ"}, {0x88cc, "LLDP"},
};
constexpr uint16_t kMinEtherType = 0x600;  // smaller values are an 802.3 length field

// Request types whose header sector addresses data in the chain.
bool blk_type_has_sector(uint32_t type) {
  return type == 0 || type == 1 || type == 15 || type == 27;
}

bool blk_type_has_segments(uint32_t type) { return type == 11 || type == 13 || type == 14; }

std::string blk_type_label(uint32_t raw) {
  const uint32_t type = raw & ~kBlkBarrier;
  std::string_view name = blk_type_name(type);
  std::string label = name.empty() ? fmt::format("type {}", type) : std::string(name);
  if (raw & kBlkBarrier) label += "|BARRIER";
  return label;
}

std::string fuse_label(uint32_t opcode) {
  std::string_view name = fuse_opcode_name(opcode);
  return name.empty() ? fmt::format("opcode {}", opcode) : std::string(name);
}

std::string gso_label(uint8_t gso_type) {
  std::string_view name = net_gso_name(gso_type & ~kNetGsoEcn);
  std::string label = name.empty() ? fmt::format("{}", gso_type & ~kNetGsoEcn) : std::string(name);
  if (gso_type & kNetGsoEcn) label += "|ECN";
  return label;
}

}  // namespace

std::string_view chain_error_name(ChainError e) {
  switch (e) {
    case ChainError::None: return "none";
    case ChainError::HeadOutOfRange: return "head out of range";
    case ChainError::NextOutOfRange: return "next out of range";
    case ChainError::Loop: return "loop";
    case ChainError::NestedIndirect: return "nested indirect table";
    case ChainError::IndirectWithNext: return "INDIRECT with NEXT";
    case ChainError::IndirectBadLength: return "bad indirect table length";
    case ChainError::TableUnreadable: return "descriptor not in guest memory";
    case ChainError::BufferUnmapped: return "buffer not in guest memory";
  }
  return "unknown";
}

void Chain::clear() {
  head = id = ring_descs = 0;
  descs.clear();
  readable_bytes = writable_bytes = 0;
  error = ChainError::None;
  error_at = 0;
  error_value = 0;
}

void Chain::add(const ChainDesc& d) {
  descs.push_back(d);
  (d.device_writable() ? writable_bytes : readable_bytes) += d.len;
}

size_t read_chain_bytes(const GuestMemoryView& mem, const Chain& chain, bool writable,
                        uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  uint64_t skip = offset;
  for (const ChainDesc& d : chain.descs) {
    if (done == out.size()) break;
    if (d.device_writable() != writable) continue;
    if (skip >= d.len) {
      skip -= d.len;
      continue;
    }
    const uint64_t avail = d.len - skip;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(avail, out.size() - done));
    if (!range_fits(d.addr, skip + n) || !mem.read(d.addr + skip, out.subspan(done, n))) break;
    done += n;
    skip = 0;
  }
  return done;
}

std::string describe_chain(const Chain& chain) {
  constexpr size_t kShown = 16;  // a view line, not a dump: long chains end in "..."
  std::string s = fmt::format("{} desc{}", chain.descs.size(), chain.descs.size() == 1 ? "" : "s");
  for (size_t i = 0; i < chain.descs.size() && i < kShown; ++i) {
    const ChainDesc& d = chain.descs[i];
    s += fmt::format("{} {}{} {} @{:#x}", i == 0 ? ":" : ",", d.in_indirect ? "i" : "",
                     d.device_writable() ? "W" : "R", d.len, d.addr);
  }
  if (chain.descs.size() > kShown) s += ", ...";
  if (chain.error != ChainError::None)
    s += fmt::format(" [{} at {}]", chain_error_name(chain.error), chain.error_at);
  return s;
}

// ---- virtio-blk ----

std::string_view blk_type_name(uint32_t type) { return lookup(kBlkTypes, type); }
std::string_view blk_status_name(uint8_t status) { return lookup(kBlkStatus, status); }

BlkRequest decode_blk_request(const GuestMemoryView& mem, const Chain& chain) {
  BlkRequest r;
  // VERSION_1 lets the driver frame the request any way it likes (spec 2.6.4), so the header is
  // read from the readable byte stream, not from "the first descriptor".
  std::array<uint8_t, 16> hdr{};
  r.header_ok = read_chain_bytes(mem, chain, false, 0, hdr) == hdr.size();
  if (r.header_ok) {
    r.type = load_le32(hdr.data());
    r.ioprio = load_le32(hdr.data() + 4);
    r.sector = load_le64(hdr.data() + 8);
  }
  r.data_len = (chain.readable_bytes > 16 ? chain.readable_bytes - 16 : 0) +
               (chain.writable_bytes > 1 ? chain.writable_bytes - 1 : 0);
  for (auto it = chain.descs.rbegin(); it != chain.descs.rend(); ++it) {
    if (!it->device_writable()) continue;
    if (it->len >= 1 && range_fits(it->addr, it->len)) {
      std::array<uint8_t, 1> st{};
      r.has_status = mem.read(it->addr + it->len - 1, st);
      r.status = st[0];
    }
    break;
  }
  if (r.header_ok && blk_type_has_segments(r.type & ~kBlkBarrier)) {
    std::array<uint8_t, 16> seg{};
    r.has_segment = read_chain_bytes(mem, chain, false, 16, seg) == seg.size();
    if (r.has_segment) {
      r.seg_sector = load_le64(seg.data());
      r.seg_sectors = load_le32(seg.data() + 8);
      r.seg_flags = load_le32(seg.data() + 12);
    }
  }
  return r;
}

std::string describe_blk_request(const BlkRequest& req, bool completed) {
  if (!req.header_ok) return "blk header unreadable";
  const uint32_t type = req.type & ~kBlkBarrier;
  std::string s = blk_type_label(req.type);
  if (blk_type_has_sector(type)) {
    s += fmt::format(" sector {} len {}", req.sector, req.data_len);
  } else if (req.has_segment) {
    s += fmt::format(" sector {} sectors {}", req.seg_sector, req.seg_sectors);
    if (req.seg_flags & 1u) s += " unmap";
  } else if (req.data_len > 0) {
    s += fmt::format(" len {}", req.data_len);
  }
  if (completed) {
    if (!req.has_status) {
      s += " status missing";
    } else {
      std::string_view name = blk_status_name(req.status);
      s +=
          name.empty() ? fmt::format(" status {:#x}", req.status) : fmt::format(" status {}", name);
    }
  }
  return s;
}

// ---- virtio-net ----

std::string_view net_gso_name(uint8_t gso_type) { return lookup(kNetGso, gso_type); }

std::string net_frame_type(uint16_t ethertype) {
  if (ethertype < kMinEtherType) return "802.3";
  std::string_view name = lookup(kEtherTypes, ethertype);
  return name.empty() ? fmt::format("ethertype {:#06x}", ethertype) : std::string(name);
}

NetHeader decode_net_header(const GuestMemoryView& mem, const Chain& chain, bool tx,
                            uint32_t header_size) {
  NetHeader h;
  h.tx = tx;
  h.header_size = header_size == 10 ? 10 : 12;
  std::array<uint8_t, 12> b{};
  const std::span<uint8_t> want(b.data(), h.header_size);
  h.ok = read_chain_bytes(mem, chain, !tx, 0, want) == want.size();
  if (!h.ok) return h;
  h.flags = b[0];
  h.gso_type = b[1];
  h.hdr_len = load_le16(b.data() + 2);
  h.gso_size = load_le16(b.data() + 4);
  h.csum_start = load_le16(b.data() + 6);
  h.csum_offset = load_le16(b.data() + 8);
  if (h.header_size == 12) h.num_buffers = load_le16(b.data() + 10);
  const uint64_t side = tx ? chain.readable_bytes : chain.writable_bytes;
  h.packet_len = side > h.header_size ? side - h.header_size : 0;
  // The frame follows the header in the same byte stream (any framing, VIRTIO spec "Message
  // Framing"): destination, source, then the EtherType at offset 12.
  std::array<uint8_t, 14> eth{};
  h.frame_ok = read_chain_bytes(mem, chain, !tx, h.header_size, eth) == eth.size();
  if (h.frame_ok) h.ethertype = static_cast<uint16_t>((eth[12] << 8) | eth[13]);  // big endian
  return h;
}

std::string describe_net_header(const NetHeader& h) {
  if (!h.ok) return fmt::format("{} header unreadable", h.tx ? "TX" : "RX");
  std::string s = fmt::format("{} {} bytes", h.tx ? "TX" : "RX", h.packet_len);
  if (h.frame_ok) s += " " + net_frame_type(h.ethertype);
  s += " gso " + gso_label(h.gso_type);
  if ((h.gso_type & ~kNetGsoEcn) != 0) s += fmt::format(" size {}", h.gso_size);
  if (h.flags & kNetHdrNeedsCsum) s += fmt::format(" csum {}+{}", h.csum_start, h.csum_offset);
  if (h.flags & kNetHdrDataValid) s += " data-valid";
  if (!h.tx && h.header_size == 12) s += fmt::format(" buffers {}", h.num_buffers);
  return s;
}

// ---- virtio-fs ----

std::string_view fuse_opcode_name(uint32_t opcode) { return lookup(kFuseOpcodes, opcode); }

FuseRequest decode_fuse_request(const GuestMemoryView& mem, const Chain& chain) {
  FuseRequest r;
  std::array<uint8_t, 40> in{};
  r.in_ok = read_chain_bytes(mem, chain, false, 0, in) == in.size();
  if (r.in_ok) {
    r.len = load_le32(in.data());
    r.opcode = load_le32(in.data() + 4);
    r.unique = load_le64(in.data() + 8);
    r.nodeid = load_le64(in.data() + 16);
    r.uid = load_le32(in.data() + 24);
    r.gid = load_le32(in.data() + 28);
    r.pid = load_le32(in.data() + 32);
  }
  std::array<uint8_t, 16> out{};
  r.out_ok = read_chain_bytes(mem, chain, true, 0, out) == out.size();
  if (r.out_ok) {
    r.out_len = load_le32(out.data());
    r.error = static_cast<int32_t>(load_le32(out.data() + 4));
    r.out_unique = load_le64(out.data() + 8);
  }
  return r;
}

std::string describe_fuse_request(const FuseRequest& req, bool completed) {
  if (!req.in_ok) return "fuse header unreadable";
  std::string s = fmt::format("{} unique {} nodeid {} len {}", fuse_label(req.opcode), req.unique,
                              req.nodeid, req.len);
  if (completed) {
    if (req.out_ok)
      s += fmt::format(" -> error {} len {}", req.error, req.out_len);
    else
      s += " -> no reply header";
  }
  return s;
}

// ---- compact summary ----

void capture_chain_head(const GuestMemoryView& mem, const Chain& chain, ChainHead& out) {
  out.head = chain.id;
  out.descs = static_cast<uint16_t>(std::min<size_t>(chain.descs.size(), UINT16_MAX));
  out.error = chain.error;
  out.readable_bytes = chain.readable_bytes;
  out.writable_bytes = chain.writable_bytes;
  out.bytes.fill(0);
  out.byte_count = static_cast<uint8_t>(read_chain_bytes(mem, chain, false, 0, out.bytes));
}

BufferSummary summarize_chain_head(const ChainHead& head, const DetailContext& ctx) {
  BufferSummary b;
  b.head = head.head;
  b.descs = head.descs;
  b.device = ctx.device;
  b.error = head.error;
  b.readable_bytes = head.readable_bytes;
  b.writable_bytes = head.writable_bytes;
  const uint8_t* p = head.bytes.data();
  const size_t have = head.byte_count;
  switch (ctx.device) {
    case DeviceKind::Blk: {
      // VIRTIO spec "Block Device", "Device Operation": type, reserved (ioprio), sector; then, for
      // DISCARD / WRITE_ZEROES / SECURE_ERASE, the segments.
      b.data_len = (head.readable_bytes > 16 ? head.readable_bytes - 16 : 0) +
                   (head.writable_bytes > 1 ? head.writable_bytes - 1 : 0);
      b.detail_ok = have >= 16;
      if (!b.detail_ok) break;
      b.op = load_le32(p);
      b.arg = load_le64(p + 8);
      if (blk_type_has_segments(b.op & ~kBlkBarrier) && have >= 32) b.arg = load_le64(p + 16);
      break;
    }
    case DeviceKind::Fs: {
      // fuse_in_header: len, opcode, unique, nodeid, uid, gid, pid, padding (40 bytes).
      b.detail_ok = have >= 40;
      if (!b.detail_ok) break;
      b.data_len = load_le32(p);
      b.op = load_le32(p + 4);
      b.arg = load_le64(p + 8);
      break;
    }
    case DeviceKind::Net: {
      // An RX buffer's header is written by the device on completion: in flight it is garbage.
      if (!net_queue_is_tx(ctx.queue)) break;
      const uint32_t hdr = net_header_size(ctx.features);
      b.detail_ok = have >= hdr;
      if (!b.detail_ok) break;
      const uint8_t flags = p[0], gso_type = p[1];
      // The frame follows the header in the same byte stream: its EtherType is at offset 12.
      const bool frame_ok = have >= hdr + 14;
      const uint32_t ethertype =
          frame_ok ? static_cast<uint32_t>((p[hdr + 12] << 8) | p[hdr + 13]) : 0u;  // big endian
      b.op =
          static_cast<uint32_t>(gso_type) | (static_cast<uint32_t>(flags) << 8) | (ethertype << 16);
      b.arg = load_le16(p + 4);
      b.data_len = head.readable_bytes > hdr ? head.readable_bytes - hdr : 0;
      break;
    }
    default: break;
  }
  return b;
}

BufferSummary summarize_buffer(const GuestMemoryView& mem, const Chain& chain,
                               const DetailContext& ctx) {
  if (ctx.device == DeviceKind::Unknown ||
      (ctx.device == DeviceKind::Net && !net_queue_is_tx(ctx.queue))) {
    // Nothing to read from the buffers: the generic fields only.
    ChainHead head;
    head.head = chain.id;
    head.descs = static_cast<uint16_t>(std::min<size_t>(chain.descs.size(), UINT16_MAX));
    head.error = chain.error;
    head.readable_bytes = chain.readable_bytes;
    head.writable_bytes = chain.writable_bytes;
    return summarize_chain_head(head, ctx);
  }
  ChainHead head;
  capture_chain_head(mem, chain, head);
  return summarize_chain_head(head, ctx);
}

// ---- recognising the device from its requests ----

namespace {

// Data moved by READ and WRITE is a whole number of 512-byte sectors (VIRTIO spec "Block Device",
// "Device Operation": the data is "a multiple of 512 bytes").
bool whole_sectors(uint64_t bytes) { return bytes > 0 && bytes % 512 == 0; }

bool plausible_blk(const BufferSummary& b) {
  const uint32_t type = b.op & ~kBlkBarrier;
  if (blk_type_name(type).empty()) return false;
  const uint64_t r = b.readable_bytes, w = b.writable_bytes;
  if (r < 16 || w < 1) return false;  // the header, and the status byte the device writes
  switch (type) {
    case 0: return r == 16 && whole_sectors(w - 1);          // READ: data is writable
    case 1:                                                  // WRITE
    case 27: return w == 1 && whole_sectors(r - 16);         // WRITE_FUA
    case 4: return r == 16 && w == 1;                        // FLUSH
    case 8: return r == 16 && w == 21;                       // GET_ID: a 20-byte id
    case 11:                                                 // DISCARD
    case 13:                                                 // WRITE_ZEROES
    case 14: return w == 1 && r > 16 && (r - 16) % 16 == 0;  // SECURE_ERASE: segments
    default: return true;
  }
}

bool plausible_fuse(const BufferSummary& b) {
  // The in-header's len counts every device-readable byte of the request (in-header and in-args).
  if (fuse_opcode_name(b.op).empty() || b.data_len < 40 || b.data_len != b.readable_bytes)
    return false;
  // FORGET and BATCH_FORGET are answered by nothing; every other request has room for at least
  // the 16-byte fuse_out_header.
  if (b.op == 2 || b.op == 42) return b.writable_bytes == 0;
  return b.writable_bytes >= 16;
}

bool plausible_net_tx(const BufferSummary& b, uint32_t queue) {
  if (!net_queue_is_tx(queue) || b.writable_bytes != 0) return false;
  const auto gso = static_cast<uint8_t>(b.op & 0xff);
  const auto flags = static_cast<uint8_t>((b.op >> 8) & 0xff);
  const auto ethertype = static_cast<uint16_t>(b.op >> 16);
  // flags: NEEDS_CSUM, DATA_VALID, RSC_INFO; gso_type: one of the defined types, ECN bit aside.
  if ((flags & ~0x7u) != 0 || net_gso_name(gso & ~kNetGsoEcn).empty()) return false;
  // A whole Ethernet header follows, carrying an EtherType (not an 802.3 length: too weak).
  return ethertype >= kMinEtherType && b.data_len >= 14;
}

}  // namespace

bool plausible_request(const BufferSummary& b, uint32_t queue) {
  if (!b.detail_ok || b.error != ChainError::None) return false;
  switch (b.device) {
    case DeviceKind::Blk: return plausible_blk(b);
    case DeviceKind::Fs: return plausible_fuse(b);
    case DeviceKind::Net: return plausible_net_tx(b, queue);
    default: return false;
  }
}

DeviceKind request_shape_kind(const BufferSummary& b) {
  if (b.error != ChainError::None) return DeviceKind::Unknown;
  const uint64_t r = b.readable_bytes, w = b.writable_bytes;
  const bool blk = r >= 16 && w >= 1 &&
                   ((r == 16 && (w == 1 || w == 21 || whole_sectors(w - 1))) ||
                    (w == 1 && r > 16 && (r - 16) % 16 == 0));
  const bool fs = r >= 40 && w >= 16;
  if (blk == fs) return DeviceKind::Unknown;
  return blk ? DeviceKind::Blk : DeviceKind::Fs;
}

DeviceKind recognise_chain_head(const ChainHead& head, uint32_t queue, uint64_t features) {
  DeviceKind found = DeviceKind::Unknown;
  for (DeviceKind kind : {DeviceKind::Blk, DeviceKind::Fs, DeviceKind::Net}) {
    if (!plausible_request(summarize_chain_head(head, {kind, queue, features}), queue)) continue;
    if (found != DeviceKind::Unknown) return DeviceKind::Unknown;  // fits two kinds: says nothing
    found = kind;
  }
  return found;
}

std::string describe_buffer(const BufferSummary& b) {
  std::string s = fmt::format("head {}: ", b.head);
  if (b.detail_ok && b.device == DeviceKind::Blk) {
    const uint32_t type = b.op & ~kBlkBarrier;
    s += blk_type_label(b.op);
    if (blk_type_has_sector(type) || blk_type_has_segments(type))
      s += fmt::format(" sector {} len {}", b.arg, b.data_len);
    else if (b.data_len > 0)
      s += fmt::format(" len {}", b.data_len);
  } else if (b.detail_ok && b.device == DeviceKind::Fs) {
    s += fmt::format("{} unique {} len {}", fuse_label(b.op), b.arg, b.data_len);
  } else if (b.detail_ok && b.device == DeviceKind::Net) {
    const auto gso = static_cast<uint8_t>(b.op & 0xff);
    const auto ethertype = static_cast<uint16_t>(b.op >> 16);
    s += fmt::format("TX {} bytes", b.data_len);
    if (ethertype != 0) s += " " + net_frame_type(ethertype);
    s += " gso " + gso_label(gso);
    if ((gso & ~kNetGsoEcn) != 0) s += fmt::format(" size {}", b.arg);
  } else if (b.device == DeviceKind::Net && b.readable_bytes == 0 && b.writable_bytes > 0 &&
             b.error == ChainError::None) {
    // An in-flight receive buffer: the device writes its header and frame on completion.
    s += fmt::format("RX buffer {} bytes, empty until a packet arrives", b.writable_bytes);
  } else {
    s += fmt::format("{} desc{}, {} readable + {} writable bytes", b.descs, b.descs == 1 ? "" : "s",
                     b.readable_bytes, b.writable_bytes);
  }
  if (b.error != ChainError::None) s += fmt::format(" (chain: {})", chain_error_name(b.error));
  return s;
}

}  // namespace vhs
