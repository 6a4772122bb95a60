// `record -C SIZE -W N`: file names that sort in recording order, files of bounded size, the
// newest N kept, every file a capture that reads on its own (a session spanning a rotation starts
// the later file with its repeated Connect, negotiation and waiting requests), and every relayed
// message in exactly one file.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "captures/format/capture_file.hpp"
#include "captures/model/rotating_recorder.hpp"
#include "captures/model/store.hpp"
#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

using std::chrono::milliseconds;

uint64_t value_of(const std::vector<uint8_t>& message) {
  uint64_t v = 0;
  if (message.size() >= kHeaderSize + sizeof v)
    std::memcpy(&v, message.data() + kHeaderSize, sizeof v);
  return v;
}

Record message_record(uint64_t ts, Direction direction, Bytes bytes) {
  Record r;
  r.kind = RecordKind::Message;
  r.direction = direction;
  r.channel = Channel::Frontend;
  r.session = 1;
  r.timestamp_ns = ts;
  r.bytes = std::move(bytes);
  return r;
}

Record connect_record(uint64_t ts) {
  Record r;
  r.kind = RecordKind::Connect;
  r.session = 1;
  r.timestamp_ns = ts;
  const std::string note = "front-end pid 1";
  r.bytes.assign(note.begin(), note.end());
  return r;
}

// The rotated files that exist for `base` (dir/capture.pcap), by index.
std::vector<std::pair<uint64_t, std::string>> rotated_files(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("capture-", 0) != 0 || name.size() != 19 || !name.ends_with(".pcap")) continue;
    out.emplace_back(std::stoull(name.substr(8, 6)), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t error_findings(const Store& store) {
  size_t n = 0;
  for (uint32_t i : store.flagged())
    for (const Finding& f : store.findings(i))
      if (f.severity() == Severity::Error) ++n;
  return n;
}

TEST(RotatedFileName, NumberGoesBeforeTheExtensionAndSortsInOrder) {
  EXPECT_EQ(rotated_file_name("cap.pcap", 0), "cap-000000.pcap");
  EXPECT_EQ(rotated_file_name("cap.pcap", 12), "cap-000012.pcap");
  EXPECT_EQ(rotated_file_name("/tmp/a.b/cap", 3), "/tmp/a.b/cap-000003");
  EXPECT_EQ(rotated_file_name("dir/.cap", 1), "dir/.cap-000001");
  EXPECT_EQ(rotated_file_name("x.tar.pcap", 7), "x.tar-000007.pcap");
  EXPECT_EQ(rotated_file_name("cap.pcap", 1234567), "cap-1234567.pcap");
  EXPECT_LT(rotated_file_name("cap.pcap", 9), rotated_file_name("cap.pcap", 10));
}

// A request waiting for its reply when the file rotates is repeated at the start of the next
// file, so the reply there pairs with it and the later file has no error findings. (SIZE 1: every
// record after the first starts a file, the reply included.)
TEST(RotatingRecorder, LaterFileRepeatsConnectNegotiationAndTheWaitingRequest) {
  TempDir dir;
  RotationOptions options;
  options.path = dir / "cap.pcap";
  options.max_bytes = 1;
  std::string error;
  auto recorder = RotatingRecorder::create(options, error);
  ASSERT_TRUE(recorder) << error;

  uint64_t ts = 1'700'000'000'000'000'000ull;
  recorder->on_record(connect_record(ts));
  for (uint64_t i = 0; i < 10; ++i) {
    recorder->on_record(message_record(ts += 1000, Direction::ToBackend, request("GET_FEATURES")));
    recorder->on_record(
        message_record(ts += 1000, Direction::ToFrontend, reply("GET_FEATURES", u64_payload(i))));
  }
  recorder->on_record(message_record(ts += 1000, Direction::ToBackend,
                                     request("GET_VRING_BASE", vring_state(0, 0))));
  recorder->on_record(message_record(ts += 1000, Direction::ToFrontend,
                                     reply("GET_VRING_BASE", vring_state(0, 7))));
  ASSERT_TRUE(recorder->writer().flush()) << recorder->writer().error();
  EXPECT_EQ(recorder->writer().files_created(), 23u);
  EXPECT_EQ(recorder->writer().records_written(), 23u);
  const std::string second = recorder->writer().current_path();
  EXPECT_EQ(second, dir / "cap-000022.pcap");
  recorder.reset();

  CaptureContents c = read_capture(second);
  ASSERT_TRUE(c.opened) << c.error;
  EXPECT_TRUE(c.warning.empty()) << c.warning;
  ASSERT_GE(c.records.size(), 3u);
  // Repeated first: the Connect, the negotiation's pairs, the waiting GET_VRING_BASE.
  EXPECT_EQ(c.records.front().kind, RecordKind::Connect);
  size_t repeated = 0;
  while (repeated < c.records.size() && (c.records[repeated].flags & kRecordRepeated)) ++repeated;
  EXPECT_EQ(repeated, 1u + 20u + 1u);
  EXPECT_EQ(c.records[repeated - 1].bytes, request("GET_VRING_BASE", vring_state(0, 0)));
  for (size_t i = repeated; i < c.records.size(); ++i)
    EXPECT_EQ(c.records[i].flags & kRecordRepeated, 0) << i;

  Store store;
  std::string warning;
  ASSERT_TRUE(load_capture(second, store, warning, error)) << error;
  EXPECT_EQ(error_findings(store), 0u);
  // The reply, the file's last record, answers the repeated request.
  const StoreEntry& last = store.entry(store.size() - 1);
  ASSERT_NE(last.peer, kNoEntry);
  EXPECT_EQ(last.peer, repeated - 1);
}

struct RelayedRun {
  uint64_t pairs = 0;
  std::string stderr_text;
  int exit_code = -1;
};

// GET_FEATURES request/reply pairs through the real recorder; the back-end answers pair i with
// the value i, so the replies in the capture files show order and gaps.
void relay_pairs(RecorderHarness& h, uint64_t pairs) {
  UniqueFd backend_listen = listen_on(h.backend_sock);
  ASSERT_TRUE(backend_listen);
  UniqueFd front = connect_to(h.frontend_sock, milliseconds(5000));
  ASSERT_TRUE(front);
  UniqueFd back = accept_from(backend_listen.get(), milliseconds(5000));
  ASSERT_TRUE(back);
  for (uint64_t i = 0; i < pairs; ++i) {
    ASSERT_EQ(send_message(front.get(), request("GET_FEATURES")), IoStatus::Ok);
    ReceivedMessage m;
    ASSERT_EQ(recv_message(back.get(), m, milliseconds(5000)), IoStatus::Ok);
    ASSERT_EQ(send_message(back.get(), reply("GET_FEATURES", u64_payload(i))), IoStatus::Ok);
    ASSERT_EQ(recv_message(front.get(), m, milliseconds(5000)), IoStatus::Ok);
    ASSERT_EQ(value_of(m.bytes), i);
  }
}

// The replies (values) of the recorder's own messages in `path`, in order; every file also reads
// without a warning, `dump` accepts it and `summary --check` finds no error.
std::vector<uint64_t> own_replies(const std::string& path, const std::string& log_dir,
                                  uint64_t& own_messages) {
  SCOPED_TRACE(path);
  CaptureContents c = read_capture(path);
  EXPECT_TRUE(c.opened) << c.error;
  EXPECT_TRUE(c.warning.empty()) << c.warning;
  std::vector<uint64_t> values;
  for (const Record& r : c.records) {
    if (r.kind != RecordKind::Message || (r.flags & kRecordRepeated)) continue;
    ++own_messages;
    if (r.direction == Direction::ToFrontend) values.push_back(value_of(r.bytes));
  }
  EXPECT_EQ(run_command({vhostscope_binary(), "dump", path}, log_dir).exit_code, 0);
  CommandResult check = run_command({vhostscope_binary(), "summary", "--check", path}, log_dir);
  EXPECT_EQ(check.exit_code, 0) << check.out;
  return values;
}

TEST(RecordRotation, KeepsTheNewestNFilesEachReadableAndInOrder) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"-C", "2k", "-W", "3"})) << h.why;
  const uint64_t pairs = 300;
  relay_pairs(h, pairs);
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();
  // No capture.pcap itself: every file is numbered.
  EXPECT_FALSE(std::filesystem::exists(h.capture));

  const auto files = rotated_files(h.dir.path());
  ASSERT_EQ(files.size(), 3u) << h.stderr_text();
  const uint64_t newest = files.back().first;
  EXPECT_GE(newest, 5u) << "expected several rotations of 2 KiB files";
  for (size_t k = 0; k < files.size(); ++k) EXPECT_EQ(files[k].first, newest - 2 + k);
  std::vector<uint64_t> values;
  uint64_t own_messages = 0;
  for (const auto& [index, path] : files) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const auto v = own_replies(path, h.dir.path(), own_messages);
    // Closed before the record that follows 2 KiB of its own: at most one record beyond it, plus
    // the repeated records (packet header, pseudo-header and bytes each; no fds here).
    uint64_t repeated_bytes = 0;
    for (const Record& r : read_capture(path).records)
      if (r.flags & kRecordRepeated) repeated_bytes += 16 + 24 + r.bytes.size();
    if (index != newest) {
      EXPECT_GE(uint64_t(st.st_size) - repeated_bytes, 2048u);
      EXPECT_LT(uint64_t(st.st_size) - repeated_bytes, 2048u + 24 + 100);
    }
    values.insert(values.end(), v.begin(), v.end());
  }
  // The kept files hold the last replies, consecutive, up to the last one relayed.
  ASSERT_FALSE(values.empty());
  EXPECT_EQ(values.back(), pairs - 1);
  for (size_t k = 1; k < values.size(); ++k) EXPECT_EQ(values[k], values[k - 1] + 1) << k;
  EXPECT_LT(values.size(), pairs);  // the oldest files were removed
}

TEST(RecordRotation, WithoutFileCountEveryRelayedMessageIsInExactlyOneFile) {
  RecorderHarness h;
  ASSERT_TRUE(h.start({"-C", "4k"})) << h.why;
  const uint64_t pairs = 200;
  relay_pairs(h, pairs);
  ASSERT_EQ(h.stop(), 0) << h.stderr_text();
  const auto files = rotated_files(h.dir.path());
  ASSERT_GE(files.size(), 3u);
  for (size_t k = 0; k < files.size(); ++k) EXPECT_EQ(files[k].first, k);
  std::vector<uint64_t> values;
  uint64_t own_messages = 0;
  for (const auto& [index, path] : files) {
    const auto v = own_replies(path, h.dir.path(), own_messages);
    values.insert(values.end(), v.begin(), v.end());
  }
  EXPECT_EQ(own_messages, 2 * pairs);
  ASSERT_EQ(values.size(), pairs);
  for (uint64_t i = 0; i < pairs; ++i) EXPECT_EQ(values[i], i);
  EXPECT_NE(h.stderr_text().find(std::to_string(files.size()) + " files"), std::string::npos)
      << h.stderr_text();
}

TEST(RecordRotation, OptionErrors) {
  TempDir dir;
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {vhostscope_binary(), "record",
                                     "--frontend-listen", dir / "fe.sock",
                                     "--backend-connect", dir / "be.sock"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, dir.path(), milliseconds(10000));
  };
  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"-w", dir / "c.pcap", "-C", "0"},
                                             {"-w", dir / "c.pcap", "-C", "10x"},
                                             {"-w", "-", "-C", "1"},
                                             {"-C", "1", "--on-finding", dir / "w"},
                                             {"-w", dir / "c.pcap", "-W", "3"},
                                             {"-w", dir / "c.pcap", "-C", "1", "-W", "0"}}) {
    CommandResult r = run(bad);
    EXPECT_EQ(r.exit_code, 2) << bad[bad.size() - 1] << "\n" << r.err;
    EXPECT_NE(r.err.find("Try 'vhostscope record --help'"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "c-000000.pcap"));
}

}  // namespace
}  // namespace vhs::test
