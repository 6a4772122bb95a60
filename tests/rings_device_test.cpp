// `--device` fixes ring detail offline: ring states keep the raw heads of the oldest in-flight
// chains, so a capture recorded while the device was unknown shows `READ sector N` when read with
// `rings --device blk`; the shipped (older) captures, which have no chain heads, read as before.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/capture_write.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {
namespace {

// What a sampler that did not know the device records for a blk READ of 4096 bytes at sector
// 2048: a generic oldest buffer and the raw chain head.
RingSnapshot unknown_device_read() {
  ChainHead h;
  h.head = 0;
  h.descs = 3;
  h.readable_bytes = 16;
  h.writable_bytes = 4097;
  h.bytes[9] = 0x08;  // sector 2048 (little endian at offset 8); type 0 = READ
  h.byte_count = 16;
  RingSnapshot s;
  s.queue = 0;
  s.size = 128;
  s.indices_ok = true;
  s.avail_idx = 1;
  s.inflight = 1;
  s.heads = {0};
  s.oldest = summarize_chain_head(h, DetailContext{DeviceKind::Unknown, 0, 0});
  s.chain_heads = {h};
  return s;
}

std::string capture_with_unknown_device_read(const TempDir& dir) {
  RecordList records;
  const std::string note = "front-end (pid 1) connected on '/run/blk.sock'";
  records.add(RecordKind::Connect, Direction::ToBackend, Bytes(note.begin(), note.end()));
  records.add(RecordKind::Message, Direction::ToBackend, request("GET_FEATURES"));
  records.add(RecordKind::Message, Direction::ToFrontend,
              reply("GET_FEATURES", u64_payload(uint64_t{1} << 32)));
  records.add(RecordKind::RingState, Direction::ToBackend,
              encode_ring_snapshot(unknown_device_read()));
  return write_capture(dir, "unknown-device.pcap", records.take());
}

TEST(RingsDevice, DeviceOptionReadsTheKeptChainHeadAsBlk) {
  TempDir dir;
  const std::string path = capture_with_unknown_device_read(dir);

  const CommandResult plain = run_command({vhostscope_binary(), "rings", path}, dir.path());
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out.find("oldest head 0: 3 descs, 16 readable + 4097 writable bytes"),
            std::string::npos)
      << plain.out;

  const CommandResult blk =
      run_command({vhostscope_binary(), "rings", "--device", "blk", path}, dir.path());
  EXPECT_EQ(blk.exit_code, 0) << blk.err;
  EXPECT_NE(blk.out.find("oldest head 0: READ sector 2048 len 4096"), std::string::npos) << blk.out;
  EXPECT_EQ(blk.out.find("16 readable + 4097 writable"), std::string::npos) << blk.out;

  // dump -V shows the same detail.
  const CommandResult dump =
      run_command({vhostscope_binary(), "dump", "-V", "--device", "blk", path}, dir.path());
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("oldest = head 0: READ sector 2048 len 4096"), std::string::npos)
      << dump.out;
}

TEST(RingsDevice, ShippedOldFormatRingStatesDecodeAsRecorded) {
  // blk-hang.pcap was recorded before chain heads existed: every ring state decodes, carries no
  // chain head, and the stalled READ is still described from the recorded detail.
  Store store(Store::Options{DeviceKind::Blk});
  std::string warning, error;
  ASSERT_TRUE(load_capture(std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap", store,
                           warning, error))
      << error;
  size_t states = 0;
  bool read_seen = false;
  for (size_t i = 0; i < store.size(); ++i) {
    if (store.entry(i).kind != RecordKind::RingState) continue;
    std::string why;
    const auto s = store.ring_snapshot(i, &why);
    ASSERT_TRUE(s) << why;
    EXPECT_TRUE(s->chain_heads.empty());
    ++states;
    if (s->oldest && describe_buffer(*s->oldest) == "head 0: READ sector 0 len 4096")
      read_seen = true;
  }
  EXPECT_GT(states, 0u);
  EXPECT_TRUE(read_seen);
}

}  // namespace
}  // namespace vhs::test
