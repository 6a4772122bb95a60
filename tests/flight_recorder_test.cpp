// The flight recorder (`record --keep-last DURATION --on-finding DIR`): a long healthy run writes
// nothing; a hang (a request the back-end never answers) writes exactly one window — a capture
// that reads on its own, starting about DURATION before the finding and holding the hanging
// request — and a Markdown report that names the finding. Plus the window policy itself on
// synthetic records (when windows open, join, close, and how many a flood gets) and DIR safety.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "app/common/flight_recorder.hpp"
#include "captures/model/store.hpp"
#include "captures/model/window_recorder.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/capture_read.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * kSec + uint64_t(ts.tv_nsec);
}

Record message_record(uint64_t ts, Direction direction, Bytes bytes, uint32_t session = 1) {
  Record r;
  r.kind = RecordKind::Message;
  r.direction = direction;
  r.session = session;
  r.timestamp_ns = ts;
  r.bytes = std::move(bytes);
  return r;
}

Record connect_record(uint64_t ts, uint32_t session = 1) {
  Record r;
  r.kind = RecordKind::Connect;
  r.session = session;
  r.timestamp_ns = ts;
  r.bytes = {'f', 'e'};
  return r;
}

// A healthy front-end: GET_FEATURES answered at once, every 100 ms from `from` to `to`.
void healthy(WindowRecorder& w, uint64_t from, uint64_t to) {
  for (uint64_t t = from; t < to; t += 100 * kMs) {
    w.on_record(message_record(t, Direction::ToBackend, request("GET_FEATURES")));
    w.on_record(message_record(t + kMs, Direction::ToFrontend,
                               reply("GET_FEATURES", u64_payload(t / kMs))));
    w.advance(t + 50 * kMs);
  }
}

bool is_hanging_request(const Record& r) {
  return r.kind == RecordKind::Message && r.bytes == request("GET_VRING_BASE", vring_state(0, 0));
}

TEST(WindowRecorder, HealthyRunWritesNothingAndKeepsOnlyTheLastDuration) {
  WindowOptions o;
  o.keep_ns = 2 * kSec;
  WindowRecorder w(o);
  w.on_record(connect_record(kT0));
  healthy(w, kT0, kT0 + 10 * kSec);
  w.advance(kT0 + 10 * kSec);
  EXPECT_TRUE(w.take_finished().empty());
  EXPECT_FALSE(w.window_open());
  // 2 s of pairs every 100 ms, give or take the edges.
  EXPECT_LE(w.buffered_records(), 44u);
  EXPECT_GE(w.buffered_records(), 38u);
}

TEST(WindowRecorder, ByteCapBoundsTheBuffer) {
  WindowOptions o;
  o.keep_ns = 3600 * kSec;
  o.max_bytes = 16 * 1024;
  WindowRecorder w(o);
  w.on_record(connect_record(kT0));
  healthy(w, kT0, kT0 + 100 * kSec);
  EXPECT_LE(w.buffered_bytes(), o.max_bytes);
  EXPECT_GT(w.buffered_records(), 10u);
}

TEST(WindowRecorder, UnansweredRequestOpensOneWindowAroundIt) {
  WindowOptions o;
  o.keep_ns = 2 * kSec;
  WindowRecorder w(o);
  w.on_record(connect_record(kT0));
  healthy(w, kT0, kT0 + 10 * kSec);
  const uint64_t hang = kT0 + 10 * kSec;
  w.on_record(
      message_record(hang, Direction::ToBackend, request("GET_VRING_BASE", vring_state(0, 0))));
  w.advance(hang + 900 * kMs);
  EXPECT_FALSE(w.window_open()) << "1 s is the reply timeout";
  w.advance(hang + 1100 * kMs);
  ASSERT_TRUE(w.window_open());
  w.advance(hang + 2 * kSec);
  EXPECT_TRUE(w.window_open()) << "not answered: the window runs DURATION past the finding";
  w.advance(hang + 3200 * kMs);
  EXPECT_FALSE(w.window_open());
  auto done = w.take_finished();
  ASSERT_EQ(done.size(), 1u);
  const FlightWindow& win = done.front();
  ASSERT_FALSE(win.findings.empty());
  EXPECT_EQ(win.findings.front().id(), "reply-timeout");
  EXPECT_EQ(win.trigger_ns, hang + 1100 * kMs);
  // From DURATION before the finding: the own records start at trigger - 2 s (100 ms grid).
  EXPECT_GE(win.first_ns, win.trigger_ns - 2 * kSec);
  EXPECT_LE(win.first_ns, win.trigger_ns - 2 * kSec + 100 * kMs);
  EXPECT_EQ(std::count_if(win.records.begin(), win.records.end(), is_hanging_request), 1);
  // The Connect is repeated first; the window's own records follow.
  ASSERT_GE(win.repeated, 1u);
  EXPECT_EQ(win.records.front().kind, RecordKind::Connect);
  EXPECT_TRUE(win.records.front().flags & kRecordRepeated);
  EXPECT_EQ(win.dropped_replies, 0u);

  // The window reads as a capture on its own: the hang is unanswered, nothing else is an error.
  Store store;
  for (const Record& r : win.records) store.append(r);
  store.finish();
  size_t unanswered = 0, errors = 0;
  for (uint32_t i : store.flagged())
    for (const Finding& f : store.findings(i)) {
      if (f.code == FindingCode::Unanswered) ++unanswered;
      if (f.severity() == Severity::Error) ++errors;
    }
  EXPECT_EQ(unanswered, 1u);
  EXPECT_EQ(errors, 1u);
}

TEST(WindowRecorder, LateReplyClosesTheWindowAndLaterFindingsJoinIt) {
  WindowOptions o;
  o.keep_ns = 5 * kSec;
  WindowRecorder w(o);
  w.on_record(connect_record(kT0));
  healthy(w, kT0, kT0 + 2 * kSec);
  const uint64_t hang = kT0 + 2 * kSec;
  w.on_record(
      message_record(hang, Direction::ToBackend, request("GET_VRING_BASE", vring_state(0, 0))));
  w.advance(hang + 1100 * kMs);
  ASSERT_TRUE(w.window_open());
  // A second session's malformed message joins the open window.
  w.on_record(connect_record(hang + 1200 * kMs, 2));
  w.on_record(message_record(hang + 1300 * kMs, Direction::ToBackend, Bytes{1, 2, 3}, 2));
  w.advance(hang + 1400 * kMs);
  // The late reply clears the hang; the one-shot error keeps the window to DURATION.
  w.on_record(message_record(hang + 1500 * kMs, Direction::ToFrontend,
                             reply("GET_VRING_BASE", vring_state(0, 5))));
  w.advance(hang + 1600 * kMs);
  EXPECT_TRUE(w.window_open());
  w.advance(hang + 1100 * kMs + 5 * kSec);
  ASSERT_FALSE(w.window_open());
  auto done = w.take_finished();
  ASSERT_EQ(done.size(), 1u);
  ASSERT_GE(done.front().findings.size(), 2u);
  EXPECT_EQ(done.front().findings[0].id(), "reply-timeout");
  EXPECT_EQ(done.front().findings[1].session, 2u);

  // Only the hang: the late reply closes the window at once.
  WindowRecorder only(o);
  only.on_record(connect_record(kT0));
  only.on_record(message_record(kT0 + kSec, Direction::ToBackend,
                                request("GET_VRING_BASE", vring_state(0, 0))));
  only.advance(kT0 + 2100 * kMs);
  ASSERT_TRUE(only.window_open());
  only.on_record(message_record(kT0 + 2200 * kMs, Direction::ToFrontend,
                                reply("GET_VRING_BASE", vring_state(0, 5))));
  EXPECT_FALSE(only.window_open());
  auto closed = only.take_finished();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed.front().last_ns, kT0 + 2200 * kMs);
}

TEST(WindowRecorder, ReplyWhoseRequestFellOutOfTheWindowIsLeftOut) {
  WindowOptions o;
  o.keep_ns = 1 * kSec;
  WindowRecorder w(o);
  w.on_record(connect_record(kT0));
  // Past the session's opening (256 records), which is repeated whole.
  healthy(w, kT0, kT0 + 20 * kSec);
  // A slow (but answered) GET_FEATURES: asked at 20.5 s, answered at 24 s (its reply-timeout
  // window closes then); a malformed message at 24.2 s opens a window from 23.2 s that holds
  // the reply but not the request, which is no longer waiting and so not repeated.
  const uint64_t t = kT0 + 20 * kSec;
  w.on_record(message_record(t + 500 * kMs, Direction::ToBackend, request("GET_FEATURES")));
  w.advance(t + 3 * kSec);
  ASSERT_TRUE(w.window_open());
  w.on_record(
      message_record(t + 4 * kSec, Direction::ToFrontend, reply("GET_FEATURES", u64_payload(1))));
  EXPECT_FALSE(w.window_open());
  auto first = w.take_finished();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first.front().dropped_replies, 0u) << "the waiting request was repeated";
  w.on_record(message_record(t + 4200 * kMs, Direction::ToBackend, Bytes{1, 2, 3}));
  w.advance(t + 6 * kSec);
  auto done = w.take_finished();
  ASSERT_EQ(done.size(), 1u);
  const FlightWindow& win = done.front();
  EXPECT_EQ(win.findings.front().id(), "truncated-header");
  EXPECT_EQ(win.dropped_replies, 1u);
  for (const Record& r : win.records) EXPECT_NE(r.bytes, reply("GET_FEATURES", u64_payload(1)));
}

// A split blk ring of 128 entries with `avail - used` READs in flight.
Record blk_ring_record(uint16_t avail, uint16_t used, uint64_t ts) {
  RingSnapshot s;
  s.queue = 0;
  s.type = RingType::Split;
  s.size = 128;
  s.indices_ok = true;
  s.avail_idx = avail;
  s.used_idx = used;
  s.inflight = static_cast<uint16_t>(avail - used);
  for (uint16_t h = used; h != avail; ++h) s.heads.push_back(static_cast<uint16_t>(h % 128));
  if (s.inflight > 0) {
    BufferSummary b;
    b.head = s.heads.front();
    b.descs = 3;
    b.device = DeviceKind::Blk;
    b.op = 0;
    b.arg = 8;
    b.data_len = 4096;
    b.readable_bytes = 16;
    b.writable_bytes = 4097;
    b.detail_ok = true;
    s.oldest = b;
  }
  Record r;
  r.kind = RecordKind::RingState;
  r.session = 1;
  r.timestamp_ns = ts;
  r.bytes = encode_ring_snapshot(s);
  return r;
}

// A frozen ring sends nothing: its last sample, taken before the window, is repeated so the
// window shows the stall; the ring moving again closes the window.
TEST(WindowRecorder, StalledRingOpensAWindowThatCarriesItsLastSample) {
  WindowOptions o;
  o.keep_ns = 500 * kMs;
  WindowRecorder w(o);
  w.on_record(connect_record(kT0));
  w.on_record(blk_ring_record(1, 0, kT0 + 10 * kMs));
  w.advance(kT0 + 900 * kMs);
  EXPECT_FALSE(w.window_open());
  w.advance(kT0 + 1100 * kMs);
  ASSERT_TRUE(w.window_open());
  w.on_record(blk_ring_record(1, 1, kT0 + 1300 * kMs));
  ASSERT_FALSE(w.window_open()) << "the ring drained";
  auto done = w.take_finished();
  ASSERT_EQ(done.size(), 1u);
  const FlightWindow& win = done.front();
  EXPECT_EQ(win.findings.front().id(), "ring-stalled");
  EXPECT_EQ(win.repeated, 2u);  // the Connect and the stalled sample
  ASSERT_EQ(win.records.size(), 4u);
  EXPECT_EQ(win.records[1].kind, RecordKind::RingState);
  EXPECT_EQ(win.records[1].timestamp_ns, kT0 + 10 * kMs);
  EXPECT_TRUE(win.records[3].flags & kRecordWindowEnd);
  Store store;
  for (const Record& r : win.records) store.append(r);
  store.finish();
  ASSERT_EQ(store.sessions().size(), 1u);
  ASSERT_EQ(store.sessions()[0].rings.episodes().size(), 1u);
  EXPECT_EQ(store.sessions()[0].rings.episodes()[0].finding.code, FindingCode::RingStalled);
  EXPECT_FALSE(store.sessions()[0].rings.episodes()[0].active());
}

// Sessions are forgotten when they end, stragglers included: state stays flat over reconnects.
TEST(LiveSessions, EndedSessionsLeaveNothingBehind) {
  LiveSessions live;
  std::vector<LiveFinding> found;
  for (uint32_t id = 1; id <= 1000; ++id) {
    Record c = connect_record(kT0 + id * kMs, id);
    live.observe(c, found);
    live.observe(
        message_record(kT0 + id * kMs + 1, Direction::ToBackend, request("GET_FEATURES"), id),
        found);
    Record d;
    d.kind = RecordKind::Disconnect;
    d.session = id;
    d.timestamp_ns = kT0 + id * kMs + 2;
    live.observe(d, found);
    d.channel = Channel::Backend;  // the back-end channel's close comes after
    live.observe(d, found);
  }
  EXPECT_EQ(live.sessions(), 0u);
  EXPECT_EQ(live.observed(), 4000u);
  EXPECT_TRUE(live.preamble(live.observed()).empty());
  EXPECT_TRUE(found.empty());
}

TEST(WindowRecorder, AFloodOfFindingsWritesABoundedNumberOfWindows) {
  WindowOptions o;
  o.keep_ns = 1 * kSec;
  o.max_windows_per_hour = 10;
  WindowRecorder w(o);
  w.on_record(connect_record(kT0));
  size_t windows = 0;
  // A malformed message every 100 ms for 10 minutes.
  for (uint64_t t = kT0; t < kT0 + 600 * kSec; t += 100 * kMs) {
    w.on_record(message_record(t, Direction::ToBackend, Bytes{1, 2, 3}));
    w.advance(t + 50 * kMs);
    windows += w.take_finished().size();
  }
  EXPECT_EQ(windows, 10u);
  EXPECT_GT(w.suppressed(), 1000u);
}

TEST(FlightDir, CreatedPrivateAndLinksRefused) {
  TempDir dir;
  std::string error;
  const std::string fresh = dir / "windows";
  ASSERT_TRUE(prepare_flight_dir(fresh, error)) << error;
  struct stat st {};
  ASSERT_EQ(::lstat(fresh.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::symlink(fresh.c_str(), (dir / "link").c_str()), 0);
  EXPECT_FALSE(prepare_flight_dir(dir / "link", error));
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
  const std::string file = dir / "file";
  ::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600));
  EXPECT_FALSE(prepare_flight_dir(file, error));
  EXPECT_FALSE(prepare_flight_dir(dir / "no/such/parent", error));
  EXPECT_EQ(flight_window_stem(kT0 + 345 * kMs, "ring-stalled"),
            "20231114T221320.345Z-ring-stalled");
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The whole thing through the real binary, without -w: memory only until the hang.
TEST(FlightRecorder, HangAfterALongHealthyRunWritesOnlyTheWindowAroundIt) {
  TempDir dir;
  const std::string fe = dir / "fe.sock", be = dir / "be.sock", out = dir / "windows";
  UniqueFd backend_listen = listen_on(be);
  ASSERT_TRUE(backend_listen);
  ChildProcess recorder({vhostscope_binary(), "record", "--frontend-listen", fe,
                         "--backend-connect", be, "--keep-last", "2s", "--on-finding", out},
                        dir.path());
  ASSERT_TRUE(recorder.wait_for_stderr("vhostscope: recording to memory", milliseconds(10000)))
      << recorder.stderr_text();
  ASSERT_TRUE(wait_for_path(fe, milliseconds(5000)));
  UniqueFd front = connect_to(fe, milliseconds(5000));
  ASSERT_TRUE(front);
  UniqueFd back = accept_from(backend_listen.get(), milliseconds(5000));
  ASSERT_TRUE(back);

  // Healthy for 4 s, twice DURATION.
  const uint64_t healthy_start = now_ns();
  uint64_t pairs = 0;
  while (now_ns() < healthy_start + 4 * kSec) {
    ASSERT_EQ(send_message(front.get(), request("GET_FEATURES")), IoStatus::Ok);
    ReceivedMessage m;
    ASSERT_EQ(recv_message(back.get(), m, milliseconds(5000)), IoStatus::Ok);
    ASSERT_EQ(send_message(back.get(), reply("GET_FEATURES", u64_payload(pairs++))), IoStatus::Ok);
    ASSERT_EQ(recv_message(front.get(), m, milliseconds(5000)), IoStatus::Ok);
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_TRUE(files_in(out).empty()) << "the healthy phase must write nothing";

  // The hang: the back-end reads GET_VRING_BASE and never answers.
  const uint64_t hang = now_ns();
  ASSERT_EQ(send_message(front.get(), request("GET_VRING_BASE", vring_state(0, 0))), IoStatus::Ok);
  ReceivedMessage m;
  ASSERT_EQ(recv_message(back.get(), m, milliseconds(5000)), IoStatus::Ok);
  // Found after the 1 s reply timeout; the window closes 2 s later (still unanswered).
  std::vector<std::string> files;
  for (int i = 0; i < 200; ++i) {
    files = files_in(out);
    if (files.size() >= 2) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  const uint64_t written = now_ns();
  EXPECT_GE(written, hang + 3 * kSec - 200 * kMs);
  ASSERT_EQ(recorder.wait_for_stderr("written to", milliseconds(2000)), true)
      << recorder.stderr_text();
  recorder.send_signal(SIGTERM);
  ASSERT_EQ(recorder.wait_exit(milliseconds(10000)), 0) << recorder.stderr_text();

  files = files_in(out);
  ASSERT_EQ(files.size(), 2u) << "exactly one window (capture + report)";
  ASSERT_TRUE(files[1].ends_with("-reply-timeout.pcap")) << files[1];
  ASSERT_EQ(files[0], files[1].substr(0, files[1].size() - 5) + ".md");
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const std::string capture = out + "/" + files[1];

  CommandResult dump = run_command({vhostscope_binary(), "dump", capture}, dir.path());
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("GET_VRING_BASE"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("(repeated)"), std::string::npos) << dump.out;

  CaptureContents c = read_capture(capture);
  ASSERT_TRUE(c.opened) << c.error;
  EXPECT_TRUE(c.warning.empty()) << c.warning;
  uint64_t first_own = 0;
  size_t hanging = 0, own = 0;
  for (const Record& r : c.records) {
    if (r.flags & kRecordRepeated) continue;
    if (own++ == 0) first_own = r.timestamp_ns;
    if (is_hanging_request(r)) ++hanging;
  }
  EXPECT_EQ(hanging, 1u);
  // The finding came 1 s after the hang (give or take the 100 ms tick and a loaded machine): the
  // window starts 2 s before it, so about 1 s before the hang — never the whole healthy run.
  const uint64_t trigger = hang + kSec;
  EXPECT_GE(first_own, trigger - 2 * kSec - 100 * kMs);
  EXPECT_LE(first_own, trigger - 2 * kSec + 800 * kMs);
  EXPECT_GT(first_own, healthy_start + kSec);
  ASSERT_FALSE(c.records.empty());
  EXPECT_EQ(c.records.front().kind, RecordKind::Connect);
  EXPECT_TRUE(c.records.front().flags & kRecordRepeated);

  const std::string report = read_text_file(out + "/" + files[0]);
  EXPECT_NE(report.find("# Flight recorder window"), std::string::npos) << report;
  EXPECT_NE(report.find("reply-timeout"), std::string::npos) << report;
  EXPECT_NE(report.find("GET_VRING_BASE"), std::string::npos) << report;
  // And the report part is the `report` command's output on that capture.
  CommandResult rep = run_command({vhostscope_binary(), "report", capture}, dir.path());
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  EXPECT_NE(report.find(rep.out), std::string::npos);
  EXPECT_NE(rep.out.find("unanswered"), std::string::npos) << rep.out;
}

TEST(FlightRecorder, OptionErrors) {
  TempDir dir;
  ASSERT_EQ(::symlink(dir.path().c_str(), (dir / "link").c_str()), 0);
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {vhostscope_binary(), "record",
                                     "--frontend-listen", dir / "fe.sock",
                                     "--backend-connect", dir / "be.sock"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, dir.path(), milliseconds(10000));
  };
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--keep-last", "10s"},
           {"--keep-last", "0", "--on-finding", dir / "w"},
           {"--keep-last", "10 parsecs", "--on-finding", dir / "w"},
           {"--keep-last", "25h", "--on-finding", dir / "w"},
           {"--keep-size", "1M"},
           {"--on-finding", dir / "link"}}) {
    CommandResult r = run(bad);
    EXPECT_EQ(r.exit_code, 2) << bad.back() << "\n" << r.err;
  }
  CommandResult none = run({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("--on-finding"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace vhs::test
