// Feature-bit tables and renderers: common virtio bits, protocol bits, device-specific bits,
// unnamed bits as "bitN", status bytes and device kind names.
#include <gtest/gtest.h>

#include <utility>

#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/field_format.hpp"

namespace vhs {
namespace {

TEST(Features, CommonBitsHaveSpecNames) {
  EXPECT_EQ(feature_name(DeviceKind::Unknown, 24), "NOTIFY_ON_EMPTY");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 26), "LOG_ALL");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 28), "RING_INDIRECT_DESC");
  EXPECT_EQ(feature_name(DeviceKind::Blk, kFeatureEventIdx), "RING_EVENT_IDX");
  EXPECT_EQ(feature_name(DeviceKind::Net, kFeatureProtocolFeatures), "PROTOCOL_FEATURES");
  EXPECT_EQ(feature_name(DeviceKind::Fs, kFeatureVersion1), "VERSION_1");
  EXPECT_EQ(feature_name(DeviceKind::Fs, kFeatureAccessPlatform), "ACCESS_PLATFORM");
  EXPECT_EQ(feature_name(DeviceKind::Fs, kFeatureRingPacked), "RING_PACKED");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 35), "IN_ORDER");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 40), "RING_RESET");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 41), "ADMIN_VQ");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 25), "");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 45), "");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 64), "");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 1000), "");
}

TEST(Features, DeviceSpecificBitsDependOnTheDevice) {
  EXPECT_EQ(feature_name(DeviceKind::Blk, 1), "SIZE_MAX");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 9), "FLUSH");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 12), "MQ");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 14), "WRITE_ZEROES");
  EXPECT_EQ(feature_name(DeviceKind::Blk, 3), "");
  EXPECT_EQ(feature_name(DeviceKind::Net, 5), "MAC");
  EXPECT_EQ(feature_name(DeviceKind::Net, 15), "MRG_RXBUF");
  EXPECT_EQ(feature_name(DeviceKind::Net, 22), "MQ");
  EXPECT_EQ(feature_name(DeviceKind::Net, 60), "RSS");
  EXPECT_EQ(feature_name(DeviceKind::Net, 63), "SPEED_DUPLEX");
  EXPECT_EQ(feature_name(DeviceKind::Fs, 0), "NOTIFICATION");
  EXPECT_EQ(feature_name(DeviceKind::Unknown, 1), "");  // device unknown: no guess
  EXPECT_EQ(feature_name(DeviceKind::Blk, 60), "");
}

TEST(Features, ProtocolBitsZeroToTwenty) {
  const char* expected[] = {"MQ",
                            "LOG_SHMFD",
                            "RARP",
                            "REPLY_ACK",
                            "NET_MTU",
                            "BACKEND_REQ",
                            "CROSS_ENDIAN",
                            "CRYPTO_SESSION",
                            "PAGEFAULT",
                            "CONFIG",
                            "BACKEND_SEND_FD",
                            "HOST_NOTIFIER",
                            "INFLIGHT_SHMFD",
                            "RESET_DEVICE",
                            "INBAND_NOTIFICATIONS",
                            "CONFIGURE_MEM_SLOTS",
                            "STATUS",
                            "XEN_MMAP",
                            "SHARED_OBJECT",
                            "DEVICE_STATE",
                            "SHMEM"};
  for (unsigned bit = 0; bit <= 20; ++bit)
    EXPECT_EQ(protocol_feature_name(bit), expected[bit]) << bit;
  EXPECT_EQ(protocol_feature_name(21), "");
  EXPECT_EQ(protocol_feature_name(63), "");
  EXPECT_EQ(protocol_feature_name(ProtocolFeature::XEN_MMAP), "XEN_MMAP");
  EXPECT_EQ(protocol_feature_name(ProtocolFeature::BACKEND_SEND_FD), "BACKEND_SEND_FD");
}

TEST(Features, DescribeRendersNamesAndUnnamedBits) {
  // VERSION_1 | PROTOCOL_FEATURES | EVENT_IDX | bit 45 | blk SEG_MAX
  const uint64_t bits = (1ull << 32) | (1ull << 30) | (1ull << 29) | (1ull << 45) | (1ull << 2);
  EXPECT_EQ(describe_features(bits, DeviceKind::Blk),
            "SEG_MAX|RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1|bit45");
  EXPECT_EQ(describe_features(bits, DeviceKind::Unknown),
            "bit2|RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1|bit45");
  EXPECT_EQ(describe_features(0, DeviceKind::Blk), "");
  EXPECT_EQ(describe_features(1ull << 63, DeviceKind::Net), "SPEED_DUPLEX");
  EXPECT_EQ(describe_protocol_features(0x1 | 0x8 | (1u << 21)), "MQ|REPLY_ACK|bit21");
  EXPECT_EQ(features_text(1ull << 32, DeviceKind::Blk), "0x100000000 (VERSION_1)");
  EXPECT_EQ(features_text(0, DeviceKind::Blk), "0x0");
  EXPECT_EQ(protocol_features_text(0x8), "0x8 (REPLY_ACK)");
}

TEST(Features, ShortFormsAbbreviate) {
  const uint64_t bits = 0x3f;  // six protocol bits
  EXPECT_EQ(protocol_features_short(bits, 4), "0x3f (MQ|LOG_SHMFD|RARP|REPLY_ACK|+2)");
  EXPECT_EQ(protocol_features_short(0x3, 4), "0x3 (MQ|LOG_SHMFD)");
  EXPECT_EQ(protocol_features_short(0xf, 4), "0xf (MQ|LOG_SHMFD|RARP|REPLY_ACK)");
}

TEST(Features, Status) {
  EXPECT_EQ(describe_status(0), "RESET");
  EXPECT_EQ(describe_status(0x0f), "ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK");
  EXPECT_EQ(describe_status(0x80), "FAILED");
  EXPECT_EQ(describe_status(0x40 | 0x10), "bit4|NEEDS_RESET");
  EXPECT_EQ(status_text(0x3), "0x3 (ACKNOWLEDGE|DRIVER)");
}

TEST(Features, DeviceKinds) {
  for (auto [kind, name] : {std::pair{DeviceKind::Blk, "blk"},
                            {DeviceKind::Net, "net"},
                            {DeviceKind::Fs, "fs"},
                            {DeviceKind::Vsock, "vsock"},
                            {DeviceKind::Gpu, "gpu"},
                            {DeviceKind::Scsi, "scsi"}}) {
    EXPECT_EQ(device_kind_name(kind), name);
    EXPECT_EQ(device_kind_from_name(name), kind);
  }
  EXPECT_EQ(device_kind_from_name("BLK"), DeviceKind::Blk);
  EXPECT_EQ(device_kind_from_name("virtiofs"), DeviceKind::Fs);
  EXPECT_EQ(device_kind_from_name("floppy"), DeviceKind::Unknown);
  EXPECT_EQ(device_kind_from_name(""), DeviceKind::Unknown);
  EXPECT_EQ(device_kind_name(DeviceKind::Unknown), "unknown");
  EXPECT_EQ(static_cast<int>(DeviceKind::Fs), 26);  // virtio device id
}

}  // namespace
}  // namespace vhs
