// The tshark-style options of the read-only commands (-Y/--filter, -c, --session, --no-rings,
// --no-notify, -t), `vhostscope stats`, and the exit-code table of README.md ("Exit codes"): one
// test per row (command), each column (error class) checked with the real binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/common/option_values.hpp"
#include "app/common/view_filter.hpp"
#include "captures/model/store.hpp"
#include "support/faulty_ring_backend.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kBoot = "captures/samples/blk-boot.pcap";
constexpr const char* kHang = "captures/samples/blk-hang.pcap";
constexpr const char* kFs = "captures/samples/virtiofs-session.pcap";

test::CommandResult vhostscope(std::vector<std::string> args) {
  args.insert(args.begin(), test::vhostscope_binary());
  test::TempDir scratch;
  return test::run_command(args, scratch.path());
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

Store load(const std::string& path) {
  Store store;
  std::string warning, error;
  EXPECT_TRUE(load_capture(path, store, warning, error)) << error;
  return store;
}

class CliOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::current_path(VHS_SOURCE_DIR);
    setenv("TZ", "UTC", 1);
  }
};

// The command line filters with the GUI's own filter (view::Filter): the same records match.
TEST_F(CliOptions, FilterSelectsExactlyWhatTheGuiFilterSelects) {
  for (const std::string expr :
       {"SET_VRING_* and vring.index == 0", "reply and latency > 20us", "fe>be and not SET_*",
        "finding:unanswered or error", "region.size >= 1M"}) {
    SCOPED_TRACE(expr);
    for (const char* capture : {kBoot, kHang}) {
      const Store store = load(capture);
      view::FilterError error;
      auto filter = view::Filter::parse(expr, error);
      ASSERT_TRUE(filter) << error.message;
      std::vector<uint64_t> expected;
      for (size_t i = 0; i < store.size(); ++i)
        if (filter->matches(store, i)) expected.push_back(i + 1);
      auto r = vhostscope({"dump", "--json", "-Y", expr, capture});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      std::vector<uint64_t> got;
      for (const json& j : json_lines(r.out)) got.push_back(j["number"]);
      EXPECT_EQ(got, expected);
      // --filter is the long spelling; text output has the same records.
      auto text = vhostscope({"dump", "--filter", expr, capture});
      EXPECT_EQ(lines_of(text.out).size(), expected.size());
    }
  }
}

TEST_F(CliOptions, CountStopsAfterNMatchingRecords) {
  auto all = json_lines(vhostscope({"dump", "--json", "-Y", "reply", kBoot}).out);
  ASSERT_GT(all.size(), 5u);
  auto r = vhostscope({"dump", "--json", "-Y", "reply", "-c", "3", kBoot});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto three = json_lines(r.out);
  ASSERT_EQ(three.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(three[i]["number"], all[i]["number"]);
  EXPECT_EQ(lines_of(vhostscope({"dump", "-c", "1", kBoot}).out).size(), 1u);
  EXPECT_EQ(vhostscope({"dump", "-c", "0", kBoot}).exit_code, 2);
  EXPECT_EQ(vhostscope({"dump", "-c", "x", kBoot}).exit_code, 2);
}

TEST_F(CliOptions, NoRingsAndNoNotifyLeaveOutTheRecorderRecords) {
  auto count_kind = [](const std::vector<json>& lines, const char* kind) {
    return std::count_if(lines.begin(), lines.end(),
                         [&](const json& j) { return j["kind"] == kind; });
  };
  const auto all = json_lines(vhostscope({"dump", "--json", kHang}).out);
  ASSERT_GT(count_kind(all, "ring_state"), 0);
  const auto no_rings = json_lines(vhostscope({"dump", "--json", "--no-rings", kHang}).out);
  EXPECT_EQ(count_kind(no_rings, "ring_state"), 0);
  EXPECT_EQ(no_rings.size(), all.size() - count_kind(all, "ring_state"));
  const auto no_notify = json_lines(vhostscope({"dump", "--json", "--no-notify", kHang}).out);
  EXPECT_EQ(count_kind(no_notify, "notify"), 0);
  EXPECT_EQ(no_notify.size(), all.size() - count_kind(all, "notify"));
}

TEST_F(CliOptions, SessionOptionSelectsOneSession) {
  const auto all = json_lines(vhostscope({"dump", "--json", kFs}).out);
  std::map<uint64_t, size_t> per_session;
  for (const json& j : all) ++per_session[j["session"]];
  for (const auto& [id, count] : per_session) {
    auto r = vhostscope({"dump", "--json", "--session", std::to_string(id), kFs});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto lines = json_lines(r.out);
    EXPECT_EQ(lines.size(), count);
    for (const json& j : lines) EXPECT_EQ(j["session"], id);
  }
}

TEST_F(CliOptions, TimeFormatsLikeTshark) {
  const auto lines_r = lines_of(vhostscope({"dump", "-t", "r", kBoot}).out);
  const auto lines_d = lines_of(vhostscope({"dump", "-t", "d", kBoot}).out);
  const auto lines_a = lines_of(vhostscope({"dump", "-t", "a", kBoot}).out);
  const auto lines_ad = lines_of(vhostscope({"dump", "-t", "ad", kBoot}).out);
  const auto lines_absolute = lines_of(vhostscope({"dump", "--absolute-time", kBoot}).out);
  const auto plain = lines_of(vhostscope({"dump", kBoot}).out);
  ASSERT_GT(plain.size(), 10u);
  EXPECT_EQ(lines_r, plain);
  EXPECT_EQ(lines_ad, lines_absolute);
  EXPECT_TRUE(std::regex_search(lines_a[0], std::regex(R"(^ *\d\d:\d\d:\d\d\.\d{6}Z #1 )")))
      << lines_a[0];
  EXPECT_TRUE(
      std::regex_search(lines_ad[0], std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}Z)")))
      << lines_ad[0];
  // Delta: each line's time is its relative time minus the previous line's.
  auto seconds = [](const std::string& line) { return std::stod(line.substr(0, line.find(" #"))); };
  EXPECT_EQ(seconds(lines_d[0]), 0.0);
  for (size_t i = 1; i < plain.size(); ++i)
    EXPECT_NEAR(seconds(lines_d[i]), seconds(plain[i]) - seconds(plain[i - 1]), 2e-6) << i;
  // -t d measures from the previous record shown, not the previous one in the file.
  const auto replies = json_lines(vhostscope({"dump", "--json", "-Y", "reply", kBoot}).out);
  const auto reply_d = lines_of(vhostscope({"dump", "-t", "d", "-Y", "reply", kBoot}).out);
  ASSERT_EQ(reply_d.size(), replies.size());
  EXPECT_NEAR(seconds(reply_d[1]),
              replies[1]["time"].get<double>() - replies[0]["time"].get<double>(), 2e-6);
  EXPECT_EQ(vhostscope({"dump", "-t", "x", kBoot}).exit_code, 2);
}

TEST_F(CliOptions, BadFilterIsExit2WithTheParsersMessageInEveryCommand) {
  const std::string bad = "vring.index ==";
  view::FilterError error;
  ASSERT_FALSE(view::Filter::parse(bad, error));
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"dump", kBoot},
                                             {"summary", kBoot},
                                             {"stats", kBoot},
                                             {"report", kBoot},
                                             {"diff", kBoot, kHang}}) {
    auto args = command;
    args.insert(args.begin() + 1, {"-Y", bad});
    auto r = vhostscope(args);
    EXPECT_EQ(r.exit_code, 2) << command[0];
    EXPECT_EQ(r.out, "") << command[0];
    EXPECT_NE(
        r.err.find("vhostscope " + command[0] + ": bad filter 'vring.index ==': " + error.message),
        std::string::npos)
        << r.err;
  }
}

TEST_F(CliOptions, SummaryStatsReportAndDiffHonourTheFilter) {
  // summary: only sessions holding a matching record.
  const json all = json::parse(vhostscope({"summary", "--json", kFs}).out);
  ASSERT_GE(all["sessions"].size(), 1u);
  const json none = json::parse(vhostscope({"summary", "--json", "-Y", "size > 100G", kFs}).out);
  EXPECT_TRUE(none["sessions"].empty());
  const json some = json::parse(vhostscope({"summary", "--json", "-Y", "GET_FEATURES", kFs}).out);
  EXPECT_FALSE(some["sessions"].empty());

  // stats: only the matching records are counted.
  const json stats = json::parse(vhostscope({"stats", "--json", "-Y", "*FEATURES", kBoot}).out);
  for (const json& r : stats["overall"]["requests"])
    EXPECT_NE(r["name"].get<std::string>().find("FEATURES"), std::string::npos) << r;
  EXPECT_FALSE(stats["overall"]["requests"].empty());

  // report: about the session of the first matching record; none matching is an error.
  auto report = vhostscope({"report", "-Y", "size > 100G", kBoot});
  EXPECT_EQ(report.exit_code, 2);
  EXPECT_NE(report.err.find("no record in 'captures/samples/blk-boot.pcap' matches"),
            std::string::npos)
      << report.err;
  EXPECT_EQ(vhostscope({"report", "-Y", "GET_FEATURES", kBoot}).exit_code, 0);

  // diff: only matching records take part.
  auto full = vhostscope({"diff", kBoot, kHang});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.out.find("region.uva"), std::string::npos);
  // Both start with the same GET_FEATURES exchanges (2 requests, 2 replies).
  auto filtered = vhostscope({"diff", "-Y", "GET_FEATURES", kBoot, kHang});
  EXPECT_EQ(filtered.exit_code, 0) << filtered.out;
  EXPECT_NE(filtered.out.find("no differences (4 records compared)"), std::string::npos)
      << filtered.out;
}

// stats agrees with the records it counts: counts, replies and latencies from dump --json, and
// completions from the ring states of rings --json.
TEST_F(CliOptions, StatsAgreeWithTheRecords) {
  for (const char* capture : {kBoot, kHang, kFs}) {
    SCOPED_TRACE(capture);
    const auto records = json_lines(vhostscope({"dump", "--json", capture}).out);
    auto r = vhostscope({"stats", "--json", capture});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json stats = json::parse(r.out);
    EXPECT_EQ(stats["overall"]["records"], records.size());
    struct Expect {
      uint64_t count = 0, replies = 0;
      std::vector<uint64_t> latencies;
    };
    std::map<std::pair<std::string, uint64_t>, Expect> expected;
    for (const json& j : records) {
      if (j["request"].is_null()) continue;
      Expect& e = expected[{j["channel"], j["request"]["number"]}];
      if (j["role"] == "request") ++e.count;
      if (j["role"] != "request" && !j["answers"].is_null()) {
        ++e.replies;
        e.latencies.push_back(j["latency_ns"]);
      }
    }
    ASSERT_EQ(stats["overall"]["requests"].size(), expected.size());
    for (const json& k : stats["overall"]["requests"]) {
      const Expect& e = expected.at({k["channel"], k["request"]});
      EXPECT_EQ(k["count"], e.count) << k;
      EXPECT_EQ(k["replies"], e.replies) << k;
      if (e.latencies.empty()) {
        EXPECT_TRUE(k["latency"].is_null());
        continue;
      }
      std::vector<uint64_t> sorted = e.latencies;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(k["latency"]["min_ns"], sorted.front());
      EXPECT_EQ(k["latency"]["max_ns"], sorted.back());
      EXPECT_EQ(k["latency"]["p50_ns"], sorted[(sorted.size() + 1) / 2 - 1]);
    }
    // Completions: used index advance between consecutive samples of each queue (split rings).
    const json rings = json::parse(vhostscope({"rings", "--json", capture}).out);
    std::map<uint64_t, uint64_t> completed;
    for (const json& s : rings["sessions"]) {
      std::map<uint64_t, uint64_t> last_used;
      for (const json& c : s["changes"]) {
        const json& st = c["state"];
        if (st.is_null() || st["ring_type"] != "split" || !st["indices_ok"]) continue;
        const uint64_t q = st["queue"], used = st["used_idx"];
        const uint64_t done = (used + 65536 - last_used[q]) % 65536;
        // A restart (the snapshot carries the vring base) is not completions.
        const bool restarted = !st["vring_base"].is_null() && done > st["size"].get<uint64_t>();
        if (last_used.count(q) && !restarted) completed[q] += done;
        last_used[q] = used;
      }
    }
    for (const json& q : stats["overall"]["queues"])
      if (q["samples"].get<uint64_t>() > 0) {
        EXPECT_EQ(q["completed"], completed[q["queue"]]) << q;
      }
  }
}

TEST_F(CliOptions, StatsTextShowsTheTables) {
  auto r = vhostscope({"stats", kHang});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Session 1:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Overall:"), std::string::npos);
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(fe GET_VRING_BASE +2 +1 +63\.3 µs +63\.3 µs +63\.3 µs +63\.3 µs)")))
      << r.out;
  EXPECT_NE(r.out.find("error   unanswered"), std::string::npos) << r.out;
}

// --- README "Exit codes": one test per row ------------------------------------------------------

enum class ErrorClass { Usage, BadDevice, NoCapture, EmptyCapture, NotPcap, NoSession, Found };

struct ExitRow {
  const char* command;
  std::vector<std::string> extra;  // arguments after the capture (replay's peer)
  std::map<ErrorClass, int> expected;
};

void PrintTo(const ExitRow& row, std::ostream* os) { *os << row.command; }

const std::vector<ExitRow>& exit_rows() {
  using E = ErrorClass;
  static const std::vector<ExitRow> rows = {
      {"dump",
       {},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2}}},
      {"summary",
       {},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2},
        {E::Found, 1}}},
      {"rings",
       {},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2}}},
      {"stats",
       {},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2}}},
      {"report",
       {},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2}}},
      {"diff",
       {},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2},
        {E::Found, 1}}},
      {"memmap", {}, {{E::Usage, 2}, {E::NoCapture, 2}, {E::EmptyCapture, 2}, {E::NotPcap, 2}}},
      {"check",
       {},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2}}},
      {"replay",
       {"--backend-connect", "/nonexistent/vhostscope-test.sock", "--connect-timeout", "1"},
       {{E::Usage, 2},
        {E::BadDevice, 2},
        {E::NoCapture, 2},
        {E::EmptyCapture, 2},
        {E::NotPcap, 2},
        {E::NoSession, 2}}},
      {"record", {}, {{E::Usage, 2}, {E::BadDevice, 2}}},
      {"ctl", {}, {{E::Usage, 2}}},
  };
  return rows;
}

class ExitCodes : public ::testing::TestWithParam<ExitRow> {
 protected:
  void SetUp() override { fs::current_path(VHS_SOURCE_DIR); }
};

TEST_P(ExitCodes, RowOfTheReadmeTable) {
  const ExitRow& row = GetParam();
  const std::string cmd = row.command;
  test::TempDir dir;
  const std::string empty = dir / "empty.pcap", text = dir / "notes.pcap",
                    missing = dir / "missing.pcap";
  std::ofstream(empty).flush();
  std::ofstream(text) << "these are notes, not packets\n";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), cmd);
    args.insert(args.end(), row.extra.begin(), row.extra.end());
    return vhostscope(args);
  };
  // diff takes two captures: the case's file first, a good one second.
  auto with_capture = [&](const std::string& capture) {
    std::vector<std::string> args{capture};
    if (cmd == "diff") args.push_back(kBoot);
    return args;
  };
  const std::string prefix = "vhostscope " + cmd + ": ";
  for (const auto& [cls, code] : row.expected) {
    test::CommandResult r;
    std::string message;
    switch (cls) {
      case ErrorClass::Usage:
        r = run({"--no-such-option"});
        message = "unknown option '--no-such-option'";
        break;
      case ErrorClass::BadDevice: {
        // record checks its other options first: give it everything but a known device.
        std::vector<std::string> args{"--device", "toaster"};
        if (cmd == "record")
          args.insert(args.end(), {"-w", dir / "out.pcap", "--frontend-listen", dir / "fe.sock",
                                   "--backend-connect", dir / "be.sock"});
        else
          for (const std::string& a : with_capture(kBoot)) args.push_back(a);
        r = run(args);
        message = "unknown device 'toaster': expected blk, net or fs";
        if (cmd == "record") {
          EXPECT_FALSE(fs::exists(dir / "out.pcap"));
        }
        break;
      }
      case ErrorClass::NoCapture:
        r = run(with_capture(missing));
        message = "cannot open capture '" + missing + "': No such file or directory";
        break;
      case ErrorClass::EmptyCapture:
        r = run(with_capture(empty));
        message = "'" + empty + "' is empty (libpcap: ";
        break;
      case ErrorClass::NotPcap:
        r = run(with_capture(text));
        message = "'" + text + "' is not a pcap file (libpcap: ";
        break;
      case ErrorClass::NoSession: {
        auto args = with_capture(kBoot);
        args.insert(args.begin(), {"--session", "7"});
        r = run(args);
        message = prefix + "no session 7 in '" + std::string(kBoot) + "'\n";
        break;
      }
      case ErrorClass::Found:
        r = cmd == "summary" ? run({"--check", kHang}) : run({kBoot, kHang});
        break;
    }
    EXPECT_EQ(r.exit_code, code) << cmd << " class " << static_cast<int>(cls) << ": " << r.err;
    if (!message.empty()) {
      EXPECT_NE(r.err.find(message), std::string::npos)
          << cmd << " class " << static_cast<int>(cls) << " stderr: " << r.err;
    }
    if (cls == ErrorClass::NoSession) {
      EXPECT_EQ(r.err, message);
    }
  }
}

std::string row_name(const ::testing::TestParamInfo<ExitRow>& info) { return info.param.command; }

INSTANTIATE_TEST_SUITE_P(Readme, ExitCodes, ::testing::ValuesIn(exit_rows()), row_name);

// The `exercise` row: it reads no capture, so its columns are its own. 0 when every check passed,
// 1 when one failed (a back-end that duplicates a used entry), 2 for a bad option and for a socket
// with no back-end behind it.
TEST(ReadmeExitCodesExercise, PassFailAndCouldNotRun) {
  test::TempDir dir;
  const std::string sock = dir / "blk.sock";
  auto exercise = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {test::vhostscope_binary(),
                                     "exercise",
                                     "--device",
                                     "blk",
                                     "--queues",
                                     "1",
                                     "--queue-size",
                                     "16",
                                     "--queue-depth",
                                     "2",
                                     "--timeout",
                                     "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_command(args, dir.path());
  };
  EXPECT_EQ(exercise({"--backend-connect", sock, "--no-such-option"}).exit_code, 2);
  const auto absent = exercise({"--backend-connect", sock});
  EXPECT_EQ(absent.exit_code, 2) << absent.out << absent.err;
  EXPECT_NE(absent.err.find("blk.sock"), std::string::npos) << absent.err;
  {
    test::FaultyRingBackend backend(sock, test::RingFault::DuplicateUsed);
    const auto failed = exercise({"--backend-connect", sock});
    EXPECT_EQ(failed.exit_code, 1) << failed.out << failed.err;
    EXPECT_NE(failed.out.find("FAIL"), std::string::npos) << failed.out;
  }
}

}  // namespace
}  // namespace vhs

namespace vhs {
namespace {

// One parser for every "seconds" option (record, replay, exercise): NaN, negative numbers,
// trailing text and more than a day are refused; 0 only where the option allows it.
TEST(OptionValues, SecondsRefuseNanNegativeAndTrailingText) {
  std::chrono::milliseconds out{7};
  EXPECT_TRUE(parse_seconds_option("0.5", out, false));
  EXPECT_EQ(out.count(), 500);
  EXPECT_TRUE(parse_seconds_option("0", out, true));
  EXPECT_EQ(out.count(), 0);
  for (const char* bad : {"nan", "-1", "2s", "", "86401", "inf"})
    EXPECT_FALSE(parse_seconds_option(bad, out, true)) << bad;
  EXPECT_FALSE(parse_seconds_option("0", out, false));
}

}  // namespace
}  // namespace vhs
