// Captures through pipes and growing files, end to end with the real binary: `record -w -` piped
// into `dump -` shows each message while the session is still open; `dump --follow` prints the
// records a capture gains as they are written and stops on SIGINT; `-` reads a whole capture from
// standard input for every reading command; `-w -` refuses a terminal.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const std::string kSample = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-boot.pcap";

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Polls `text()` until it contains `needle`.
template <typename Text>
bool wait_for_text(Text text, const std::string& needle, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (text().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return text().find(needle) != std::string::npos;
}

size_t count_lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(CapturePipe, RecordToStdoutPipedIntoDumpShowsEachMessageWhileTheSessionIsOpen) {
  TempDir dir;
  const std::string fe = dir / "fe.sock", be = dir / "be.sock";
  UniqueFd backend_listen = listen_on(be);
  ASSERT_TRUE(backend_listen);
  const std::string pid_file = dir / "record.pid";
  // The recorder's pid goes to a file so the test can stop it alone, as a user's Ctrl-C on the
  // recorder would; dump must then see the end of the stream and exit 0.
  const std::string pipeline =
      "{ " + shell_quote(vhostscope_binary()) + " record --frontend-listen " + shell_quote(fe) +
      " --backend-connect " + shell_quote(be) + " -q -w - & echo $! > " + shell_quote(pid_file) +
      "; wait; } | " + shell_quote(vhostscope_binary()) + " dump --device blk -";
  ChildProcess pipe({"/bin/sh", "-c", pipeline}, dir.path());
  ASSERT_TRUE(pipe.started());

  UniqueFd front = connect_to(fe, milliseconds(5000));
  ASSERT_TRUE(front) << pipe.stderr_text();
  UniqueFd back = accept_from(backend_listen.get(), milliseconds(5000));
  ASSERT_TRUE(back);
  const auto out = [&] { return pipe.stdout_text(); };
  EXPECT_TRUE(wait_for_text(out, " connect ", milliseconds(5000))) << out();

  // One exchange at a time: each line is in dump's output before the next message is sent.
  const std::vector<std::pair<Bytes, std::string>> steps = {
      {request("GET_FEATURES"), "F→B fe GET_FEATURES"},
      {reply("GET_FEATURES", u64_payload(0x150000000)), "B→F fe GET_FEATURES reply 0x150000000"},
      {request("SET_OWNER"), "F→B fe SET_OWNER"},
      {request("SET_VRING_NUM", vring_state(0, 256)), "F→B fe SET_VRING_NUM index=0 num=256"},
  };
  for (const auto& [bytes, line] : steps) {
    const bool to_backend = (bytes[4] & 0x4) == 0;
    ASSERT_EQ(send_message(to_backend ? front.get() : back.get(), bytes), IoStatus::Ok);
    ReceivedMessage relayed;
    ASSERT_EQ(recv_message(to_backend ? back.get() : front.get(), relayed, milliseconds(5000)),
              IoStatus::Ok);
    EXPECT_EQ(relayed.bytes, bytes);
    EXPECT_TRUE(wait_for_text(out, line, milliseconds(5000)))
        << "'" << line << "' not shown while the session is open:\n"
        << out() << pipe.stderr_text();
  }
  EXPECT_EQ(count_lines(out()), steps.size() + 1) << out();

  front.reset();
  EXPECT_TRUE(wait_for_text(out, " disconnect ", milliseconds(5000))) << out();
  ASSERT_TRUE(wait_for_path(pid_file, milliseconds(1000)));
  const pid_t recorder = static_cast<pid_t>(std::stol(read_text_file(pid_file)));
  ASSERT_GT(recorder, 1);
  kill(recorder, SIGTERM);  // the recorder stops; dump reads the end of the stream and exits
  EXPECT_EQ(pipe.wait_exit(milliseconds(10000)), 0) << pipe.stderr_text();
}

TEST(CapturePipe, FollowPrintsRecordsAsTheFileGrowsAndStopsOnSigint) {
  TempDir dir;
  const std::string growing = dir / "growing.pcap";
  std::ifstream in(kSample, std::ios::binary);
  const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(whole.size(), 4000u);
  const CommandResult expected =
      run_command({vhostscope_binary(), "dump", "-d", "blk", kSample}, dir.path());
  ASSERT_EQ(expected.exit_code, 0);

  std::ofstream out(growing, std::ios::binary);
  out.write(whole.data(), 24);  // the pcap header only: no records yet
  out.flush();
  ChildProcess follow({vhostscope_binary(), "dump", "-d", "blk", "--follow", growing}, dir.path());
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(follow.running()) << "--follow must wait for records, not stop at the end";
  EXPECT_EQ(follow.stdout_text(), "");

  // The file grows in pieces that cut records in the middle.
  const size_t cut = 3001;
  out.write(whole.data() + 24, static_cast<std::streamsize>(cut - 24));
  out.flush();
  const auto printed = [&] { return follow.stdout_text(); };
  const std::string first_line = expected.out.substr(0, expected.out.find('\n') + 1);
  EXPECT_TRUE(wait_for_text(printed, first_line, milliseconds(5000))) << printed();
  out.write(whole.data() + cut, static_cast<std::streamsize>(whole.size() - cut));
  out.flush();
  const std::string last_line =
      expected.out.substr(expected.out.rfind('\n', expected.out.size() - 2) + 1);
  EXPECT_TRUE(wait_for_text(printed, last_line, milliseconds(5000))) << printed();
  EXPECT_TRUE(follow.running());

  follow.send_signal(SIGINT);
  EXPECT_EQ(follow.wait_exit(milliseconds(5000)), 0);
  EXPECT_EQ(follow.stdout_text(), expected.out);
  EXPECT_EQ(follow.stderr_text(), "");
}

// dump prints records as they arrive; the other commands read all of standard input first, so
// their output equals the file's. (dump -V and --json of a stream lack what only later records
// tell: which reply answered a request; see StreamedDumpMarksOnlyWhatIsKnownSoFar.)
TEST(CapturePipe, DashReadsStandardInputForEveryReadingCommand) {
  TempDir dir;
  const std::vector<std::vector<std::string>> commands = {{"dump", "-d", "blk"},
                                                          {"summary", "-d", "blk"},
                                                          {"stats"},
                                                          {"rings"},
                                                          {"report"},
                                                          {"memmap"}};
  for (const std::vector<std::string>& command : commands) {
    std::vector<std::string> from_file = {vhostscope_binary()};
    from_file.insert(from_file.end(), command.begin(), command.end());
    from_file.push_back(kSample);
    const CommandResult expected = run_command(from_file, dir.path());
    ASSERT_EQ(expected.exit_code, 0) << command[0];

    std::string line;
    for (size_t i = 1; i < from_file.size() - 1; ++i) line += " " + shell_quote(from_file[i]);
    const CommandResult piped = run_command(
        {"/bin/sh", "-c", shell_quote(vhostscope_binary()) + line + " - < " + shell_quote(kSample)},
        dir.path());
    EXPECT_EQ(piped.exit_code, 0) << command[0] << ": " << piped.err;
    std::string want = expected.out;
    // summary names its input; report its file (in the title Markdown-escaped: "\-").
    const auto replace_all = [&want](const std::string& from, const std::string& to) {
      for (size_t at; (at = want.find(from)) != std::string::npos;)
        want.replace(at, from.size(), to);
    };
    replace_all(kSample, "-");
    replace_all("# vhost-user report: blk-boot.pcap", "# vhost-user report: \\-");
    replace_all("blk-boot.pcap", "-");
    EXPECT_EQ(piped.out, want) << command[0];
  }
}

TEST(CapturePipe, StreamedDumpMarksOnlyWhatIsKnownSoFar) {
  TempDir dir;
  const CommandResult file =
      run_command({vhostscope_binary(), "dump", "--json", "-d", "blk", kSample}, dir.path());
  const CommandResult piped = run_command(
      {"/bin/sh", "-c",
       shell_quote(vhostscope_binary()) + " dump --json -d blk - < " + shell_quote(kSample)},
      dir.path());
  ASSERT_EQ(file.exit_code, 0);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(count_lines(piped.out), count_lines(file.out));
  // A request's "answered_by" names a later record: unknown when the request is printed.
  EXPECT_NE(file.out.find("\"answered_by\":3,"), std::string::npos);
  EXPECT_EQ(piped.out.find("\"answered_by\":3,"), std::string::npos);
  // The reply names its request either way.
  EXPECT_NE(piped.out.find("\"answers\":2,"), std::string::npos);
}

TEST(CapturePipe, EmptyStandardInputAndFollowOfStdinAreErrors) {
  TempDir dir;
  const CommandResult empty = run_command(
      {"/bin/sh", "-c", shell_quote(vhostscope_binary()) + " dump - < /dev/null"}, dir.path());
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("vhostscope dump: '-' is empty"), std::string::npos) << empty.err;
  const CommandResult follow =
      run_command({vhostscope_binary(), "dump", "--follow", "-"}, dir.path());
  EXPECT_EQ(follow.exit_code, 2);
  EXPECT_NE(follow.err.find("--follow needs a file"), std::string::npos) << follow.err;
}

TEST(CapturePipe, RecordRefusesToWriteACaptureToATerminal) {
  TempDir dir;
  // A pseudo-terminal as stdout, as when `record -w -` is typed without a pipe.
  const std::string script = "exec " + shell_quote(vhostscope_binary()) +
                             " record --frontend-listen " + shell_quote(dir / "fe.sock") +
                             " --backend-connect " + shell_quote(dir / "be.sock") +
                             " -w - > /dev/tty";
  if (access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) not installed";
  const CommandResult r = run_command({"/usr/bin/script", "-qec", script, "/dev/null"}, dir.path(),
                                      milliseconds(10000));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("refusing to write a capture to a terminal"), std::string::npos)
      << r.out << r.err;
}

}  // namespace
}  // namespace vhs::test
