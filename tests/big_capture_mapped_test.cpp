// Captures read through a memory map (load_capture of a regular file) against the same captures
// read through libpcap as a stream (what a pipe gets): the same entries, findings, dump lines and
// summaries, the same warning for a cut-off last record; a file that grows after it was mapped is
// read only up to the mapped size; the per-record index stays within its memory budget.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "app/common/dump_format.hpp"
#include "app/common/summary_format.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/format/mapped_capture.hpp"
#include "captures/format/mapping_fault.hpp"
#include "captures/model/store.hpp"
#include "support/capture_read.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "proxy/fault_guard.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using test::TempDir;

// What a pipe gets: the libpcap stream reader, every record copied into the store.
bool load_streamed(const std::string& path, Store& store, std::string& warning) {
  std::string error;
  auto reader = CaptureReader::open(path, error);
  if (!reader) return false;
  Record r;
  while (reader->next(r)) store.append(r);
  warning = reader->warning();
  store.finish();
  return true;
}

std::string everything_shown(const Store& store) {
  std::string out;
  for (size_t i = 0; i < store.size(); ++i) {
    out += format_entry_line(store, i) + "\n";
    out += format_entry_details(store, i);
  }
  for (const StoreSession& s : store.sessions()) out += format_session_summary(store, s);
  return out;
}

void expect_same_store(const Store& mapped, const Store& streamed, const std::string& what) {
  ASSERT_EQ(mapped.size(), streamed.size()) << what;
  for (size_t i = 0; i < mapped.size(); ++i) {
    const StoreEntry a = mapped.entry(i), b = streamed.entry(i);
    ASSERT_EQ(a.timestamp_ns, b.timestamp_ns) << what << " entry " << i;
    ASSERT_EQ(a.kind, b.kind) << what << " entry " << i;
    ASSERT_EQ(a.direction, b.direction) << what << " entry " << i;
    ASSERT_EQ(a.channel, b.channel) << what << " entry " << i;
    ASSERT_EQ(a.record_flags, b.record_flags) << what << " entry " << i;
    ASSERT_EQ(a.session, b.session) << what << " entry " << i;
    ASSERT_EQ(a.peer, b.peer) << what << " entry " << i;
    ASSERT_EQ(a.latency_ns, b.latency_ns) << what << " entry " << i;
    ASSERT_EQ(a.has_findings, b.has_findings) << what << " entry " << i;
    ASSERT_EQ(a.worst, b.worst) << what << " entry " << i;
    const auto ba = mapped.bytes(i), bb = streamed.bytes(i);
    ASSERT_EQ(std::vector<uint8_t>(ba.begin(), ba.end()),
              std::vector<uint8_t>(bb.begin(), bb.end()))
        << what << " entry " << i;
    const auto fa = mapped.fds(i), fb = streamed.fds(i);
    ASSERT_EQ(std::vector<FdInfo>(fa.begin(), fa.end()), std::vector<FdInfo>(fb.begin(), fb.end()))
        << what << " entry " << i;
    ASSERT_EQ(mapped.findings(i).size(), streamed.findings(i).size()) << what << " entry " << i;
  }
  EXPECT_EQ(everything_shown(mapped), everything_shown(streamed)) << what;
}

TEST(BigCaptureMapped, MappedAndStreamedReadsGiveTheSameStore) {
  size_t mapped_files = 0;
  for (const std::string& path : test::shipped_and_hostile_captures()) {
    Store mapped, streamed;
    std::string warning_mapped, warning_streamed, error;
    const bool loaded = load_capture(path, mapped, warning_mapped, error);
    ASSERT_EQ(loaded, load_streamed(path, streamed, warning_streamed)) << path << ": " << error;
    if (!loaded) continue;
    if (MappedCapture::open(path)) ++mapped_files;
    EXPECT_EQ(warning_mapped, warning_streamed) << path;
    expect_same_store(mapped, streamed, path);
  }
  // Every shipped capture is a classic pcap file: the comparison above really used the map.
  EXPECT_GE(mapped_files, 10u);
}

// Captures of 8 MiB and more are read by two threads (a reader a batch ahead of the ingest):
// the store is the same as the stream reader's, record for record, fds and findings included.
TEST(BigCaptureMapped, ABigCaptureReadByTwoThreadsGivesTheSameStore) {
  TempDir dir;
  const std::string path = dir / "busy.pcap";
  const auto generated = test::run_command(
      {std::string(VHS_BINARY_DIR) + "/tools/gen_capture", path, "--messages", "200000",
       "--sessions", "3", "--queues", "2", "--mix", "busy"},
      dir.path());
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  ASSERT_GT(std::filesystem::file_size(path), size_t{8} << 20);
  Store mapped, streamed;
  std::string warning_mapped, warning_streamed, error;
  ASSERT_TRUE(load_capture(path, mapped, warning_mapped, error)) << error;
  ASSERT_TRUE(load_streamed(path, streamed, warning_streamed));
  EXPECT_EQ(warning_mapped, "");
  EXPECT_EQ(mapped.sessions().size(), 3u);
  expect_same_store(mapped, streamed, path);
  size_t with_fds = 0;
  for (size_t i = 0; i < mapped.size(); ++i) with_fds += !mapped.fds(i).empty();
  EXPECT_GT(with_fds, 100u);  // the batches' fd descriptions were compared, not only bytes
  EXPECT_EQ(mapped.flagged().size(), streamed.flagged().size());
}

TEST(BigCaptureMapped, CutLastRecordWarnsInTheSameWordsAndKeepsTheRest) {
  const std::string path = std::string(VHS_SOURCE_DIR) + "/tests/data/hostile/cut-file.pcap";
  auto mapped = MappedCapture::open(path);
  ASSERT_NE(mapped, nullptr);
  RecordView r;
  uint64_t n = 0;
  while (mapped->next(r)) ++n;
  EXPECT_EQ(n, 15u);
  EXPECT_EQ(mapped->warning(),
            "capture truncated after record 15: truncated dump file; tried to read 44 captured "
            "bytes, only got 37");

  // A record header cut short too.
  TempDir dir;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir / "header-cut.pcap";
  std::ofstream(cut, std::ios::binary)
      .write(all.data(), static_cast<std::streamsize>(all.size() - 37 - 6));
  Store a, b;
  std::string wa, wb, error;
  ASSERT_TRUE(load_capture(cut, a, wa, error)) << error;
  ASSERT_TRUE(load_streamed(cut, b, wb));
  EXPECT_EQ(wa, wb);
  EXPECT_EQ(wa,
            "capture truncated after record 15: truncated dump file; tried to read 16 header "
            "bytes, only got 10");
  EXPECT_EQ(a.size(), 15u);
}

Record notify(uint32_t session, uint64_t ts, uint16_t queue) {
  Record r;
  r.kind = RecordKind::Notify;
  r.session = session;
  r.timestamp_ns = ts;
  r.bytes = encode_notify({NotifySource::Kick, NotifyEvent::Relayed, queue, 1});
  return r;
}

// A capture of `count` kicks of queue 0 in session 1 (about 32 bytes a record).
::testing::AssertionResult write_kicks(const std::string& path, int count) {
  std::string error;
  auto writer = CaptureWriter::create(path, error);
  if (!writer) return ::testing::AssertionFailure() << error;
  for (int i = 0; i < count; ++i) writer->write(notify(1, 1'000 + i, 0));
  if (!writer->flush()) return ::testing::AssertionFailure() << "flush of " << path << " failed";
  return ::testing::AssertionSuccess();
}

TEST(BigCaptureMapped, AFileThatGrowsAfterMappingIsReadOnlyUpToTheMappedSize) {
  TempDir dir;
  const std::string path = dir / "growing.pcap";
  std::string error;
  auto writer = CaptureWriter::create(path, error);
  ASSERT_NE(writer, nullptr) << error;
  for (int i = 0; i < 10; ++i) writer->write(notify(1, 1'000 + i, 0));
  ASSERT_TRUE(writer->flush());

  auto mapped = MappedCapture::open(path);
  ASSERT_NE(mapped, nullptr);
  const size_t mapped_size = mapped->bytes().size();
  for (int i = 0; i < 1000; ++i) writer->write(notify(1, 2'000 + i, 1));
  ASSERT_TRUE(writer->flush());
  ASSERT_GT(std::filesystem::file_size(path), mapped_size);

  RecordView r;
  uint64_t n = 0;
  while (mapped->next(r)) {
    EXPECT_EQ(decode_notify(r.bytes)->queue, 0u);
    ++n;
  }
  EXPECT_EQ(n, 10u);
  EXPECT_EQ(mapped->warning(), "");
}

TEST(BigCaptureMapped, PipesPcapngAndOtherLinkTypesAreLeftToTheStreamReader) {
  EXPECT_EQ(MappedCapture::open("-"), nullptr);
  EXPECT_EQ(MappedCapture::open("/nonexistent/x.pcap"), nullptr);
  TempDir dir;
  const std::string empty = dir / "empty.pcap";
  std::ofstream(empty).close();
  EXPECT_EQ(MappedCapture::open(empty), nullptr);
  const std::string not_pcap = dir / "text.pcap";
  std::ofstream(not_pcap) << "this is not a capture file, just some text in it\n";
  EXPECT_EQ(MappedCapture::open(not_pcap), nullptr);
  Store store;
  std::string warning, error;
  EXPECT_FALSE(load_capture(not_pcap, store, warning, error));
  EXPECT_NE(error.find("unknown file format"), std::string::npos) << error;
}

// A named pipe is not mapped, and not even opened by the mapped reader: opening it would wait for
// the writer and take what it wrote away from the stream reader, which would then wait forever.
// Run in a child with an alarm so that a hang fails the test instead of stalling it.
TEST(BigCaptureMappedDeathTest, ANamedPipeIsReadWholeByTheStreamReader) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  const std::string file = dir / "whole.pcap";
  ASSERT_TRUE(write_kicks(file, 200));
  std::ifstream in(file, std::ios::binary);
  const std::string capture((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_LT(capture.size(), 60'000u) << "must fit a pipe buffer for the writer to finish first";
  const std::string fifo = dir / "pipe.pcap";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The child's body is a lambda: a declaration list's commas would split the macro's arguments.
  const auto read_through_pipe = [&] {
    ::alarm(20);
    std::thread writer([&] {
      const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) ::_exit(3);
      if (::write(fd, capture.data(), capture.size()) != static_cast<ssize_t>(capture.size()))
        ::_exit(4);
      ::close(fd);
    });
    Store store;
    std::string warning;
    std::string error;
    const bool loaded = load_capture(fifo, store, warning, error);
    writer.join();
    ::_exit(loaded && store.size() == 200 && warning.empty() ? 0 : 5);
  };
  EXPECT_EXIT(read_through_pipe(), ::testing::ExitedWithCode(0), "");
}

TEST(BigCaptureMapped, NotificationRecordsCostOnlyTheirIndexEntry) {
  TempDir dir;
  const std::string path = dir / "notify.pcap";
  std::string error;
  {
    auto writer = CaptureWriter::create(path, error);
    ASSERT_NE(writer, nullptr) << error;
    for (int i = 0; i < 100'000; ++i)
      writer->write(notify(1, 1'000'000 + 1'000 * i, static_cast<uint16_t>(i % 4)));
    ASSERT_TRUE(writer->flush());
  }
  Store store;
  std::string warning;
  ASSERT_TRUE(load_capture(path, store, warning, error)) << error;
  ASSERT_EQ(store.size(), 100'000u);
  EXPECT_LE(store.index_bytes(), 24u * store.size());
  // Read from the mapping, decoded on demand.
  EXPECT_EQ(decode_notify(store.bytes(4'001))->queue, 1u);
  EXPECT_EQ(store.entry(4'001).timestamp_ns, 1'000'000u + 1'000u * 4'001);
  EXPECT_EQ(store.entry(4'001).session, 1u);
  EXPECT_EQ(store.entry(4'001).kind, RecordKind::Notify);
}

// Resident size of the mapping that starts at `base`, from /proc/self/smaps (the page cache keeps
// the file either way; this is what counts as the process's memory).
size_t mapped_rss_bytes(const void* base) {
  std::ifstream smaps("/proc/self/smaps");
  const std::string start = fmt::format("{:x}-", reinterpret_cast<uintptr_t>(base));
  std::string line;
  bool in_mapping = false;
  while (std::getline(smaps, line)) {
    if (line.rfind(start, 0) == 0) in_mapping = true;
    if (in_mapping && line.rfind("Rss:", 0) == 0) return std::stoul(line.substr(4)) * 1024;
  }
  return SIZE_MAX;
}

// Reads that jump around a big capture after it was loaded (a summary's findings, a viewer's
// rows) keep one 16 MiB step of it mapped in besides the loader's: the step they leave goes back.
TEST(BigCaptureMapped, ReadsJumpingAcrossTheFileKeepAStepMapped) {
  TempDir dir;
  const std::string path = dir / "long.pcap";
  ASSERT_TRUE(write_kicks(path, 1'000'000));
  constexpr size_t kStep = size_t{16} << 20;
  ASSERT_GT(std::filesystem::file_size(path), 3 * kStep);
  auto mapped = MappedCapture::open(path);
  ASSERT_NE(mapped, nullptr);
  std::vector<const uint8_t*> records;
  RecordView r;
  while (mapped->next(r)) {
    records.push_back(r.bytes.data());
    mapped->release_read_pages();
  }
  unsigned sum = 0;
  for (size_t k = 0; k < 40; ++k) {
    const uint8_t* at = records[(k * 7919) % records.size()];
    mapped->note_access(at);
    sum += *at;
  }
  EXPECT_GT(sum, 0u);
  const size_t rss = mapped_rss_bytes(mapped->bytes().data());
  EXPECT_LE(rss, 2 * kStep + (size_t{1} << 20)) << rss / 1024 << " KiB resident";
}

// A read maps in only the window of its step that holds it (a 64th of the step), so a summary
// reading a few hundred listed messages does not map the whole file in again.
TEST(BigCaptureMapped, AReadMapsInOnlyItsWindow) {
  TempDir dir;
  const std::string path = dir / "long.pcap";
  ASSERT_TRUE(write_kicks(path, 600'000));
  constexpr size_t kStep = size_t{16} << 20, kWindow = kStep / 64;
  ASSERT_GT(std::filesystem::file_size(path), 2 * kStep);
  auto mapped = MappedCapture::open(path);
  ASSERT_NE(mapped, nullptr);
  const uint8_t* base = mapped->bytes().data();
  const size_t opened = mapped_rss_bytes(base);  // the file header's pages, read by open()
  ASSERT_LT(opened, kWindow);
  unsigned sum = 0;
  mapped->note_access(base + kStep + 5 * kWindow + 100);
  sum += base[kStep + 5 * kWindow + 100];
  size_t rss = mapped_rss_bytes(base) - opened;
  EXPECT_GE(rss, kWindow);
  EXPECT_LE(rss, kWindow + 4096) << rss / 1024 << " KiB resident";
  // Another window of the same step joins it; the first read again maps nothing more.
  mapped->note_access(base + kStep + 9 * kWindow);
  sum += base[kStep + 9 * kWindow];
  mapped->note_access(base + kStep + 5 * kWindow + 200);
  sum += base[kStep + 5 * kWindow + 200];
  rss = mapped_rss_bytes(base) - opened;
  EXPECT_GE(rss, 2 * kWindow);
  EXPECT_LE(rss, 2 * kWindow + 4096) << rss / 1024 << " KiB resident";
  // Moving to another step hands the windows of the one left back.
  mapped->note_access(base + 20);
  sum += base[20];
  rss = mapped_rss_bytes(base);
  EXPECT_LE(rss, kWindow + opened) << rss / 1024 << " KiB resident";
  EXPECT_GT(sum + 1, 0u);
}

// The index keeps sizes and session indexes in 16 bits; the rare record of 64 KiB or more and
// the records of sessions past the 65535th keep theirs on the side, and read back the same.
TEST(BigCaptureMapped, WideSizesAndSessionIndexesReadBackWhole) {
  Store store;
  Record big;
  big.kind = RecordKind::Error;
  big.session = 1;
  big.bytes.assign(70'000, 'x');
  store.append(big);
  Record small = big;
  small.bytes.assign(65'534, 'y');
  store.append(small);
  EXPECT_EQ(store.bytes(0).size(), 70'000u);
  EXPECT_EQ(store.entry(0).bytes_size, 70'000u);
  EXPECT_EQ(store.bytes(1).size(), 65'534u);
  EXPECT_EQ(store.text(0), std::string(70'000, 'x'));

  constexpr uint32_t kSessions = 65'540;
  for (uint32_t s = 2; s <= kSessions; ++s) {
    Record r = notify(s, 1'000 + s, 0);
    store.append(r);
  }
  ASSERT_EQ(store.sessions().size(), kSessions);
  for (uint32_t s : {1u, 65'534u, 65'535u, 65'536u, kSessions}) {
    const size_t entry = s == 1 ? 0 : s;  // session s (> 1) is entry s
    EXPECT_EQ(store.session_index(entry), s - 1) << s;
    EXPECT_EQ(store.session_of(entry).id, s) << s;
    EXPECT_EQ(store.entry(entry).session, s) << s;
    EXPECT_EQ(store.entry(entry).session_index, s - 1) << s;
  }
}

// Another process truncating a capture while it is mapped makes the next page unreadable
// (SIGBUS): the reader says which capture shrank and exits with status 2 instead of dying.
TEST(BigCaptureMappedDeathTest, ACaptureTruncatedWhileMappedEndsWithAClearError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  const std::string path = dir / "shrinking.pcap";
  ASSERT_TRUE(write_kicks(path, 5000));
  ASSERT_GT(std::filesystem::file_size(path), 16 * 4096u);
  EXPECT_EXIT(
      {
        auto mapped = MappedCapture::open(path);
        if (!mapped) ::_exit(3);
        if (::truncate(path.c_str(), 0) != 0) ::_exit(4);
        RecordView r;
        while (mapped->next(r)) {
        }
        ::_exit(0);
      },
      ::testing::ExitedWithCode(2),
      "capture '.*shrinking.pcap' could no longer be read \\(shrunk by another process, or an I/O "
      "error\\): the output is incomplete\n");
}

// The same when the capture is big enough to be read by the two-thread loader: the fault comes on
// the reader thread, and the message and exit status are the same.
TEST(BigCaptureMappedDeathTest, ABigCaptureTruncatedWhileLoadingEndsWithAClearError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TempDir dir;
  const std::string path = dir / "shrinking-big.pcap";
  ASSERT_TRUE(write_kicks(path, 200'000));
  ASSERT_GT(std::filesystem::file_size(path), size_t{8} << 20);
  const auto load_while_cut = [&path] {
    // Cut the file once the load has mapped it (whatever the scheduler does meanwhile).
    std::thread cutter([&path] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (test::read_text_file("/proc/self/maps").find(path) == std::string::npos)
        if (std::chrono::steady_clock::now() > deadline) ::_exit(5);
      if (::truncate(path.c_str(), 4096) != 0) ::_exit(4);
    });
    Store store;
    std::string warning;
    std::string error;
    load_capture(path, store, warning, error);
    cutter.join();
    // Loaded before the cut took effect: read the records again through the mapping.
    size_t total = 0;
    for (size_t i = 0; i < store.size(); ++i) total += store.bytes(i)[0] + 1u;
    ::_exit(total > 0 ? 0 : 3);
  };
  EXPECT_EXIT(load_while_cut(),
      ::testing::ExitedWithCode(2),
      "capture '.*shrinking-big.pcap' could no longer be read \\(shrunk by another process, or an "
      "I/O error\\): the output is incomplete\n");
}

// A long name is cut in the message, never the sentence or its newline; bytes a terminal could
// act on (C1 controls, invalid UTF-8) are not printed when no escaped label is given.
TEST(BigCaptureMappedDeathTest, TheFaultMessageKeepsItsSentenceAndShowsNoRawControlBytes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string long_name = "/captures/" + std::string(600, 'n');
  static char page[4096];
  EXPECT_EXIT(
      {
        watch_mapped_capture(page, sizeof page, long_name + "\x9b\xff.pcap");
        siginfo_t info{};
        info.si_code = BUS_ADRERR;
        info.si_addr = page;
        // Delivered as the kernel would: the handler's own address check decides.
        struct sigaction current {};
        ::sigaction(SIGBUS, nullptr, &current);
        current.sa_sigaction(SIGBUS, &info, nullptr);
        ::_exit(0);
      },
      ::testing::ExitedWithCode(2),
      "vhostscope: capture '/captures/n*\\.\\.\\.' could no longer be read \\(shrunk by another "
      "process, or an I/O error\\): the output is incomplete\n");
  EXPECT_EXIT(
      {
        watch_mapped_capture(page, sizeof page, "short\x9b\xff\x1b.pcap");
        siginfo_t info{};
        info.si_code = BUS_ADRERR;
        info.si_addr = page;
        struct sigaction current {};
        ::sigaction(SIGBUS, nullptr, &current);
        current.sa_sigaction(SIGBUS, &info, nullptr);
        ::_exit(0);
      },
      ::testing::ExitedWithCode(2), "capture 'short\\?\\?\\?\\.pcap' could no longer be read");
}

// A SIGBUS sent with kill(2) carries no fault address: the mapped reader's handler passes it on,
// and a previous SIG_IGN ignores it as asked.
TEST(BigCaptureMappedDeathTest, ASentSigbusGoesToThePreviousDisposition) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer owns SIGBUS (handle_sigbus): its interceptor keeps its own handler where the
  // test sets SIG_IGN, so the disposition this test is about cannot be set up.
  GTEST_SKIP() << "AddressSanitizer keeps its own SIGBUS handler";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  static char page[4096];
  EXPECT_EXIT(
      {
        ::signal(SIGBUS, SIG_IGN);
        watch_mapped_capture(page, sizeof page, "x.pcap");
        ::kill(::getpid(), SIGBUS);
        ::_exit(0);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        watch_mapped_capture(page, sizeof page, "x.pcap");
        ::kill(::getpid(), SIGBUS);
        ::_exit(0);
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

// The recorder's guarded copies and the mapped reader share SIGBUS: whichever handler is installed
// second passes a fault it does not own to the first, so a guarded copy still recovers.
void guarded_copy_recovers_with_both_handlers(bool fault_guard_first) {
  TempDir dir;
  const std::string path = dir / "region";
  const long page = ::sysconf(_SC_PAGESIZE);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::ftruncate(fd, 2 * page) != 0) ::_exit(3);
  void* map = ::mmap(nullptr, 2 * page, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) ::_exit(3);
  static char other[64];
  if (fault_guard_first) {
    if (!install_fault_guard()) ::_exit(3);
    watch_mapped_capture(other, sizeof other, "other.pcap");
  } else {
    watch_mapped_capture(other, sizeof other, "other.pcap");
    if (!install_fault_guard()) ::_exit(3);
  }
  if (::ftruncate(fd, page) != 0) ::_exit(3);
  char out[16];
  const bool copied = guarded_copy(out, static_cast<const char*>(map) + page, sizeof out);
  ::_exit(!copied && guarded_copy_faults() == 1 ? 0 : 5);
}

TEST(BigCaptureMappedDeathTest, AGuardedCopyRecoversWithBothSigbusHandlersInstalled) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(guarded_copy_recovers_with_both_handlers(true), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(guarded_copy_recovers_with_both_handlers(false), ::testing::ExitedWithCode(0), "");
}

// A classic pcap version libpcap refuses is not mapped either: the stream reader explains it.
TEST(BigCaptureMapped, APcapVersionLibpcapRefusesIsLeftToTheStreamReader) {
  TempDir dir;
  const std::string good = dir / "good.pcap";
  std::string error;
  {
    auto writer = CaptureWriter::create(good, error);
    ASSERT_NE(writer, nullptr) << error;
    writer->write(notify(1, 1'000, 0));
    ASSERT_TRUE(writer->flush());
  }
  ASSERT_NE(MappedCapture::open(good), nullptr);
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto [major, minor] : {std::pair<uint16_t, uint16_t>{1, 0}, {2, 5}, {3, 0}}) {
    std::string changed = bytes;
    std::memcpy(changed.data() + 4, &major, 2);
    std::memcpy(changed.data() + 6, &minor, 2);
    const std::string path = dir / fmt::format("v{}.{}.pcap", major, minor);
    std::ofstream(path, std::ios::binary) << changed;
    EXPECT_EQ(MappedCapture::open(path), nullptr) << major << "." << minor;
    Store store;
    std::string warning;
    error.clear();
    EXPECT_FALSE(load_capture(path, store, warning, error)) << major << "." << minor;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace vhs
