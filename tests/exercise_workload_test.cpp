// The fs and net workloads of `vhostscope exercise` against in-process fake devices
// (support/fake_driver_io): every check passes on a well-behaved device, and a device that
// corrupts, drops or refuses makes the one check it breaks fail with a reason that names the
// offset, the sequence number, or the opcode and errno.
#include <errno.h>
#include <linux/fuse.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proxy/exercise/fs_workload.hpp"
#include "proxy/exercise/fuse_messages.hpp"
#include "proxy/exercise/net_frames.hpp"
#include "proxy/exercise/net_workload.hpp"
#include "support/fake_driver_io.hpp"
#include "support/temp_dir.hpp"

namespace vhs::test {
namespace {

using exercise::CheckOutcome;
using exercise::Verdict;
namespace stdfs = std::filesystem;

constexpr uint64_t kVersion1 = 1ull << 32;
constexpr uint64_t kMrgRxbuf = 1ull << 15;
constexpr uint64_t kAnyLayout = 1ull << 27;

const CheckOutcome* find(const std::vector<CheckOutcome>& out, const std::string& id) {
  for (const auto& o : out)
    if (o.id == id) return &o;
  return nullptr;
}

std::vector<std::string> ids(const std::vector<CheckOutcome>& out) {
  std::vector<std::string> v;
  for (const auto& o : out) v.push_back(o.id);
  return v;
}

std::string verdicts(const std::vector<CheckOutcome>& out) {
  std::string text;
  for (const auto& o : out)
    text += o.id + "=" +
            (o.verdict == Verdict::Pass   ? "pass"
             : o.verdict == Verdict::Fail ? "FAIL"
                                          : "unsup") +
            (o.reason.empty() ? "" : " (" + o.reason + ")") + "\n";
  return text;
}

// ---- fs ----

const std::vector<std::string> kFsSteps = {
    "fs.init",         "fs.lookup", "fs.getattr", "fs.open",    "fs.read",
    "fs.read-compare", "fs.create", "fs.write",   "fs.release", "fs.write-compare",
    "fs.readdir",      "fs.unlink", "fs.forget"};

std::vector<uint8_t> host_bytes(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 7 + i / 251) & 0xff);
  return b;
}

// A shared directory with a 40000-byte file (several 16 KiB READs) and a second one.
struct SharedDir {
  TempDir dir;
  SharedDir() {
    auto a = host_bytes(40000);
    std::ofstream(dir / "a-data.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(a.data()), static_cast<std::streamsize>(a.size()));
    std::ofstream(dir / "b-note.txt") << "second file\n";
  }
  stdfs::path path() const { return dir.path(); }
};

struct FsRun {
  std::vector<CheckOutcome> out;
  std::vector<uint32_t> opcodes;
  uint64_t forgotten = 0;
};

FsRun run_fs(const SharedDir& shared, FakeFuseOptions fake, uint16_t queue_size = 64,
             bool give_dir = true) {
  fake.dir = shared.path();
  FakeFuseServer server(fake);
  FakeDriverIo io(2, queue_size, server);
  exercise::WorkloadContext ctx{io, 0, {}, {}};
  if (give_dir) ctx.shared_dir = shared.path();
  exercise::FsWorkloadOptions options;
  options.created_name = "created-by-test.bin";
  FsRun run;
  run.out = exercise::run_fs_workload(ctx, options);
  run.opcodes = server.opcodes_seen();
  run.forgotten = server.forgotten_lookups();
  return run;
}

TEST(FsWorkload, EveryStepPassesOnAWellBehavedServer) {
  SharedDir shared;
  FsRun run = run_fs(shared, {});
  EXPECT_EQ(ids(run.out), kFsSteps);
  for (const auto& o : run.out) EXPECT_EQ(o.verdict, Verdict::Pass) << verdicts(run.out);
  // 40000 bytes in 16 KiB READs: three of them, and 20000 written bytes in two WRITEs.
  EXPECT_EQ(std::count(run.opcodes.begin(), run.opcodes.end(), FUSE_READ), 3);
  EXPECT_EQ(std::count(run.opcodes.begin(), run.opcodes.end(), FUSE_WRITE), 2);
  EXPECT_EQ(run.opcodes.front(), FUSE_INIT);
  EXPECT_EQ(run.opcodes.back(), FUSE_FORGET);
  // FORGET of the looked-up and the created node, each one lookup, on the hiprio queue.
  EXPECT_EQ(run.forgotten, 2u);
  // The created file was unlinked again: the host directory is as it was.
  EXPECT_FALSE(stdfs::exists(shared.path() / "created-by-test.bin"));
  EXPECT_TRUE(stdfs::exists(shared.path() / "a-data.bin"));
}

TEST(FsWorkload, ACorruptedReadByteFailsReadCompareNamingTheOffset) {
  SharedDir shared;
  FakeFuseOptions fake;
  fake.corrupt_read_offset = 20000;  // inside the second READ
  FsRun run = run_fs(shared, fake);
  const auto* compare = find(run.out, "fs.read-compare");
  ASSERT_NE(compare, nullptr);
  EXPECT_EQ(compare->verdict, Verdict::Fail);
  const uint8_t good = host_bytes(40000)[20000];
  char expected[160];
  std::snprintf(expected, sizeof expected,
                "READ of a-data.bin: byte at offset 20000 is 0x%02x, the host file has 0x%02x",
                good ^ 0xff, good);
  EXPECT_EQ(compare->reason, expected);
  // Only that check: the READs themselves succeeded, everything else passes.
  for (const auto& o : run.out)
    if (o.id != "fs.read-compare") {
      EXPECT_EQ(o.verdict, Verdict::Pass) << verdicts(run.out);
    }
}

TEST(FsWorkload, AFuseErrorNamesTheOpcodeAndErrnoAndBlocksWhatDependsOnIt) {
  SharedDir shared;
  FakeFuseOptions fake;
  fake.fail_opcodes[FUSE_LOOKUP] = ENOENT;
  FsRun run = run_fs(shared, fake);
  EXPECT_EQ(ids(run.out), kFsSteps);
  const auto* lookup = find(run.out, "fs.lookup");
  ASSERT_NE(lookup, nullptr);
  EXPECT_EQ(lookup->verdict, Verdict::Fail);
  EXPECT_EQ(lookup->reason,
            "LOOKUP failed: ENOENT (No such file or directory) (looking up a-data.bin)");
  for (const char* id : {"fs.getattr", "fs.open", "fs.read", "fs.read-compare"}) {
    const auto* o = find(run.out, id);
    ASSERT_NE(o, nullptr) << id;
    EXPECT_EQ(o->verdict, Verdict::Fail) << id;
    EXPECT_EQ(o->reason, "not run: fs.lookup failed") << id;
  }
  // The write half does not need the lookup.
  for (const char* id : {"fs.create", "fs.write", "fs.release", "fs.write-compare", "fs.readdir",
                         "fs.unlink", "fs.forget"})
    EXPECT_EQ(find(run.out, id)->verdict, Verdict::Pass) << id << "\n" << verdicts(run.out);
  EXPECT_EQ(run.forgotten, 1u);  // only the created node
}

TEST(FsWorkload, ACreateRefusedNamesCreateAndEacces) {
  SharedDir shared;
  FakeFuseOptions fake;
  fake.fail_opcodes[FUSE_CREATE] = EACCES;
  FsRun run = run_fs(shared, fake);
  EXPECT_EQ(find(run.out, "fs.create")->reason,
            "CREATE failed: EACCES (Permission denied) (creating created-by-test.bin)");
  EXPECT_EQ(find(run.out, "fs.write")->reason, "not run: fs.create failed");
  EXPECT_EQ(find(run.out, "fs.write-compare")->reason, "not run: fs.create failed");
  EXPECT_EQ(find(run.out, "fs.unlink")->reason, "not run: fs.create failed");
  EXPECT_EQ(find(run.out, "fs.read-compare")->verdict, Verdict::Pass);
  EXPECT_EQ(find(run.out, "fs.release")->verdict, Verdict::Pass);  // the read file's
}

TEST(FsWorkload, AnUnansweredInitFailsWithTheQueueTimeoutAndNothingElseRuns) {
  SharedDir shared;
  FakeFuseOptions fake;
  fake.ignore_opcodes.insert(FUSE_INIT);
  FsRun run = run_fs(shared, fake);
  EXPECT_EQ(ids(run.out), kFsSteps);
  EXPECT_EQ(run.out[0].verdict, Verdict::Fail);
  EXPECT_EQ(run.out[0].reason, "INIT: queue 1: no completion for 5 s");
  for (size_t i = 1; i < run.out.size(); ++i)
    EXPECT_EQ(run.out[i].reason, "not run: fs.init failed") << run.out[i].id;
  EXPECT_EQ(run.opcodes, std::vector<uint32_t>{FUSE_INIT});
}

TEST(FsWorkload, AnOldProtocolMinorFailsInit) {
  SharedDir shared;
  FakeFuseOptions fake;
  fake.minor = 8;
  FsRun run = run_fs(shared, fake);
  EXPECT_EQ(run.out[0].reason, "negotiated FUSE 7.8: the requests sent here need 7.12 or later");
}

TEST(FsWorkload, ReaddirMissingAHostNameFailsNamingIt) {
  SharedDir shared;
  FakeFuseOptions fake;
  fake.hide_from_readdir.insert("b-note.txt");
  FsRun run = run_fs(shared, fake);
  const auto* readdir = find(run.out, "fs.readdir");
  EXPECT_EQ(readdir->verdict, Verdict::Fail);
  EXPECT_EQ(readdir->reason, "READDIR lacks b-note.txt (the host directory has it)");
}

TEST(FsWorkload, ReaddirPagesThroughAFullDirectory) {
  SharedDir shared;
  for (int i = 0; i < 300; ++i)  // about 12 KiB of entries: more than one 8 KiB READDIR
    std::ofstream(shared.dir / ("f" + std::to_string(i) + "-with-a-longer-name")) << i;
  FsRun run = run_fs(shared, {});
  EXPECT_EQ(find(run.out, "fs.readdir")->verdict, Verdict::Pass) << verdicts(run.out);
  EXPECT_GE(std::count(run.opcodes.begin(), run.opcodes.end(), FUSE_READDIR), 3);
}

TEST(FsWorkload, WithoutTheHostPathTheComparingStepsAreUnsupported) {
  SharedDir shared;
  FsRun run = run_fs(shared, {}, 64, /*give_dir=*/false);
  for (const char* id :
       {"fs.lookup", "fs.getattr", "fs.open", "fs.read", "fs.read-compare", "fs.write-compare"}) {
    EXPECT_EQ(find(run.out, id)->verdict, Verdict::Unsupported) << id;
    EXPECT_EQ(find(run.out, id)->reason,
              "no host path of the shared directory to compare with (--shared-dir)");
  }
  for (const char* id :
       {"fs.init", "fs.create", "fs.write", "fs.release", "fs.readdir", "fs.unlink", "fs.forget"})
    EXPECT_EQ(find(run.out, id)->verdict, Verdict::Pass) << id << "\n" << verdicts(run.out);
}

TEST(FsWorkload, TheLifecycleProbeAcceptsAnyWellFormedReplyOnAnyQueue) {
  SharedDir shared;
  FakeFuseOptions fake;
  fake.dir = shared.path();
  FakeFuseServer server(fake);
  FakeDriverIo io(2, 64, server);
  const auto probe = exercise::fs_probe_request();
  for (unsigned queue : {0u, 1u}) {
    auto done = io.transact(queue, std::span(&probe, 1), std::chrono::milliseconds(5000));
    ASSERT_TRUE(done) << done.error;
    // Before FUSE_INIT the server answers EIO: still a reply, the queue moves.
    EXPECT_EQ(exercise::fs_probe_check(done.value->front()), "") << queue;
  }
  EXPECT_EQ(server.opcodes_seen(), (std::vector<uint32_t>{FUSE_GETATTR, FUSE_GETATTR}));
  exercise::ChainCompletion nothing{1, 0, {{}, {}}};
  EXPECT_EQ(exercise::fs_probe_check(nothing),
            "GETATTR probe: reply of 0 bytes is shorter than a fuse_out_header (16)");
}

TEST(FuseMessages, DirentsRoundTripAndATruncatedOneIsNamed) {
  std::vector<uint8_t> body;
  exercise::append_fuse_dirent(body, {5, 1, 8, "abc"});
  exercise::append_fuse_dirent(body, {6, 2, 4, "a-longer-name"});
  EXPECT_EQ(body.size(), 32u + 40u);  // 24 + name, each padded to 8
  auto parsed = exercise::parse_fuse_dirents(body);
  ASSERT_TRUE(parsed) << parsed.error;
  ASSERT_EQ(parsed.value->size(), 2u);
  EXPECT_EQ((*parsed.value)[1].name, "a-longer-name");
  EXPECT_EQ((*parsed.value)[1].off, 2u);
  body.resize(body.size() - 8);
  EXPECT_EQ(exercise::parse_fuse_dirents(body).error,
            "READDIR entry at byte 32 (name length 13) does not fit the 64-byte reply");
}

TEST(FuseMessages, AReplyForAnotherRequestOrLongerThanWrittenIsRefused) {
  fuse_out_header h{};
  h.len = 16;
  h.unique = 7;
  std::vector<uint8_t> bytes;
  exercise::append_struct(bytes, h);
  exercise::ChainCompletion c{1, 16, {bytes}};
  EXPECT_TRUE(exercise::parse_fuse_reply(c, 7));
  EXPECT_EQ(exercise::parse_fuse_reply(c, 8).error, "reply for unique 7, expected 8");
  h.len = 40;
  bytes.clear();
  exercise::append_struct(bytes, h);
  c.written = {bytes};
  EXPECT_EQ(exercise::parse_fuse_reply(c, 7).error,
            "fuse_out_header len 40 but the device wrote 16 bytes");
  EXPECT_EQ(exercise::fuse_error_text(FUSE_OPEN, -EACCES),
            "OPEN failed: EACCES (Permission denied)");
}

// ---- net ----

struct NetRun {
  std::vector<CheckOutcome> out;
  size_t sent_back = 0;
  uint16_t most_buffers = 0;
  size_t layout_errors = 0;  // chains without the header alone in front, where legacy needs it
};

NetRun run_net(uint64_t features, FakeNetOptions fake, exercise::NetWorkloadOptions options = {},
               uint16_t queue_size = 256) {
  fake.header_size = features & (kVersion1 | kMrgRxbuf) ? 12 : 10;
  fake.mergeable = (features & kMrgRxbuf) != 0;
  FakeNetDevice device(fake);
  FakeDriverIo io(2, queue_size, device);
  exercise::WorkloadContext ctx{io, 0, {}, {}};
  ctx.virtio_features = features;
  fake.header_alone = (features & (kVersion1 | kAnyLayout)) == 0;
  NetRun run;
  run.out = exercise::run_net_workload(ctx, options);
  run.layout_errors = device.layout_errors();
  run.sent_back = device.frames_sent_back();
  run.most_buffers = device.most_buffers_used();
  return run;
}

TEST(NetWorkload, FramesComeBackWithoutMergeableBuffers) {
  NetRun run = run_net(kVersion1, {});
  ASSERT_EQ(ids(run.out), (std::vector<std::string>{"net.tx-rx", "net.mrg-rxbuf"}));
  EXPECT_EQ(run.out[0].verdict, Verdict::Pass) << verdicts(run.out);
  EXPECT_EQ(run.out[1].verdict, Verdict::Unsupported);
  EXPECT_EQ(run.out[1].reason, "VIRTIO_NET_F_MRG_RXBUF was not negotiated");
  // Every frame, and the one probe that found the port forwarding.
  EXPECT_EQ(run.sent_back, exercise::NetWorkloadOptions{}.frame_sizes.size() + 1);
}

TEST(NetWorkload, ALegacyTenByteHeaderGetsItsOwnDescriptor) {
  NetRun run = run_net(0, {});
  EXPECT_EQ(run.out[0].verdict, Verdict::Pass) << verdicts(run.out);
  EXPECT_EQ(run.layout_errors, 0u);
  EXPECT_EQ(run.sent_back, exercise::NetWorkloadOptions{}.frame_sizes.size() + 1);
  // The fake notices a header sharing its descriptor where legacy forbids it: with ANY_LAYOUT
  // acked the workload may (and does) put header and frame together.
  FakeNetOptions strict;
  FakeNetDevice device([&] {
    strict.header_size = 10;
    strict.header_alone = true;
    return strict;
  }());
  FakeDriverIo io(2, 256, device);
  exercise::WorkloadContext ctx{io, kAnyLayout, {}, {}};
  EXPECT_EQ(exercise::run_net_workload(ctx)[0].verdict, Verdict::Pass);
  EXPECT_GT(device.layout_errors(), 0u);
}

TEST(NetWorkload, MergeableBuffersSpreadFramesAndPass) {
  NetRun run = run_net(kVersion1 | kMrgRxbuf, {});
  EXPECT_EQ(run.out[0].verdict, Verdict::Pass) << verdicts(run.out);
  EXPECT_EQ(run.out[1].verdict, Verdict::Pass) << verdicts(run.out);
  // 12 + 1514 bytes in 256-byte buffers: six of them.
  EXPECT_EQ(run.most_buffers, 6);
  EXPECT_EQ(run.sent_back, 2 * exercise::NetWorkloadOptions{}.frame_sizes.size() + 1);
}

TEST(NetWorkload, SmallQueuesSendInBatches) {
  NetRun run = run_net(kVersion1 | kMrgRxbuf, {}, {}, 8);
  EXPECT_EQ(run.out[0].verdict, Verdict::Pass) << verdicts(run.out);
  EXPECT_EQ(run.out[1].verdict, Verdict::Pass) << verdicts(run.out);
}

TEST(NetWorkload, MacswapIsAcceptedWhenSaidOrDetectedAndRefusedWhenIoWasSaid) {
  FakeNetOptions fake;
  fake.macswap = true;
  exercise::NetWorkloadOptions options;
  options.echo = exercise::NetEcho::MacSwapped;
  EXPECT_EQ(run_net(kVersion1, fake, options).out[0].verdict, Verdict::Pass);
  options.echo = exercise::NetEcho::Either;
  EXPECT_EQ(run_net(kVersion1, fake, options).out[0].verdict, Verdict::Pass);
  options.echo = exercise::NetEcho::Unchanged;
  NetRun wrong = run_net(kVersion1, fake, options);
  EXPECT_EQ(wrong.out[0].verdict, Verdict::Fail);
  EXPECT_EQ(wrong.out[0].reason,
            "frame seq 0 (60 bytes) came back with the MAC addresses swapped (macswap), expected "
            "unchanged (io forwarding)");
  // And an unchanged echo when macswap was said.
  options.echo = exercise::NetEcho::MacSwapped;
  EXPECT_EQ(run_net(kVersion1, {}, options).out[0].reason,
            "frame seq 0 (60 bytes) came back unchanged (io forwarding), expected with the MAC "
            "addresses swapped (macswap)");
}

// A port that drops frames until it is up (dpdk-testpmd right after the rings are enabled) is
// probed until it forwards; the round then runs on a forwarding port.
TEST(NetWorkload, APortThatDropsItsFirstFramesIsProbedUntilItForwards) {
  FakeNetOptions fake;
  fake.drop_seqs = {0x70000000, 0x70000001, 0x70000002};
  NetRun run = run_net(kVersion1, fake);
  EXPECT_EQ(run.out[0].verdict, Verdict::Pass) << verdicts(run.out);
  EXPECT_EQ(run.sent_back, exercise::NetWorkloadOptions{}.frame_sizes.size() + 1);
}

TEST(NetWorkload, APortThatNeverForwardsFailsAfterTheProbes) {
  FakeNetOptions fake;
  for (uint32_t seq = 0x70000000; seq < 0x70000000 + 100; ++seq) fake.drop_seqs.insert(seq);
  NetRun run = run_net(kVersion1, fake);
  EXPECT_EQ(run.out[0].verdict, Verdict::Fail);
  EXPECT_EQ(run.out[0].reason,
            "no probe frame (seq 1879048192..) came back on queue 0 within 5000 ms: the back-end "
            "does not forward frames back");
  EXPECT_EQ(run.sent_back, 0u);
}

TEST(NetWorkload, ADroppedFrameIsNamedBySequenceNumber) {
  FakeNetOptions fake;
  fake.drop_seqs = {3};
  NetRun run = run_net(kVersion1 | kMrgRxbuf, fake);
  EXPECT_EQ(run.out[0].verdict, Verdict::Fail);
  EXPECT_EQ(run.out[0].reason,
            "frame seq 3 (255 bytes) did not come back: queue 0: no completion for 5 s");
  EXPECT_EQ(run.out[1].reason, "not run: net.tx-rx failed");
}

TEST(NetWorkload, ADroppedFrameInTheMergeableRoundIsNamedToo) {
  FakeNetOptions fake;
  fake.drop_seqs = {1007};  // the second round numbers its frames from 1000
  NetRun run = run_net(kVersion1 | kMrgRxbuf, fake);
  EXPECT_EQ(run.out[0].verdict, Verdict::Pass);
  EXPECT_EQ(run.out[1].verdict, Verdict::Fail);
  EXPECT_EQ(run.out[1].reason,
            "frame seq 1007 (1000 bytes) did not come back: queue 0: no completion for 5 s");
}

TEST(NetWorkload, ACorruptedFrameByteIsNamed) {
  FakeNetOptions fake;
  fake.corrupt_seq = 5;
  fake.corrupt_byte = 100;
  NetRun run = run_net(kVersion1, fake);
  const auto sent = exercise::build_exercise_frame(5, 511);
  char expected[128];
  std::snprintf(expected, sizeof expected,
                "frame seq 5 (511 bytes): byte 100 is 0x%02x, expected 0x%02x", sent[100] ^ 0xff,
                sent[100]);
  EXPECT_EQ(run.out[0].reason, expected);
}

TEST(NetFrames, FramesCarryTheirSequenceNumberAndSize) {
  auto f = exercise::build_exercise_frame(42, 20);  // clamped to the Ethernet minimum
  EXPECT_EQ(f.size(), 60u);
  EXPECT_EQ(exercise::exercise_frame_seq(f), 42u);
  EXPECT_EQ(exercise::exercise_frame_seq(exercise::mac_swapped(f)), 42u);
  EXPECT_EQ(exercise::build_exercise_frame(1, 5000).size(), 1514u);
  EXPECT_NE(exercise::build_exercise_frame(1, 100), exercise::build_exercise_frame(2, 100));
  f[15] = 'x';
  EXPECT_FALSE(exercise::exercise_frame_seq(f));
}

}  // namespace
}  // namespace vhs::test
