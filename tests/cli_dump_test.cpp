// `vhostscope dump` and `summary` run as subprocesses on a capture written by CaptureWriter from
// byte tables, compared line for line with golden files in tests/golden/ (regenerate with
// VHS_UPDATE_GOLDEN=1 after an intended format change, then review the diff).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "app/common/dump_format.hpp"
#include "app/common/summary_format.hpp"
#include "app/common/text_format.hpp"
#include "captures/format/capture_file.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using test::Bytes;

constexpr uint64_t kStart = 1'700'000'000'000'000'000;  // 2023-11-14 22:13:20 UTC

Bytes text(std::string_view s) { return {s.begin(), s.end()}; }

FdInfo memfd_1g() { return {FdKind::Memfd, 4242, uint64_t{1} << 30, "memfd:pc.ram"}; }
FdInfo eventfd(uint64_t inode) { return {FdKind::Eventfd, inode, 0, "anon_inode:[eventfd]"}; }
FdInfo socket_fd() { return {FdKind::Socket, 777, 0, "socket:[777]"}; }

// Builds a session the way QEMU drives vhost-user-blk, plus one malformed message, a back-end
// channel exchange, a GET_VRING_BASE that is never answered and a second session 2.31 s later.
class ScenarioWriter {
 public:
  explicit ScenarioWriter(CaptureWriter& w) : w_(w) {}

  void at(uint64_t offset_us) { now_ = kStart + offset_us * 1000; }
  void step(uint64_t us) { now_ += us * 1000; }

  void add(RecordKind kind, Direction d, Channel c, Bytes bytes, std::vector<FdInfo> fds = {},
           uint16_t flags = 0) {
    Record r;
    r.kind = kind;
    r.direction = d;
    r.channel = c;
    r.session = session;
    r.flags = flags;
    r.timestamp_ns = now_;
    r.fds = std::move(fds);
    r.bytes = std::move(bytes);
    w_.write(r);
  }
  // Front-end channel request then, `reply_us` later, its reply/ack.
  void fe(Bytes b, std::vector<FdInfo> fds = {}) {
    step(100);
    add(RecordKind::Message, Direction::ToBackend, Channel::Frontend, std::move(b), std::move(fds));
  }
  void be_answer(Bytes b, uint64_t reply_us = 40, std::vector<FdInfo> fds = {}) {
    step(reply_us);
    add(RecordKind::Message, Direction::ToFrontend, Channel::Frontend, std::move(b),
        std::move(fds));
  }

  uint32_t session = 1;

 private:
  CaptureWriter& w_;
  uint64_t now_ = kStart;
};

void write_scenario(const std::string& path) {
  using namespace test;
  std::string error;
  auto writer = CaptureWriter::create(path, error);
  ASSERT_NE(writer, nullptr) << error;
  ScenarioWriter s(*writer);
  const uint64_t features =
      (uint64_t{1} << 32) | (uint64_t{1} << 30) | (1u << 9) | (1u << 6) | (1u << 2);
  const uint64_t protocol = (1u << 15) | (1u << 9) | (1u << 5) | (1u << 3) | 1u;

  s.at(0);
  s.add(RecordKind::Connect, Direction::ToBackend, Channel::Frontend, text("front-end connected"));
  s.fe(request("GET_FEATURES"));
  s.be_answer(reply("GET_FEATURES", u64_payload(features)), 55);
  s.fe(request("GET_PROTOCOL_FEATURES"));
  s.be_answer(reply("GET_PROTOCOL_FEATURES", u64_payload(protocol)));
  s.fe(request("SET_PROTOCOL_FEATURES", u64_payload(protocol)));
  s.fe(request("GET_QUEUE_NUM"));
  s.be_answer(reply("GET_QUEUE_NUM", u64_payload(1)));
  s.fe(request("SET_BACKEND_REQ_FD", {}, true), {socket_fd()});
  s.step(10);
  s.add(RecordKind::Connect, Direction::ToBackend, Channel::Backend,
        text("back-end channel interposed"));
  s.be_answer(reply("SET_BACKEND_REQ_FD", u64_payload(0)));
  s.fe(request("SET_OWNER"));
  Bytes get_config = {0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0};
  get_config.resize(12 + 60, 0);
  s.fe(request("GET_CONFIG", get_config));
  Bytes config = get_config;
  config[12] = 0x00;
  config[13] = 0x00;
  config[14] = 0x20;  // capacity 0x200000 sectors (1 GiB)
  s.be_answer(reply("GET_CONFIG", config), 80);
  s.fe(request("SET_FEATURES", u64_payload(features)));
  Bytes region(8, 0);
  for (uint64_t v : {uint64_t{0}, uint64_t{1} << 30, uint64_t{0x7f0000000000}, uint64_t{0}})
    append(region, u64_payload(v));
  s.fe(request("ADD_MEM_REG", region, true), {memfd_1g()});
  s.be_answer(reply("ADD_MEM_REG", u64_payload(0)), 1500);
  s.fe(request("SET_VRING_NUM", vring_state(0, 256)));
  s.fe(request("SET_VRING_BASE", vring_state(0, 0)));
  s.fe(request("SET_VRING_ADDR",
               vring_addr(0, 0, 0x7f0000100000, 0x7f0000102000, 0x7f0000101000, 0x102000)));
  s.fe(request("SET_VRING_KICK", vring_index_fd(0)), {eventfd(31)});
  s.fe(request("SET_VRING_CALL", vring_index_fd(0)), {eventfd(32)});
  s.fe(request("SET_VRING_ENABLE", vring_state(0, 1), true));
  s.be_answer(reply("SET_VRING_ENABLE", u64_payload(0)));
  // The back-end reports a config change on its channel and wants an ack.
  s.step(500);
  s.add(RecordKind::Message, Direction::ToFrontend, Channel::Backend,
        request("BACKEND_CONFIG_CHANGE_MSG", {}, true));
  s.step(30);
  s.add(RecordKind::Message, Direction::ToBackend, Channel::Backend,
        reply("BACKEND_CONFIG_CHANGE_MSG", u64_payload(0)));
  // Malformed: SET_VRING_NUM with a 4-byte payload.
  s.fe(request("SET_VRING_NUM", Bytes{1, 0, 0, 0}));
  // The stop that hangs: the back-end never answers GET_VRING_BASE.
  s.fe(request("SET_VRING_ENABLE", vring_state(0, 0), true));
  s.be_answer(reply("SET_VRING_ENABLE", u64_payload(0)));
  s.fe(request("GET_VRING_BASE", vring_state(0, 0)));
  // 2.31 s later a second front-end connects (session 2) and is answered.
  s.step(2'310'000);
  s.session = 2;
  s.add(RecordKind::Connect, Direction::ToBackend, Channel::Frontend, text("front-end connected"));
  s.fe(request("GET_FEATURES"));
  s.be_answer(reply("GET_FEATURES", u64_payload(features)));
  ASSERT_TRUE(writer->flush()) << writer->error();
}

std::string golden_path(const std::string& name) {
  return std::string(VHS_SOURCE_DIR) + "/tests/golden/" + name;
}

// Compares with the golden file (or rewrites it when VHS_UPDATE_GOLDEN is set).
void expect_golden(const std::string& actual, const std::string& name) {
  const std::string path = golden_path(name);
  if (std::getenv("VHS_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << actual;
    GTEST_SKIP() << "rewrote " << path;
  }
  const std::string expected = test::read_text_file(path);
  ASSERT_FALSE(expected.empty()) << "missing golden file " << path;
  // Line by line, so a failure names the first differing line.
  std::vector<std::string> a, e;
  auto split = [](const std::string& s, std::vector<std::string>& out) {
    size_t start = 0;
    while (start < s.size()) {
      size_t nl = s.find('\n', start);
      if (nl == std::string::npos) nl = s.size();
      out.push_back(s.substr(start, nl - start));
      start = nl + 1;
    }
  };
  split(actual, a);
  split(expected, e);
  for (size_t i = 0; i < std::min(a.size(), e.size()); ++i)
    ASSERT_EQ(a[i], e[i]) << name << " line " << i + 1;
  EXPECT_EQ(a.size(), e.size()) << name;
}

class CliDumpTest : public ::testing::Test {
 protected:
  void SetUp() override { write_scenario(capture_); }

  test::CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), test::vhostscope_binary());
    return test::run_command(args, dir_.path());
  }

  test::TempDir dir_;
  std::string capture_ = dir_ / "scenario.pcap";
};

TEST_F(CliDumpTest, DumpMatchesGolden) {
  auto r = run({"dump", capture_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  expect_golden(r.out, "dump_scenario.txt");
}

TEST_F(CliDumpTest, VerboseDumpOfOneSessionMatchesGolden) {
  auto r = run({"dump", "-V", "--session", "2", capture_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_golden(r.out, "dump_verbose_session2.txt");
}

TEST_F(CliDumpTest, SummaryMatchesGoldenAndReportsTheHang) {
  auto r = run({"summary", capture_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("UNANSWERED GET_VRING_BASE (index 0) — waiting 2.31 s since message #"),
            std::string::npos)
      << r.out;
  // The summary names the scratch path: replace it so the golden file is stable.
  std::string out = r.out;
  const size_t at = out.find(capture_);
  ASSERT_NE(at, std::string::npos);
  out.replace(at, capture_.size(), "scenario.pcap");
  expect_golden(out, "summary_scenario.txt");
}

TEST_F(CliDumpTest, SummaryCheckFailsOnErrorFindings) {
  EXPECT_EQ(run({"summary", "--check", capture_}).exit_code, 1);
  EXPECT_EQ(run({"summary", "--check", "--session", "2", capture_}).exit_code, 0);
}

TEST_F(CliDumpTest, AbsoluteTimesAreUtc) {
  auto r = run({"dump", "--absolute-time", "--session", "2", capture_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 27), "2023-11-14 22:13:22.314175Z") << r.out;
}

TEST_F(CliDumpTest, MissingFileIsExitTwoWithTheReason) {
  auto r = run({"dump", dir_ / "nope.pcap"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "vhostscope dump: cannot open capture '" + (dir_ / "nope.pcap") +
                       "': No such file or directory\n");
  EXPECT_EQ(r.out, "");
  auto s = run({"summary", dir_ / "nope.pcap"});
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_EQ(s.err, "vhostscope summary: cannot open capture '" + (dir_ / "nope.pcap") +
                       "': No such file or directory\n");
}

TEST_F(CliDumpTest, TruncatedCaptureWarnsAndPrintsWhatWasRead) {
  std::ifstream in(capture_, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir_ / "cut.pcap";
  std::ofstream(cut, std::ios::binary) << all.substr(0, all.size() - 7);
  auto r = run({"dump", cut});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("vhostscope dump: warning: capture truncated after record ", 0), 0u)
      << r.err;
  auto full = run({"dump", capture_});
  // One line fewer (the cut record); the lines before it are unchanged except the request whose
  // reply was cut off: the file ends without the recorder's closing record, so it has "no reply
  // yet" (info), not the error a recorder-stopped capture would give.
  auto lines = [](const std::string& t) {
    std::vector<std::string> v;
    size_t start = 0;
    for (size_t nl; (nl = t.find('\n', start)) != std::string::npos; start = nl + 1)
      v.push_back(t.substr(start, nl - start));
    return v;
  };
  const auto f = lines(full.out), c = lines(r.out);
  ASSERT_EQ(c.size() + 1, f.size());
  for (size_t i = 0; i + 1 < c.size(); ++i) EXPECT_EQ(c[i], f[i]);
  EXPECT_EQ(c.back(), f[c.size() - 1] + " !no-reply-yet");
}

TEST_F(CliDumpTest, OptionErrorsAndHelp) {
  auto help = run({"dump", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out.rfind("usage: vhostscope dump FILE", 0), 0u) << help.out;
  auto shelp = run({"summary", "--help"});
  EXPECT_EQ(shelp.exit_code, 0);
  EXPECT_NE(shelp.out.find("--check"), std::string::npos);

  auto dev = run({"dump", "--device", "toaster", capture_});
  EXPECT_EQ(dev.exit_code, 2);
  EXPECT_EQ(dev.err, "vhostscope dump: unknown device 'toaster': expected blk, net or fs\n");
  auto ses = run({"dump", "--session", "x", capture_});
  EXPECT_EQ(ses.exit_code, 2);
  EXPECT_EQ(ses.err,
            "vhostscope dump: invalid session 'x': expected a session number (1, 2, ...)\n");
  // A session the capture does not hold: exit 2 and the message every command prints.
  auto none = run({"dump", "--session", "9", capture_});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "vhostscope dump: no session 9 in '" + capture_ + "'\n");
  auto missing = run({"dump"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("missing FILE"), std::string::npos) << missing.err;
}

TEST_F(CliDumpTest, DeviceOptionChangesFeatureNames) {
  auto r = run({"dump", "--device", "net", "--session", "2", capture_});
  ASSERT_EQ(r.exit_code, 0);
  // Bit 2 is SEG_MAX for blk but CTRL_GUEST_OFFLOADS for net.
  EXPECT_NE(r.out.find("CTRL_GUEST_OFFLOADS"), std::string::npos) << r.out;
}

// The formatters behind the lines, on values the scenario does not reach.
TEST(TextFormat, ValuesRenderCompactly) {
  EXPECT_EQ(format_duration(850), "850 ns");
  EXPECT_EQ(format_duration(153'200), "153.2 µs");
  EXPECT_EQ(format_duration(12'400'000), "12.40 ms");
  EXPECT_EQ(format_duration(2'310'000'000), "2.31 s");
  EXPECT_EQ(compact_size(512), "512B");
  EXPECT_EQ(compact_size(uint64_t{1} << 30), "1.0G");
  EXPECT_EQ(format_fds(std::vector<FdInfo>{memfd_1g(), eventfd(1)}), "fds=[memfd 1.0G, eventfd]");
  EXPECT_EQ(format_fds({}), "");
  EXPECT_EQ(relative_time(kStart + 1'500'000, kStart), "0.001500");
  EXPECT_EQ(relative_time(kStart, kStart + 2'000'000'000), "-2.000000");
  EXPECT_EQ(record_number(0), "#1");
  // A hostile note cannot break the one-line format.
  EXPECT_EQ(quote_text("a\nb\"c\\\x1b"), "\"a\\nb\\\"c\\\\\\x1b\"");
}

TEST(TextFormat, FlagsAndLiveWaitingTimes) {
  Store store;
  Record c;
  c.kind = RecordKind::Connect;
  c.session = 1;
  c.timestamp_ns = kStart;
  store.append(c);
  Record r;
  r.session = 1;
  r.timestamp_ns = kStart + 1000;
  r.flags = kRecordNotRelayed | kRecordInjected;
  r.bytes = test::request("GET_VRING_BASE", test::vring_state(2, 0));
  store.append(r);
  EXPECT_EQ(record_flag_tags(store, 1), "(not relayed) (injected)");
  EXPECT_EQ(format_entry_line(store, 1),
            "   0.000001 #2      s1 F→B fe GET_VRING_BASE (not relayed) (injected) index=2 num=0");
  // Live: the wait grows with the clock the caller passes; the session is still open.
  auto w = waiting_requests(store, store.sessions()[0], kStart + 5'000'001'000);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(format_waiting(w[0]),
            "UNANSWERED GET_VRING_BASE (index 2) — waiting 5.00 s since message #2");
}

}  // namespace
}  // namespace vhs
