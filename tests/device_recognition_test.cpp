// Recognising the device from what the session does: each kind of evidence on its own (the
// GET_CONFIG shape, net-only requests, whole feature words, request headers on the rings, request
// shapes of older ring states), evidence that disagrees, and the device carried over a reconnect by
// the Store (a later session on the same front-end socket).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "captures/model/store.hpp"
#include "decoders/session/device_inference.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/message_builder.hpp"

namespace vhs::test {
namespace {

constexpr uint64_t kVersion1 = uint64_t{1} << 32;
// qemu-storage-daemon's vhost-user-blk offer: SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, TOPOLOGY,
// CONFIG_WCE, MQ, DISCARD, WRITE_ZEROES and the transport bits.
constexpr uint64_t kBlkOffer = 0x175007e46;
// A DPDK-style net offer: CSUM, GUEST_CSUM, MAC, GUEST_TSO4, HOST_TSO4, MRG_RXBUF, STATUS,
// CTRL_VQ, CTRL_RX, GUEST_ANNOUNCE, MQ and the transport bits.
constexpr uint64_t kNetOffer = 0x175000000 | (1ull << 0) | (1ull << 1) | (1ull << 5) | (1ull << 7) |
                               (1ull << 11) | (1ull << 15) | (1ull << 16) | (1ull << 17) |
                               (1ull << 18) | (1ull << 21) | (1ull << 22);
// virtiofsd offers no device bits.
constexpr uint64_t kFsOffer = 0x175000000;

DecodedMessage decoded(const Bytes& bytes) {
  DecodeContext ctx;
  ctx.protocol_features_known = true;
  return decode_message(Channel::Frontend, bytes, {}, ctx);
}

DecodedMessage features_reply(uint64_t word) {
  return decoded(reply("GET_FEATURES", u64_payload(word)));
}

void put_le(std::span<uint8_t> b, size_t off, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

ChainHead blk_head(uint16_t head, uint32_t type, uint64_t sector, uint64_t readable,
                   uint64_t writable) {
  ChainHead h;
  h.head = head;
  h.descs = 3;
  h.readable_bytes = readable;
  h.writable_bytes = writable;
  put_le(h.bytes, 0, type, 4);
  put_le(h.bytes, 8, sector, 8);
  h.byte_count = 16;
  return h;
}

ChainHead fuse_head(uint16_t head, uint32_t opcode, uint64_t unique, uint32_t len,
                    uint64_t writable) {
  ChainHead h;
  h.head = head;
  h.descs = 2;
  h.readable_bytes = len;
  h.writable_bytes = writable;
  put_le(h.bytes, 0, len, 4);
  put_le(h.bytes, 4, opcode, 4);
  put_le(h.bytes, 8, unique, 8);
  put_le(h.bytes, 16, 1, 8);  // nodeid 1 (the root)
  h.byte_count = 40;
  return h;
}

// A transmit buffer: a 12-byte virtio-net header (no offloads), then an IPv4 Ethernet frame.
ChainHead net_tx_head(uint16_t head, uint64_t frame_len) {
  ChainHead h;
  h.head = head;
  h.descs = 1;
  h.readable_bytes = 12 + frame_len;
  for (int i = 0; i < 6; ++i) h.bytes[12 + i] = 0xff;  // broadcast destination
  h.bytes[12 + 12] = 0x08;                             // EtherType 0x0800, big endian
  h.bytes[12 + 13] = 0x00;
  h.byte_count = 40;
  return h;
}

RingSnapshot ring_with(uint32_t queue, std::vector<ChainHead> heads) {
  RingSnapshot s;
  s.queue = queue;
  s.size = 128;
  s.indices_ok = true;
  s.inflight = static_cast<uint32_t>(heads.size());
  for (const ChainHead& h : heads) s.heads.push_back(h.head);
  // As a sampler that did not know the device writes it: generic oldest, raw heads.
  if (!heads.empty())
    s.oldest = summarize_chain_head(heads.front(), DetailContext{DeviceKind::Unknown, queue, 0});
  s.chain_heads = std::move(heads);
  return s;
}

// ---- request headers ----

TEST(RecogniseChainHead, EachHeaderFitsOnlyItsDevice) {
  EXPECT_EQ(recognise_chain_head(blk_head(0, 0, 2048, 16, 4097), 0, kVersion1), DeviceKind::Blk);
  EXPECT_EQ(recognise_chain_head(blk_head(0, 1, 8, 16 + 512, 1), 0, kVersion1), DeviceKind::Blk);
  EXPECT_EQ(recognise_chain_head(fuse_head(0, 1, 42, 46, 144), 1, kVersion1), DeviceKind::Fs);
  EXPECT_EQ(recognise_chain_head(fuse_head(0, 2, 40, 48, 0), 0, kVersion1), DeviceKind::Fs);
  EXPECT_EQ(recognise_chain_head(net_tx_head(0, 60), 1, kVersion1), DeviceKind::Net);
  // The transmit header on a receive queue (even index) is not read: nothing is recognised.
  EXPECT_EQ(recognise_chain_head(net_tx_head(0, 60), 0, kVersion1), DeviceKind::Unknown);
}

TEST(RecogniseChainHead, WrongShapesAndValuesAreNotRecognised) {
  // A READ whose data is not whole sectors, a blk type that does not exist, no status byte.
  EXPECT_EQ(recognise_chain_head(blk_head(0, 0, 0, 16, 101), 0, 0), DeviceKind::Unknown);
  EXPECT_EQ(recognise_chain_head(blk_head(0, 3, 0, 16, 513), 0, 0), DeviceKind::Unknown);
  EXPECT_EQ(recognise_chain_head(blk_head(0, 1, 0, 528, 0), 0, 0), DeviceKind::Unknown);
  // FUSE: len not the readable length, an opcode that does not exist, no room for the reply.
  ChainHead wrong_len = fuse_head(0, 1, 1, 46, 144);
  wrong_len.readable_bytes = 100;
  EXPECT_EQ(recognise_chain_head(wrong_len, 1, 0), DeviceKind::Unknown);
  EXPECT_EQ(recognise_chain_head(fuse_head(0, 7, 1, 46, 144), 1, 0), DeviceKind::Unknown);
  EXPECT_EQ(recognise_chain_head(fuse_head(0, 15, 1, 80, 8), 1, 0), DeviceKind::Unknown);
  // A header cut short (an unreadable buffer) says nothing.
  ChainHead cut = fuse_head(0, 1, 1, 46, 144);
  cut.byte_count = 20;
  EXPECT_EQ(recognise_chain_head(cut, 1, 0), DeviceKind::Unknown);
}

// ---- weighted evidence ----

TEST(DeviceInference, FeatureWordsDecideOnlyAsAWhole) {
  DeviceInference blk;
  EXPECT_TRUE(blk.on_reply(features_reply(kBlkOffer)));
  EXPECT_EQ(blk.kind(), DeviceKind::Blk);
  EXPECT_EQ(blk.reason(),
            "from its feature bits SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, TOPOLOGY, CONFIG_WCE, MQ, "
            "DISCARD, WRITE_ZEROES");

  DeviceInference net;
  net.on_reply(features_reply(kNetOffer));
  EXPECT_EQ(net.kind(), DeviceKind::Net);

  // Bit 5 alone is net MAC or blk RO: one ambiguous bit never decides.
  DeviceInference one_bit;
  EXPECT_FALSE(one_bit.on_reply(features_reply(kVersion1 | (1ull << 5))));
  EXPECT_EQ(one_bit.kind(), DeviceKind::Unknown);

  // HOST_TSO4 without CSUM breaks net's feature requirements, and blk's bits fit: blk even
  // though every one of the bits has a net name too.
  DeviceInference requirements;
  requirements.on_reply(features_reply(kVersion1 | (1ull << 11) | (1ull << 12) | (1ull << 9)));
  EXPECT_EQ(requirements.kind(), DeviceKind::Blk);

  // No device bits: a hint of virtio-fs, not enough alone.
  DeviceInference fs;
  fs.on_reply(features_reply(kFsOffer));
  EXPECT_EQ(fs.kind(), DeviceKind::Unknown);
  ASSERT_EQ(fs.evidence().size(), 1u);
  EXPECT_EQ(fs.evidence()[0].kind, DeviceKind::Fs);
}

TEST(DeviceInference, ConfigAndNetRequests) {
  std::vector<uint8_t> tag(40, 0);
  tag[0] = 'm';
  tag[1] = 'y';
  tag[36] = 1;
  Bytes cfg(12, 0);
  cfg[4] = 40;  // size
  cfg.insert(cfg.end(), tag.begin(), tag.end());
  DeviceInference f;
  EXPECT_TRUE(f.on_reply(decoded(reply("GET_CONFIG", cfg))));
  EXPECT_EQ(f.kind(), DeviceKind::Fs);
  EXPECT_EQ(f.reason(), "from the virtio-fs tag in its GET_CONFIG reply");

  DeviceInference net;
  EXPECT_TRUE(net.on_request(decoded(request("NET_SET_MTU", u64_payload(1500)))));
  EXPECT_EQ(net.kind(), DeviceKind::Net);
  EXPECT_EQ(net.reason(), "from its NET_SET_MTU request");

  DeviceInference forced(DeviceKind::Blk);
  forced.on_request(decoded(request("SEND_RARP", u64_payload(0))));
  forced.on_reply(features_reply(kNetOffer));
  EXPECT_EQ(forced.kind(), DeviceKind::Blk);
  EXPECT_TRUE(forced.from_user());
}

TEST(DeviceInference, FuseRequestsOnTheRingsRecogniseVirtioFs) {
  DeviceInference d;
  EXPECT_FALSE(d.on_ring_state(ring_with(1, {fuse_head(0, 1, 42, 46, 144)}), kVersion1));
  EXPECT_EQ(d.kind(), DeviceKind::Unknown);  // one request alone: not yet
  EXPECT_TRUE(d.on_ring_state(ring_with(1, {fuse_head(1, 15, 44, 80, 4112)}), kVersion1));
  EXPECT_EQ(d.kind(), DeviceKind::Fs);
  EXPECT_EQ(d.reason(), "from FUSE requests on queue 1");
  d.on_ring_state(ring_with(0, {fuse_head(0, 2, 46, 48, 0)}), kVersion1);
  EXPECT_EQ(d.reason(), "from FUSE requests on queues 0 and 1");

  // With virtiofsd's offer (no device feature bits) one request is enough.
  DeviceInference hinted;
  hinted.on_reply(features_reply(kFsOffer));
  EXPECT_TRUE(hinted.on_ring_state(ring_with(1, {fuse_head(0, 1, 42, 46, 144)}), kVersion1));
  EXPECT_EQ(hinted.kind(), DeviceKind::Fs);
}

TEST(DeviceInference, BlkAndNetRequestsOnTheRings) {
  DeviceInference blk;
  blk.on_ring_state(ring_with(0, {blk_head(0, 0, 2048, 16, 4097), blk_head(3, 1, 8, 528, 1)}),
                    kVersion1);
  EXPECT_EQ(blk.kind(), DeviceKind::Blk);
  EXPECT_EQ(blk.reason(), "from virtio-blk requests on queue 0");

  DeviceInference net;
  net.on_ring_state(ring_with(1, {net_tx_head(0, 60), net_tx_head(1, 1514)}), kVersion1);
  EXPECT_EQ(net.kind(), DeviceKind::Net);
  EXPECT_EQ(net.reason(), "from virtio-net transmit headers on queue 1");
}

TEST(DeviceInference, OlderRingStatesGiveTheRecordedDetailOrTheShape) {
  // An older record: no chain heads, the oldest read as fs by a recorder run with --device fs.
  RingSnapshot recorded = ring_with(1, {fuse_head(0, 50, 42, 48, 16)});
  recorded.oldest = summarize_chain_head(recorded.chain_heads[0], {DeviceKind::Fs, 1, 0});
  recorded.chain_heads.clear();
  DeviceInference d;
  d.on_ring_state(recorded, 0);
  d.on_ring_state(recorded, 0);
  EXPECT_EQ(d.kind(), DeviceKind::Fs);
  EXPECT_EQ(d.reason(), "from FUSE requests on queue 1");

  // Generic only: the readable/writable split of a blk READ. Shapes never decide alone.
  RingSnapshot shape = ring_with(0, {blk_head(0, 0, 0, 16, 4097)});
  shape.chain_heads.clear();
  DeviceInference s;
  for (int i = 0; i < 5; ++i) s.on_ring_state(shape, 0);
  EXPECT_EQ(s.kind(), DeviceKind::Unknown);
  ASSERT_EQ(s.evidence().size(), 1u);
  EXPECT_EQ(s.evidence()[0].kind, DeviceKind::Blk);
  EXPECT_EQ(s.evidence()[0].weight, 2);  // capped
}

TEST(DeviceInference, ConflictingEvidenceLeavesTheDeviceUnknown) {
  // blk feature bits, but FUSE requests on the ring: neither is believed over the other.
  DeviceInference d;
  d.on_reply(features_reply(kBlkOffer));
  EXPECT_EQ(d.kind(), DeviceKind::Blk);
  d.on_ring_state(ring_with(1, {fuse_head(0, 1, 42, 46, 144), fuse_head(1, 1, 43, 46, 144)}),
                  kVersion1);
  EXPECT_EQ(d.kind(), DeviceKind::Unknown);
  EXPECT_EQ(d.reason(),
            "evidence disagrees: virtio-blk (from its feature bits SIZE_MAX, SEG_MAX, BLK_SIZE, "
            "FLUSH, TOPOLOGY, CONFIG_WCE, MQ, DISCARD, WRITE_ZEROES) vs virtio-fs (from FUSE "
            "requests on queue 1)");
}

TEST(DeviceInference, InheritedDeviceHoldsUnlessOwnEvidenceDisagrees) {
  DeviceInference same;
  EXPECT_TRUE(same.inherit(DeviceKind::Blk, "from session 1 on the same front-end socket"));
  EXPECT_EQ(same.kind(), DeviceKind::Blk);
  same.on_reply(features_reply(kBlkOffer));
  EXPECT_EQ(same.kind(), DeviceKind::Blk);

  DeviceInference other;
  other.inherit(DeviceKind::Blk, "from session 1 on the same front-end socket");
  other.on_reply(features_reply(kNetOffer));
  EXPECT_EQ(other.kind(), DeviceKind::Net);

  other.reset();
  EXPECT_EQ(other.kind(), DeviceKind::Unknown);
  EXPECT_TRUE(other.evidence().empty());
}

// ---- the Store: reconnects ----

struct Records {
  uint64_t t = 1'700'000'000'000'000'000;
  uint32_t session = 1;
  Record make(RecordKind kind, Direction d, Bytes bytes) {
    Record r;
    r.kind = kind;
    r.direction = d;
    r.session = session;
    t += 1'000'000;
    r.timestamp_ns = t;
    r.bytes = std::move(bytes);
    return r;
  }
  Record connect(std::string_view socket) {
    const std::string note = "front-end (pid 4242) connected on '" + std::string(socket) +
                             "'; connected to back-end (pid 4243) at '/run/backend.sock'";
    return make(RecordKind::Connect, Direction::ToBackend, {note.begin(), note.end()});
  }
  Record disconnect() {
    const std::string why = "front-end closed";
    return make(RecordKind::Disconnect, Direction::ToBackend, {why.begin(), why.end()});
  }
  Record to_backend(Bytes b) { return make(RecordKind::Message, Direction::ToBackend, b); }
  Record to_frontend(Bytes b) { return make(RecordKind::Message, Direction::ToFrontend, b); }
};

Bytes blk_config_reply() {
  Bytes cfg(12, 0);
  cfg[4] = 60;
  Bytes data(60, 0);
  put_le(data, 0, 16384, 8);  // capacity
  put_le(data, 20, 512, 4);   // blk_size
  cfg.insert(cfg.end(), data.begin(), data.end());
  return reply("GET_CONFIG", cfg);
}

// One QEMU session: negotiation, GET_CONFIG only the first time (QEMU does not ask again after a
// reconnect), then disconnect.
void add_session(Store& store, Records& r, std::string_view socket, bool with_config,
                 uint64_t features) {
  store.append(r.connect(socket));
  store.append(r.to_backend(request("GET_FEATURES")));
  store.append(r.to_frontend(reply("GET_FEATURES", u64_payload(features))));
  if (with_config) {
    Bytes ask(12, 0);
    ask[4] = 60;
    ask.resize(12 + 60, 0);
    store.append(r.to_backend(request("GET_CONFIG", ask)));
    store.append(r.to_frontend(blk_config_reply()));
  }
  store.append(r.disconnect());
  ++r.session;
}

TEST(StoreReconnect, SecondSessionOnTheSameSocketInheritsTheDevice) {
  Store store;
  Records r;
  // Only the transport bits: the second session has nothing of its own to go by.
  add_session(store, r, "/run/vhost.sock", true, 0x175000000 | (1ull << 6));
  add_session(store, r, "/run/vhost.sock", false, 0x175000000 | (1ull << 6));
  add_session(store, r, "/run/other.sock", false, 0x175000000 | (1ull << 6));
  store.finish();
  ASSERT_EQ(store.sessions().size(), 3u);
  const SessionState& first = store.sessions()[0].state();
  EXPECT_EQ(first.device, DeviceKind::Blk);
  EXPECT_EQ(first.device_reason, "from the virtio_blk_config in its GET_CONFIG reply");
  const SessionState& second = store.sessions()[1].state();
  EXPECT_EQ(store.sessions()[1].frontend_path, "/run/vhost.sock");
  EXPECT_EQ(second.device, DeviceKind::Blk);
  EXPECT_EQ(second.device_reason, "from session 1 on the same front-end socket");
  // Its feature word is rendered as blk's: BLK_SIZE, not bit6.
  const uint32_t features = store.sessions()[1].first_entry + 2;
  EXPECT_EQ(store.context(features).device, DeviceKind::Blk);
  // Another socket is another device.
  EXPECT_EQ(store.sessions()[2].state().device, DeviceKind::Unknown);
}

TEST(StoreReconnect, RingDetailOfTheReconnectedSessionIsReadAsItsDevice) {
  Store store;
  Records r;
  add_session(store, r, "/run/vhost.sock", true, 0x175000000);
  // The second session's sampler did not know the device: a generic oldest and the raw head.
  store.append(r.connect("/run/vhost.sock"));
  const uint32_t ring = static_cast<uint32_t>(store.size());
  store.append(r.make(RecordKind::RingState, Direction::ToBackend,
                      encode_ring_snapshot(ring_with(0, {blk_head(0, 0, 2048, 16, 4097)}))));
  store.finish();
  ASSERT_EQ(store.sessions().size(), 2u);
  EXPECT_EQ(store.sessions()[1].state().device, DeviceKind::Blk);
  const auto snap = store.ring_snapshot(ring);
  ASSERT_TRUE(snap);
  EXPECT_EQ(describe_buffer(*snap->oldest), "head 0: READ sector 2048 len 4096");
  // What the timeline (summary, hang rules) keeps is read the same way.
  const auto& queues = store.sessions()[1].rings.queues();
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(describe_buffer(*queues.at(0).last.oldest), "head 0: READ sector 2048 len 4096");
}

TEST(StoreReconnect, OwnEvidenceOverrulesTheInheritedDevice) {
  Store store;
  Records r;
  add_session(store, r, "/run/vhost.sock", true, kBlkOffer);
  add_session(store, r, "/run/vhost.sock", false, kNetOffer);
  store.finish();
  ASSERT_EQ(store.sessions().size(), 2u);
  EXPECT_EQ(store.sessions()[1].state().device, DeviceKind::Net);
}

TEST(StoreReconnect, FrontendPathOfConnectNotes) {
  EXPECT_EQ(frontend_path_of("front-end (pid 5178) connected on '/tmp/x/vhostscope.sock'; "
                             "connected to back-end (pid 5159) at '/tmp/x/backend.sock'"),
            "/tmp/x/vhostscope.sock");
  EXPECT_EQ(frontend_path_of("front-end connected on '/run/it''s.sock'; no back-end yet"),
            "/run/it''s.sock");
  EXPECT_EQ(frontend_path_of("frontend connected"), "");
  EXPECT_EQ(frontend_path_of("back-end (pid 1) connected on '/b.sock'"), "");
}

// ---- the Store: ring states read as the device ----

TEST(StoreRingStates, RingRequestsRecogniseTheDeviceAndRedetailTheOldest) {
  Store store;
  Records r;
  store.append(r.connect("/run/fs.sock"));
  store.append(r.to_backend(request("GET_FEATURES")));
  store.append(r.to_frontend(reply("GET_FEATURES", u64_payload(kFsOffer))));
  const RingSnapshot one =
      ring_with(1, {fuse_head(0, 1, 42, 46, 144), fuse_head(1, 3, 43, 40, 120)});
  store.append(r.make(RecordKind::RingState, Direction::ToBackend, encode_ring_snapshot(one)));
  store.finish();
  const SessionState& st = store.sessions()[0].state();
  EXPECT_EQ(st.device, DeviceKind::Fs);
  EXPECT_EQ(st.device_reason, "from FUSE requests on queue 1");
  // Recorded with the device unknown; read back as virtio-fs from the kept chain head.
  EXPECT_EQ(describe_buffer(*one.oldest), "head 0: 2 descs, 46 readable + 144 writable bytes");
  const auto snap = store.ring_snapshot(3);
  ASSERT_TRUE(snap);
  EXPECT_EQ(describe_buffer(*snap->oldest), "head 0: LOOKUP unique 42 len 46");
  std::string error;
  EXPECT_FALSE(store.ring_snapshot(0, &error));
  EXPECT_EQ(error, "not a ring-state record");
}

// ---- the shipped virtio-fs capture ----

TEST(ShippedCaptures, VirtiofsSessionIsRecognisedWithoutDeviceOption) {
  // virtiofsd offers no device bits and no CONFIG; the recorder (run with --device fs) read the
  // FUSE requests in flight on both queues, and those are checked again here.
  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(std::string(VHS_SOURCE_DIR) + "/captures/samples/virtiofs-session.pcap",
                           store, warning, error))
      << error;
  ASSERT_EQ(store.sessions().size(), 1u);
  const SessionState& st = store.sessions()[0].state();
  EXPECT_EQ(st.device, DeviceKind::Fs);
  EXPECT_FALSE(st.device_from_user);
  EXPECT_EQ(st.device_reason, "from FUSE requests on queues 0 and 1");
}

}  // namespace
}  // namespace vhs::test
