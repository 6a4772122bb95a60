// The field diff compares values, not renderings: the same bytes decoded as a known device on one
// side and an unknown one on the other are no difference (a reconnected session that never saw
// GET_CONFIG against the first one), and a real change still shows with both values named alike.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "captures/diff/diff_capture.hpp"
#include "captures/diff/diff_fields.hpp"
#include "captures/model/store.hpp"
#include "support/message_builder.hpp"

namespace vhs::test {
namespace {

constexpr uint64_t kBlkOffer = 0x175007e46;  // qemu-storage-daemon's GET_FEATURES reply

MessageView view(const Bytes& bytes, DeviceKind device) {
  DecodeContext ctx;
  ctx.device = device;
  return MessageView{Channel::Frontend, bytes, {}, ctx};
}

Bytes blk_config_reply(uint64_t capacity) {
  Bytes b(12, 0);
  b[4] = 60;  // size
  Bytes data(60, 0);
  for (int i = 0; i < 8; ++i) data[i] = static_cast<uint8_t>(capacity >> (8 * i));
  data[21] = 0x02;  // blk_size 512
  b.insert(b.end(), data.begin(), data.end());
  return reply("GET_CONFIG", b);
}

TEST(DiffValues, SameBytesReadAsDifferentDevicesAreNoChange) {
  const Bytes features = reply("GET_FEATURES", u64_payload(kBlkOffer));
  EXPECT_TRUE(compare_messages(view(features, DeviceKind::Blk), view(features, DeviceKind::Unknown))
                  .empty());
  // The config space read as a virtio_blk_config on one side and as plain bytes on the other:
  // the same bytes, so the same value.
  const Bytes config = blk_config_reply(16384);
  const auto changes =
      compare_messages(view(config, DeviceKind::Blk), view(config, DeviceKind::Unknown));
  EXPECT_TRUE(changes.empty()) << changes.size() << " changes, first " << changes.front().path;
}

TEST(DiffValues, ChangedBytesReadAsDifferentDevicesAreOneChange) {
  const auto changes = compare_messages(view(blk_config_reply(16384), DeviceKind::Blk),
                                        view(blk_config_reply(32768), DeviceKind::Unknown));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "config.data");
  EXPECT_FALSE(changes[0].expected);
  // Read alike, the change is named by its field.
  const auto same_device = compare_messages(view(blk_config_reply(16384), DeviceKind::Blk),
                                            view(blk_config_reply(32768), DeviceKind::Blk));
  ASSERT_EQ(same_device.size(), 1u);
  EXPECT_EQ(same_device[0].path, "config.data.capacity");
}

TEST(DiffValues, DecodeAlikeTakesTheKnownDevice) {
  const Bytes features = reply("GET_FEATURES", u64_payload(kBlkOffer | (1ull << 27)));
  const Bytes other = reply("GET_FEATURES", u64_payload(kBlkOffer));
  MessageView a = view(features, DeviceKind::Blk), b = view(other, DeviceKind::Unknown);
  decode_alike(a, b);
  EXPECT_EQ(b.context.device, DeviceKind::Blk);
  const auto changes = compare_messages(a, b);
  ASSERT_EQ(changes.size(), 1u);
  // Both sides named as blk bits, so the rendering shows only the bit that changed.
  EXPECT_EQ(
      changes[0].b,
      "0x175007e46 (SIZE_MAX|SEG_MAX|BLK_SIZE|FLUSH|TOPOLOGY|CONFIG_WCE|MQ|DISCARD|"
      "WRITE_ZEROES|NOTIFY_ON_EMPTY|LOG_ALL|RING_INDIRECT_DESC|RING_EVENT_IDX|PROTOCOL_FEATURES|"
      "VERSION_1)");

  MessageView fs = view(features, DeviceKind::Fs), blk = view(features, DeviceKind::Blk);
  decode_alike(fs, blk);
  EXPECT_EQ(fs.context.device, DeviceKind::Fs);
  EXPECT_EQ(blk.context.device, DeviceKind::Blk);
}

Record record(uint32_t session, uint64_t t, RecordKind kind, Direction d, Bytes bytes) {
  Record r;
  r.kind = kind;
  r.direction = d;
  r.session = session;
  r.timestamp_ns = 1'700'000'000'000'000'000ull + t * 1'000'000;
  r.bytes = std::move(bytes);
  return r;
}

// Two sessions of one front-end socket in two captures: the first asks GET_CONFIG (blk), the
// second, a reconnect on another socket here so nothing is inherited, does not.
void load_session(Store& store, bool with_config, std::string_view socket) {
  const std::string note = "front-end (pid 1) connected on '" + std::string(socket) + "'";
  uint64_t t = 0;
  store.append(
      record(1, ++t, RecordKind::Connect, Direction::ToBackend, {note.begin(), note.end()}));
  store.append(record(1, ++t, RecordKind::Message, Direction::ToBackend, request("GET_FEATURES")));
  store.append(record(1, ++t, RecordKind::Message, Direction::ToFrontend,
                      reply("GET_FEATURES", u64_payload(0x175000000 | (1ull << 6)))));
  if (with_config) {
    Bytes ask(12 + 60, 0);
    ask[4] = 60;
    store.append(
        record(1, ++t, RecordKind::Message, Direction::ToBackend, request("GET_CONFIG", ask)));
    store.append(
        record(1, ++t, RecordKind::Message, Direction::ToFrontend, blk_config_reply(16384)));
  }
  store.finish();
}

TEST(DiffValues, KnownAgainstUnknownDeviceSessionsDifferOnlyByTheMissingMessages) {
  Store a, b;
  load_session(a, true, "/run/a.sock");
  load_session(b, false, "/run/b.sock");
  ASSERT_EQ(a.sessions()[0].state().device, DeviceKind::Blk);
  ASSERT_EQ(b.sessions()[0].state().device, DeviceKind::Unknown);
  const CaptureDiff d = diff_sessions(a, a.sessions()[0], b, b.sessions()[0]);
  EXPECT_EQ(d.changed, 0u);
  EXPECT_EQ(d.only_a, 2u);  // GET_CONFIG and its reply
  EXPECT_EQ(d.same, 2u);    // GET_FEATURES and its reply (BLK_SIZE on one side, bit6 on the other)
}

}  // namespace
}  // namespace vhs::test
