// Device-aware chain detail over synthetic guest memory: virtio-blk requests (in flight and
// completed, framings, request types, status), FUSE headers and opcode names, virtio-net headers,
// the generic chain view, and the one-line buffer summaries that go into snapshots.
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "decoders/virtio/split_ring.hpp"

namespace vhs {
namespace {

constexpr uint64_t kVersion1 = uint64_t{1} << 32;

// One region at a non-zero GPA: ring at the start, request buffers from kBuf on.
class Guest {
 public:
  static constexpr uint64_t kGpa = 0x80000, kSize = 0x20000, kUva = 0x7fc000000000;
  static constexpr uint64_t kDesc = kGpa, kAvail = kGpa + 0x1000, kUsed = kGpa + 0x2000;
  static constexpr uint64_t kBuf = kGpa + 0x4000;
  static constexpr uint16_t kN = 8;

  Guest() : mem_(kSize) {}
  MemoryMap map() const {
    std::vector<MemRegionValue> rs = {{kGpa, kSize, kUva, 0}};
    return MemoryMap(rs);
  }
  RegionMemory view() const { return RegionMemory(map(), {mem_}); }
  void put(uint64_t gpa, uint64_t v, int n) {
    ASSERT_LE(gpa - kGpa + n, mem_.size());
    for (int i = 0; i < n; ++i) mem_[gpa - kGpa + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  void put_bytes(uint64_t gpa, const void* p, size_t n) {
    std::memcpy(mem_.data() + (gpa - kGpa), p, n);
  }

  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    put(kDesc + 16 * i, addr, 8);
    put(kDesc + 16 * i + 8, len, 4);
    put(kDesc + 16 * i + 12, flags, 2);
    put(kDesc + 16 * i + 14, next, 2);
  }
  void publish(uint16_t head) {
    put(kAvail + 4 + 2 * (aidx_ % kN), head, 2);
    put(kAvail + 2, ++aidx_, 2);
  }
  void complete(uint16_t id, uint32_t len) {
    put(kUsed + 4 + 8 * (uidx_ % kN), id, 4);
    put(kUsed + 8 + 8 * (uidx_ % kN), len, 4);
    put(kUsed + 2, ++uidx_, 2);
  }
  RingLocation loc(DeviceKind device, uint32_t queue = 0, uint64_t features = kVersion1) const {
    const VringAddrValue a{
        queue, 0, kUva + (kDesc - kGpa), kUva + (kUsed - kGpa), kUva + (kAvail - kGpa), 0};
    return locate_ring(map(), queue, kN, a, features, device);
  }
  Chain chain(uint16_t head) const {
    Chain c;
    walk_split_chain(view(), loc(DeviceKind::Unknown), head, c);
    return c;
  }

 private:
  std::vector<uint8_t> mem_;
  uint16_t aidx_ = 0, uidx_ = 0;
};

// A virtio-blk request the way Linux frames it: header, data, status in three descriptors.
void blk_request(Guest& g, uint16_t head, uint32_t type, uint64_t sector, uint32_t data_len,
                 bool data_writable) {
  const uint64_t hdr = Guest::kBuf + 0x2000 * head;
  g.put(hdr, type, 4);
  g.put(hdr + 4, 0, 4);
  g.put(hdr + 8, sector, 8);
  const uint16_t d = static_cast<uint16_t>(head + 1), st = static_cast<uint16_t>(head + 2);
  g.desc(head, hdr, 16, kDescNext, d);
  g.desc(d, hdr + 0x100, data_len,
         static_cast<uint16_t>(kDescNext | (data_writable ? kDescWrite : 0)), st);
  g.desc(st, hdr + 0x1f00, 1, kDescWrite, 0);
  g.put(hdr + 0x1f00, 0xff, 1);  // status not written yet
}

// ---- virtio-blk ----

TEST(BlkDetail, ReadInFlightThenCompleted) {
  Guest g;
  blk_request(g, 0, 0, 2048, 4096, true);
  g.publish(0);

  const RingSnapshot s = take_ring_snapshot(g.view(), g.loc(DeviceKind::Blk));
  ASSERT_TRUE(s.oldest);
  EXPECT_TRUE(s.oldest->detail_ok);
  EXPECT_EQ(s.oldest->op, 0u);
  EXPECT_EQ(s.oldest->arg, 2048u);
  EXPECT_EQ(s.oldest->data_len, 4096u);
  EXPECT_EQ(describe_buffer(*s.oldest), "head 0: READ sector 2048 len 4096");

  Chain c = g.chain(0);
  BlkRequest r = decode_blk_request(g.view(), c);
  EXPECT_TRUE(r.header_ok);
  EXPECT_EQ(r.type, 0u);
  EXPECT_EQ(r.sector, 2048u);
  EXPECT_EQ(r.data_len, 4096u);
  EXPECT_TRUE(r.has_status);
  EXPECT_EQ(describe_blk_request(r, false), "READ sector 2048 len 4096");

  // The device writes the status byte and the used element; the chain is read back by used id.
  g.put(Guest::kBuf + 0x1f00, 0, 1);
  g.complete(0, 4097);
  std::vector<SplitUsedElem> used;
  ASSERT_TRUE(read_split_used(g.view(), g.loc(DeviceKind::Blk), 1, 1, used));
  ASSERT_EQ(used.size(), 1u);
  EXPECT_EQ(used[0].len, 4097u);
  c = g.chain(static_cast<uint16_t>(used[0].id));
  r = decode_blk_request(g.view(), c);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(describe_blk_request(r, true), "READ sector 2048 len 4096 status OK");

  g.put(Guest::kBuf + 0x1f00, 1, 1);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), c), true),
            "READ sector 2048 len 4096 status IOERR");
  g.put(Guest::kBuf + 0x1f00, 0x42, 1);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), c), true),
            "READ sector 2048 len 4096 status 0x42");

  const RingSnapshot done = take_ring_snapshot(g.view(), g.loc(DeviceKind::Blk));
  EXPECT_EQ(done.inflight, 0u);
  EXPECT_FALSE(done.oldest);
}

TEST(BlkDetail, HeaderAndDataSharingOneDescriptor) {
  // VERSION_1 allows any framing: 16 header bytes and 512 data bytes in one readable buffer.
  Guest g;
  const uint64_t buf = Guest::kBuf;
  g.put(buf, 1, 4);
  g.put(buf + 8, 8, 8);
  g.desc(0, buf, 16 + 512, kDescNext, 1);
  g.desc(1, buf + 0x1000, 1, kDescWrite, 0);
  const BlkRequest r = decode_blk_request(g.view(), g.chain(0));
  EXPECT_EQ(r.type, 1u);
  EXPECT_EQ(r.data_len, 512u);
  EXPECT_EQ(describe_blk_request(r, false), "WRITE sector 8 len 512");

  // The header itself split over two descriptors (8 + 8 bytes).
  g.desc(2, buf, 8, kDescNext, 3);
  g.desc(3, buf + 8, 8, kDescNext, 1);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), g.chain(2)), false),
            "WRITE sector 8 len 0");
}

TEST(BlkDetail, OtherRequestTypes) {
  Guest g;
  const uint64_t buf = Guest::kBuf;
  auto header = [&](uint32_t type, uint64_t sector) {
    g.put(buf, type, 4);
    g.put(buf + 8, sector, 8);
  };
  // FLUSH: header + status.
  header(4, 0);
  g.desc(0, buf, 16, kDescNext, 1);
  g.desc(1, buf + 0x1000, 1, kDescWrite, 0);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), g.chain(0)), false), "FLUSH");
  // GET_ID: header, 20 writable id bytes, status.
  header(8, 0);
  g.desc(0, buf, 16, kDescNext, 2);
  g.desc(2, buf + 0x200, 20, kDescNext | kDescWrite, 1);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), g.chain(0)), false), "GET_ID len 20");
  // DISCARD: header, one 16-byte segment {sector 100, 8 sectors, unmap}, status.
  header(11, 0);
  g.put(buf + 0x300, 100, 8);
  g.put(buf + 0x308, 8, 4);
  g.put(buf + 0x30c, 1, 4);
  g.desc(0, buf, 16, kDescNext, 3);
  g.desc(3, buf + 0x300, 16, kDescNext, 1);
  const BlkRequest d = decode_blk_request(g.view(), g.chain(0));
  EXPECT_TRUE(d.has_segment);
  EXPECT_EQ(d.seg_sectors, 8u);
  EXPECT_EQ(describe_blk_request(d, false), "DISCARD sector 100 sectors 8 unmap");
  // The legacy barrier bit and an unknown type.
  header(0x80000001u, 64);
  g.desc(0, buf, 16, kDescNext, 1);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), g.chain(0)), false),
            "WRITE|BARRIER sector 64 len 0");
  header(99, 0);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), g.chain(0)), false), "type 99");
  // A header shorter than 16 bytes.
  g.desc(0, buf, 8, 0, 0);
  EXPECT_EQ(describe_blk_request(decode_blk_request(g.view(), g.chain(0)), true),
            "blk header unreadable");

  EXPECT_EQ(blk_type_name(13), "WRITE_ZEROES");
  EXPECT_EQ(blk_type_name(27), "WRITE_FUA");
  EXPECT_EQ(blk_type_name(3), "");
  EXPECT_EQ(blk_status_name(2), "UNSUPP");
  EXPECT_EQ(blk_status_name(9), "");
}

// ---- virtio-fs ----

TEST(FsDetail, LookupRequestAndItsReply) {
  Guest g;
  const uint64_t in = Guest::kBuf, out = Guest::kBuf + 0x1000;
  g.put(in + 0, 46, 4);  // len
  g.put(in + 4, 1, 4);   // LOOKUP
  g.put(in + 8, 42, 8);  // unique
  g.put(in + 16, 1, 8);  // nodeid (root)
  g.put(in + 24, 1000, 4);
  g.put(in + 28, 100, 4);
  g.put(in + 32, 4321, 4);
  g.put_bytes(in + 40, "hello", 6);
  g.desc(0, in, 40, kDescNext, 1);
  g.desc(1, in + 40, 6, kDescNext, 2);
  g.desc(2, out, 16, kDescNext | kDescWrite, 3);
  g.desc(3, out + 16, 128, kDescWrite, 0);
  g.publish(0);

  FuseRequest r = decode_fuse_request(g.view(), g.chain(0));
  EXPECT_TRUE(r.in_ok);
  EXPECT_EQ(r.opcode, 1u);
  EXPECT_EQ(r.unique, 42u);
  EXPECT_EQ(r.nodeid, 1u);
  EXPECT_EQ(r.uid, 1000u);
  EXPECT_EQ(r.gid, 100u);
  EXPECT_EQ(r.pid, 4321u);
  EXPECT_EQ(describe_fuse_request(r, false), "LOOKUP unique 42 nodeid 1 len 46");

  const RingSnapshot s = take_ring_snapshot(g.view(), g.loc(DeviceKind::Fs, 1));
  ASSERT_TRUE(s.oldest);
  EXPECT_EQ(describe_buffer(*s.oldest), "head 0: LOOKUP unique 42 len 46");

  g.put(out + 0, 16, 4);
  g.put(out + 4, static_cast<uint32_t>(-2), 4);  // -ENOENT
  g.put(out + 8, 42, 8);
  r = decode_fuse_request(g.view(), g.chain(0));
  EXPECT_TRUE(r.out_ok);
  EXPECT_EQ(r.error, -2);
  EXPECT_EQ(r.out_unique, 42u);
  EXPECT_EQ(describe_fuse_request(r, true), "LOOKUP unique 42 nodeid 1 len 46 -> error -2 len 16");
}

TEST(FsDetail, OpcodeNames) {
  EXPECT_EQ(fuse_opcode_name(1), "LOOKUP");
  EXPECT_EQ(fuse_opcode_name(3), "GETATTR");
  EXPECT_EQ(fuse_opcode_name(14), "OPEN");
  EXPECT_EQ(fuse_opcode_name(15), "READ");
  EXPECT_EQ(fuse_opcode_name(16), "WRITE");
  EXPECT_EQ(fuse_opcode_name(18), "RELEASE");
  EXPECT_EQ(fuse_opcode_name(25), "FLUSH");
  EXPECT_EQ(fuse_opcode_name(26), "INIT");
  EXPECT_EQ(fuse_opcode_name(44), "READDIRPLUS");
  EXPECT_EQ(fuse_opcode_name(4096), "CUSE_INIT");
  EXPECT_EQ(fuse_opcode_name(7), "");  // a hole in the numbering
  EXPECT_EQ(fuse_opcode_name(9999), "");
  FuseRequest r;
  r.in_ok = true;
  r.opcode = 9999;
  EXPECT_EQ(describe_fuse_request(r, false), "opcode 9999 unique 0 nodeid 0 len 0");
}

// ---- virtio-net ----

TEST(NetDetail, TxHeaderSplitAcrossDescriptors) {
  Guest g;
  const uint64_t b = Guest::kBuf;
  g.put(b + 0, 1, 1);     // NEEDS_CSUM
  g.put(b + 1, 1, 1);     // TCPV4
  g.put(b + 2, 54, 2);    // hdr_len
  g.put(b + 4, 1448, 2);  // gso_size
  g.put(b + 6, 34, 2);    // csum_start
  g.put(b + 8, 16, 2);    // csum_offset
  g.desc(0, b, 6, kDescNext, 1);
  g.desc(1, b + 6, 6, kDescNext, 2);
  g.desc(2, b + 0x100, 1514, 0, 0);
  g.put(b + 0x100 + 12, 0x08, 1);  // EtherType 0x0800 (IPv4), big endian
  g.publish(0);
  const NetHeader h = decode_net_header(g.view(), g.chain(0), true, 12);
  ASSERT_TRUE(h.ok);
  EXPECT_EQ(h.gso_type, 1);
  EXPECT_EQ(h.hdr_len, 54);
  EXPECT_EQ(h.gso_size, 1448);
  EXPECT_EQ(h.packet_len, 1514u);
  ASSERT_TRUE(h.frame_ok);
  EXPECT_EQ(h.ethertype, 0x0800);
  EXPECT_EQ(describe_net_header(h), "TX 1514 bytes IPv4 gso TCPV4 size 1448 csum 34+16");

  const RingSnapshot tx = take_ring_snapshot(g.view(), g.loc(DeviceKind::Net, 1));
  ASSERT_TRUE(tx.oldest);
  EXPECT_EQ(describe_buffer(*tx.oldest), "head 0: TX 1514 bytes IPv4 gso TCPV4 size 1448");
  EXPECT_EQ(tx.oldest->op >> 16, 0x0800u);
  // On an RX queue the header is the device's to write: in flight only the generic view.
  const RingSnapshot rx = take_ring_snapshot(g.view(), g.loc(DeviceKind::Net, 0));
  ASSERT_TRUE(rx.oldest);
  EXPECT_EQ(describe_buffer(*rx.oldest), "head 0: 3 descs, 1526 readable + 0 writable bytes");

  EXPECT_EQ(net_header_size(0), 10u);
  EXPECT_EQ(net_header_size(kVersion1), 12u);
  EXPECT_EQ(net_header_size(uint64_t{1} << 15), 12u);  // MRG_RXBUF
  const NetHeader legacy = decode_net_header(g.view(), g.chain(0), true, 10);
  EXPECT_EQ(legacy.packet_len, 1516u);
  EXPECT_EQ(legacy.num_buffers, 0);
}

TEST(NetDetail, RxHeaderWrittenByTheDevice) {
  Guest g;
  const uint64_t b = Guest::kBuf;
  g.desc(0, b, 1526, kDescWrite, 0);
  g.put(b + 1, 0x84, 1);  // TCPV6 | ECN
  g.put(b + 4, 1440, 2);
  g.put(b + 10, 2, 2);          // num_buffers
  g.put(b + 12 + 12, 0x86, 1);  // EtherType 0x86dd (IPv6)
  g.put(b + 12 + 13, 0xdd, 1);
  const NetHeader h = decode_net_header(g.view(), g.chain(0), false, 12);
  ASSERT_TRUE(h.ok);
  EXPECT_EQ(describe_net_header(h), "RX 1514 bytes IPv6 gso TCPV6|ECN size 1440 buffers 2");
  g.put(b + 1, 5, 1);
  g.put(b, 2, 1);  // DATA_VALID
  EXPECT_EQ(describe_net_header(decode_net_header(g.view(), g.chain(0), false, 12)),
            "RX 1514 bytes IPv6 gso UDP_L4 size 1440 data-valid buffers 2");
  EXPECT_EQ(net_gso_name(5), "UDP_L4");
  EXPECT_EQ(net_frame_type(0x0806), "ARP");
  EXPECT_EQ(net_frame_type(0x88b5), "ethertype 0x88b5");
  EXPECT_EQ(net_frame_type(0x05dc), "802.3");
}

TEST(NetDetail, InFlightReceiveBufferIsShownAsEmpty) {
  // What the Linux driver posts on a receive queue: one device-writable buffer per packet.
  Guest g;
  g.desc(0, Guest::kBuf, 1536, kDescWrite, 0);
  g.publish(0);
  const RingSnapshot rx = take_ring_snapshot(g.view(), g.loc(DeviceKind::Net, 0));
  ASSERT_TRUE(rx.oldest);
  EXPECT_FALSE(rx.oldest->detail_ok);  // the header is the device's to write
  EXPECT_EQ(describe_buffer(*rx.oldest),
            "head 0: RX buffer 1536 bytes, empty until a packet arrives");
  // The same buffer of an unknown device stays generic.
  BufferSummary unknown = *rx.oldest;
  unknown.device = DeviceKind::Unknown;
  EXPECT_EQ(describe_buffer(unknown), "head 0: 1 desc, 0 readable + 1536 writable bytes");
}

// ---- generic ----

TEST(ChainDetail, ReadChainBytesFollowsTheStream) {
  Guest g;
  const uint64_t b = Guest::kBuf;
  for (int i = 0; i < 16; ++i) g.put(b + i, 0xa0 + i, 1);
  for (int i = 0; i < 4; ++i) g.put(b + 0x100 + i, 0xc0 + i, 1);
  g.desc(0, b, 3, kDescNext, 1);
  g.desc(1, b + 0x100, 4, kDescNext | kDescWrite, 2);
  g.desc(2, b + 3, 5, 0, 0);
  const Chain c = g.chain(0);
  std::array<uint8_t, 4> out{};
  EXPECT_EQ(read_chain_bytes(g.view(), c, false, 1, out), 4u);  // skips the writable descriptor
  EXPECT_EQ(out, (std::array<uint8_t, 4>{0xa1, 0xa2, 0xa3, 0xa4}));
  std::array<uint8_t, 8> longer{};
  EXPECT_EQ(read_chain_bytes(g.view(), c, true, 1, longer), 3u);  // the stream is shorter
  EXPECT_EQ(longer[0], 0xc1);
  EXPECT_EQ(read_chain_bytes(g.view(), c, false, 100, out), 0u);
}

TEST(ChainDetail, GenericSummaryAndErrors) {
  Guest g;
  g.desc(0, Guest::kBuf, 16, kDescNext, 1);
  g.desc(1, Guest::kBuf + 0x100, 100, kDescWrite | kDescNext, 9);  // next out of range
  const Chain c = g.chain(0);
  EXPECT_EQ(c.error, ChainError::NextOutOfRange);
  EXPECT_EQ(describe_chain(c), "2 descs: R 16 @0x84000, W 100 @0x84100 [next out of range at 1]");
  const BufferSummary b = summarize_buffer(g.view(), c, DetailContext{DeviceKind::Unknown, 0, 0});
  EXPECT_EQ(describe_buffer(b),
            "head 0: 2 descs, 16 readable + 100 writable bytes (chain: next out of range)");
  // A blk summary whose header cannot be read (8 bytes) falls back to the generic view.
  g.desc(4, Guest::kBuf, 8, 0, 0);
  const Chain short_hdr = g.chain(4);
  const BufferSummary blk =
      summarize_buffer(g.view(), short_hdr, DetailContext{DeviceKind::Blk, 0, 0});
  EXPECT_FALSE(blk.detail_ok);
  EXPECT_EQ(describe_buffer(blk), "head 4: 1 desc, 8 readable + 0 writable bytes");
}

// ---- chain heads: the detail derived again offline ----

TEST(ChainHeads, SampledWithTheDeviceUnknownReadAsBlkLater) {
  Guest g;
  blk_request(g, 0, 0, 2048, 4096, true);
  blk_request(g, 3, 1, 64, 512, false);
  g.publish(0);
  g.publish(3);

  RingSnapshot s = take_ring_snapshot(g.view(), g.loc(DeviceKind::Unknown));
  ASSERT_TRUE(s.oldest);
  EXPECT_EQ(describe_buffer(*s.oldest), "head 0: 3 descs, 16 readable + 4097 writable bytes");
  ASSERT_EQ(s.chain_heads.size(), 2u);
  EXPECT_EQ(s.chain_heads[0].head, 0u);
  EXPECT_EQ(s.chain_heads[0].byte_count, 16u);  // the readable side is the 16-byte header
  EXPECT_EQ(s.chain_heads[1].head, 3u);
  EXPECT_EQ(s.chain_heads[1].byte_count, 40u);  // header and the start of the written data

  // Through the record, read as blk: what a sampler that knew the device would have said.
  auto back = decode_ring_snapshot(encode_ring_snapshot(s));
  ASSERT_TRUE(back);
  redetail_ring_snapshot(*back, DeviceKind::Blk, kVersion1);
  const RingSnapshot known = take_ring_snapshot(g.view(), g.loc(DeviceKind::Blk));
  EXPECT_EQ(*back->oldest, *known.oldest);
  EXPECT_EQ(describe_buffer(*back->oldest), "head 0: READ sector 2048 len 4096");
}

TEST(ChainHeads, AtMostFourChainsOfFortyBytesAreKept) {
  Guest g;
  for (uint16_t head = 0; head < Guest::kN; ++head) {
    g.desc(head, Guest::kBuf + 0x200 * head, 100, 0, 0);  // one readable descriptor each
    g.publish(head);
  }
  const RingSnapshot s = take_ring_snapshot(g.view(), g.loc(DeviceKind::Unknown));
  EXPECT_EQ(s.inflight, 8u);
  ASSERT_EQ(s.chain_heads.size(), kSnapshotRawChains);
  for (size_t i = 0; i < s.chain_heads.size(); ++i) {
    EXPECT_EQ(s.chain_heads[i].head, i);
    EXPECT_EQ(s.chain_heads[i].byte_count, kChainHeadBytes);
    EXPECT_EQ(s.chain_heads[i].readable_bytes, 100u);
  }
  EXPECT_EQ(encode_ring_snapshot(s).size(),
            kRingStateHeaderLen + 2 * 8 + kRingStateOldestLen + 4 * kRingStateChainHeadLen);
}

}  // namespace
}  // namespace vhs
