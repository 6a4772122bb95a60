// --interpose-notify through the real binary: the back-end gets the proxy's eventfds (message
// bytes unchanged), every kick and call is relayed and recorded as a Notify record, holding a
// queue's kicks delays them until step/continue, swapping a call fd while the queue runs loses
// nothing, teardown leaks no fd; without the flag eventfds pass through untouched. Also the Notify
// payload decoder on hand-written bytes.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "captures/format/capture_file.hpp"
#include "decoders/virtio/notify_record.hpp"
#include "support/capture_read.hpp"
#include "support/controlled_session.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/recorder_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/vhost_scenarios.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

constexpr Millis kShort = ControlledSession::kNothingArrives;
constexpr Millis kLong = ControlledSession::kArrives;

// Adds to an eventfd's counter, like a front-end kicking or a back-end calling.
void signal(int fd, uint64_t n = 1) {
  ASSERT_EQ(::write(fd, &n, sizeof n), static_cast<ssize_t>(sizeof n));
}

// The eventfd's counter once it is non-zero (read and cleared), or 0 when nothing came in time.
uint64_t await_counter(int fd, Millis timeout = kLong) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return 0;
  uint64_t v = 0;
  return ::read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v) ? v : 0;
}

// Sums counters arriving until `total` is reached or nothing more comes (the relay may split or
// coalesce notifications: only the sum is defined).
uint64_t collect(int fd, uint64_t total) {
  uint64_t sum = 0;
  while (sum < total) {
    uint64_t v = await_counter(fd);
    if (v == 0) break;
    sum += v;
  }
  return sum;
}

// Every eventfd shares one anonymous inode, so fstat cannot tell two apart; the kernel's fdinfo
// "eventfd-id" can. Empty when this kernel does not show it.
std::string eventfd_id(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("eventfd-id:", 0) == 0) return line;
  return {};
}

// The back-end's eventfd is not the front-end's (when the kernel lets us tell).
void expect_different_eventfds(int frontend_fd, int backend_fd) {
  const std::string a = eventfd_id(frontend_fd), b = eventfd_id(backend_fd);
  if (a.empty() || b.empty()) return;  // checked functionally by the counters instead
  EXPECT_NE(a, b);
}

std::vector<NotifyRecord> notify_records(const CaptureContents& c) {
  std::vector<NotifyRecord> out;
  for (const Record* r : c.of_kind(RecordKind::Notify)) {
    std::string error;
    auto n = decode_notify(r->bytes, &error);
    EXPECT_TRUE(n.has_value()) << error;
    if (n) out.push_back(*n);
  }
  return out;
}

uint64_t total(const std::vector<NotifyRecord>& records, uint16_t queue, NotifySource source,
               NotifyEvent event) {
  uint64_t sum = 0;
  for (const auto& n : records)
    if (n.queue == queue && n.source == source && n.event == event) sum += n.count;
  return sum;
}

size_t how_many(const std::vector<NotifyRecord>& records, uint16_t queue, NotifySource source,
                NotifyEvent event) {
  size_t k = 0;
  for (const auto& n : records) k += n.queue == queue && n.source == source && n.event == event;
  return k;
}

TEST(Notify, InterposedKickAndCallAreRelayedAndRecorded) {
  ControlledSession s;
  ASSERT_TRUE(s.start({"--interpose-notify"})) << s.rec.why;
  UniqueFd kick = make_eventfd(), call = make_eventfd();
  Bytes set_kick = request("SET_VRING_KICK", vring_index_fd(0));
  Bytes set_call = request("SET_VRING_CALL", vring_index_fd(0));
  ReceivedMessage got_kick = s.relay(set_kick, {kick.get()});
  ReceivedMessage got_call = s.relay(set_call, {call.get()});
  ASSERT_EQ(got_kick.fds.size(), 1u);
  ASSERT_EQ(got_call.fds.size(), 1u);
  // Same bytes (checked in relay()), different eventfds.
  expect_different_eventfds(kick.get(), got_kick.fds[0].get());
  expect_different_eventfds(call.get(), got_call.fds[0].get());

  signal(kick.get());
  EXPECT_EQ(await_counter(got_kick.fds[0].get()), 1u) << "the kick did not reach the back-end";
  signal(got_call.fds[0].get());
  EXPECT_EQ(await_counter(call.get()), 1u) << "the call did not reach the front-end";
  for (int i = 0; i < 5; ++i) signal(kick.get());
  EXPECT_EQ(collect(got_kick.fds[0].get(), 5), 5u);
  signal(got_call.fds[0].get(), 3);
  EXPECT_EQ(collect(call.get(), 3), 3u);

  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();
  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  // The message records keep what the front-end sent.
  auto sent = c.messages(Channel::Frontend, Direction::ToBackend);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]->bytes, set_kick);
  ASSERT_EQ(sent[0]->fds.size(), 1u);
  EXPECT_EQ(sent[0]->fds[0].inode, identify(kick.get()).ino);

  auto notes = notify_records(c);
  EXPECT_EQ(how_many(notes, 0, NotifySource::Kick, NotifyEvent::Interposed), 1u);
  EXPECT_EQ(how_many(notes, 0, NotifySource::Call, NotifyEvent::Interposed), 1u);
  EXPECT_EQ(total(notes, 0, NotifySource::Kick, NotifyEvent::Relayed), 6u);
  EXPECT_EQ(total(notes, 0, NotifySource::Call, NotifyEvent::Relayed), 4u);
  // The interposed record describes both eventfds: the front-end's and the back-end's.
  for (const Record* r : c.of_kind(RecordKind::Notify)) {
    auto n = decode_notify(r->bytes);
    ASSERT_TRUE(n);
    if (n->event != NotifyEvent::Interposed) {
      EXPECT_TRUE(r->fds.empty());
      continue;
    }
    ASSERT_EQ(r->fds.size(), 2u);
    const bool is_kick = n->source == NotifySource::Kick;
    EXPECT_EQ(r->fds[0].kind, FdKind::Eventfd);
    EXPECT_EQ(r->fds[1].kind, FdKind::Eventfd);
    EXPECT_EQ(r->direction, is_kick ? Direction::ToBackend : Direction::ToFrontend);
  }
}

TEST(Notify, WithoutTheFlagEventfdsPassThroughAndNothingIsRecorded) {
  ControlledSession s;
  ASSERT_TRUE(s.start({})) << s.rec.why;
  UniqueFd kick = make_eventfd(), call = make_eventfd();
  ReceivedMessage got_kick = s.relay(request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});
  ReceivedMessage got_call = s.relay(request("SET_VRING_CALL", vring_index_fd(0)), {call.get()});
  ASSERT_EQ(got_kick.fds.size(), 1u);
  ASSERT_EQ(got_call.fds.size(), 1u);
  EXPECT_EQ(eventfd_id(got_kick.fds[0].get()), eventfd_id(kick.get()));
  EXPECT_EQ(eventfd_id(got_call.fds[0].get()), eventfd_id(call.get()));
  // One counter on both sides: the front-end's kick is the back-end's, with no proxy in between.
  signal(kick.get(), 4);
  EXPECT_EQ(await_counter(got_kick.fds[0].get(), Millis(0)), 4u);
  CommandResult r = s.ctl({"hold", "kick", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("needs 'record --interpose-notify'"), std::string::npos) << r.err;
  EXPECT_EQ(s.ctl({"status"}).out, "held: none\nbreakpoints: none\n\n");
  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();
  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  EXPECT_TRUE(c.of_kind(RecordKind::Notify).empty());
}

TEST(Notify, HeldKicksWaitForStepAndContinue) {
  ControlledSession s;
  ASSERT_TRUE(s.start({"--interpose-notify"})) << s.rec.why;
  UniqueFd kick = make_eventfd(), call = make_eventfd();
  ReceivedMessage got_kick = s.relay(request("SET_VRING_KICK", vring_index_fd(1)), {kick.get()});
  ReceivedMessage got_call = s.relay(request("SET_VRING_CALL", vring_index_fd(1)), {call.get()});
  ASSERT_EQ(got_kick.fds.size(), 1u);
  ASSERT_EQ(got_call.fds.size(), 1u);
  const int be_kick = got_kick.fds[0].get();

  CommandResult r = s.ctl({"hold", "kick", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  signal(kick.get(), 2);
  EXPECT_EQ(await_counter(be_kick, kShort), 0u) << "a held kick reached the back-end";
  // Calls of the same queue are not held.
  signal(got_call.fds[0].get());
  EXPECT_EQ(await_counter(call.get()), 1u);

  CommandResult status = s.ctl({"status"});
  EXPECT_EQ(status.out,
            "held: session 1, queue 1 kick, 2 notifications\nbreakpoints: none\nnotify holds: kick "
            "1\n\n");
  EXPECT_EQ(s.ctl({"step"}).out, "ok\n");
  EXPECT_EQ(await_counter(be_kick), 1u) << "step did not release one kick";
  EXPECT_EQ(await_counter(be_kick, kShort), 0u) << "step released more than one kick";
  EXPECT_NE(s.ctl({"status"}).out.find("queue 1 kick, 1 notifications"), std::string::npos);
  EXPECT_EQ(s.ctl({"step"}).out, "ok\n");
  EXPECT_EQ(await_counter(be_kick), 1u);
  r = s.ctl({"step"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nothing is held"), std::string::npos) << r.err;

  // The hold stays until unhold: continue writes on everything held so far.
  signal(kick.get(), 3);
  EXPECT_EQ(await_counter(be_kick, kShort), 0u);
  EXPECT_EQ(s.ctl({"continue"}).out, "ok\n");
  EXPECT_EQ(collect(be_kick, 3), 3u);
  signal(kick.get());
  EXPECT_EQ(await_counter(be_kick, kShort), 0u);
  EXPECT_EQ(s.ctl({"unhold", "kick", "1"}).out, "ok\n");
  EXPECT_EQ(await_counter(be_kick), 1u) << "unhold did not write on what was held";
  signal(kick.get());
  EXPECT_EQ(await_counter(be_kick), 1u);
  EXPECT_EQ(s.ctl({"status"}).out, "held: none\nbreakpoints: none\nnotify holds: none\n\n");

  r = s.ctl({"hold", "kick", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("needs kick, call or err and a queue index"), std::string::npos) << r.err;
  r = s.ctl({"unhold", "call", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("call notifications of queue 1 are not held"), std::string::npos) << r.err;

  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();
  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  auto notes = notify_records(c);
  EXPECT_EQ(total(notes, 1, NotifySource::Kick, NotifyEvent::Held), 6u);
  EXPECT_EQ(total(notes, 1, NotifySource::Kick, NotifyEvent::Released), 6u);
  EXPECT_EQ(total(notes, 1, NotifySource::Kick, NotifyEvent::Relayed), 1u);
  EXPECT_EQ(total(notes, 1, NotifySource::Call, NotifyEvent::Relayed), 1u);
}

TEST(Notify, CallFdSwappedWhileRunningLosesNothingAndTeardownLeaksNoFd) {
  ControlledSession s;
  ASSERT_TRUE(s.start({"--interpose-notify"})) << s.rec.why;
  // Both connections and the session's own debugger delay timer (each session has its own).
  const int session_fds = s.rec.proc->wait_for_fd_count(s.rec.idle_fds + 3, kLong);
  EXPECT_EQ(session_fds, s.rec.idle_fds + 3);
  UniqueFd kick = make_eventfd(), call1 = make_eventfd(), call2 = make_eventfd();
  ReceivedMessage got_kick = s.relay(request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});
  ReceivedMessage got_call1 = s.relay(request("SET_VRING_CALL", vring_index_fd(0)), {call1.get()});
  ASSERT_EQ(got_call1.fds.size(), 1u);
  // kick: front-end's + ours; call: ours + front-end's.
  EXPECT_EQ(s.rec.proc->wait_for_fd_count(session_fds + 4, kLong), session_fds + 4);

  // QEMU re-sets the call fd while the queue runs; the back-end may still call through the old one.
  ReceivedMessage got_call2 = s.relay(request("SET_VRING_CALL", vring_index_fd(0)), {call2.get()});
  ASSERT_EQ(got_call2.fds.size(), 1u);
  signal(got_call1.fds[0].get());
  EXPECT_EQ(await_counter(call2.get()), 1u) << "a call through the replaced eventfd was lost";
  signal(got_call2.fds[0].get());
  EXPECT_EQ(await_counter(call2.get()), 1u);
  EXPECT_EQ(await_counter(call1.get(), kShort), 0u);

  // Polling mode (NOFD): nothing to substitute, the previous kick pair ends.
  Bytes nofd = request("SET_VRING_KICK", vring_index_fd(0, true));
  ReceivedMessage got_nofd = s.relay(nofd);
  EXPECT_TRUE(got_nofd.fds.empty());

  // GET_VRING_BASE answered: the queue's pairs are gone, with a last call delivered first.
  Bytes get_base = request("GET_VRING_BASE", vring_state(0, 0));
  s.relay(get_base);
  signal(got_call2.fds[0].get(), 2);
  Bytes base_reply = reply("GET_VRING_BASE", vring_state(0, 7));
  ASSERT_EQ(send_message(s.be.get(), base_reply), IoStatus::Ok);
  ReceivedMessage at_fe;
  ASSERT_EQ(recv_message(s.fe.get(), at_fe, kLong), IoStatus::Ok);
  EXPECT_EQ(at_fe.bytes, base_reply);
  EXPECT_EQ(await_counter(call2.get(), Millis(0)), 2u)
      << "the last call was not delivered before the reply";
  EXPECT_EQ(s.rec.proc->wait_for_fd_count(session_fds, kLong), session_fds)
      << "eventfds leaked after GET_VRING_BASE";

  // A new pair for the next session's start, then the session ends: everything is closed.
  s.relay(request("SET_VRING_KICK", vring_index_fd(0)), {kick.get()});
  EXPECT_EQ(s.rec.proc->wait_for_fd_count(session_fds + 2, kLong), session_fds + 2);
  s.fe.reset();
  EXPECT_TRUE(wait_closed(s.be.get(), kLong));
  EXPECT_EQ(s.rec.proc->wait_for_fd_count(s.rec.idle_fds, kLong), s.rec.idle_fds)
      << "fd leak after the session";
  EXPECT_EQ(s.rec.stop(), 0) << s.rec.stderr_text();

  CaptureContents c = read_capture(s.rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  auto notes = notify_records(c);
  EXPECT_EQ(how_many(notes, 0, NotifySource::Call, NotifyEvent::Interposed), 2u);
  EXPECT_EQ(total(notes, 0, NotifySource::Call, NotifyEvent::Relayed), 4u);
  EXPECT_EQ(how_many(notes, 0, NotifySource::Call, NotifyEvent::Closed),
            2u);  // swap + GET_VRING_BASE
  EXPECT_EQ(how_many(notes, 0, NotifySource::Kick, NotifyEvent::Closed), 1u);  // NOFD
}

TEST(Notify, RealisticStartupWithScriptedPeersInterposesEveryQueue) {
  RecorderHarness rec;
  StartupOptions so;
  so.queues = 2;
  Scenario sc = realistic_startup(so);
  sc.backend.path = rec.backend_sock;
  ScriptedBackend backend(sc.backend);
  backend.start();
  ASSERT_TRUE(rec.start({"--interpose-notify", "--sample-interval", "0"})) << rec.why;
  FrontendOptions fo;
  fo.path = rec.frontend_sock;
  ScriptedFrontend frontend(fo);
  frontend.start(sc.frontend);
  frontend.join();
  backend.join();
  EXPECT_TRUE(frontend.errors().empty()) << frontend.errors().front();
  EXPECT_TRUE(backend.errors().empty()) << backend.errors().front();
  EXPECT_EQ(rec.proc->wait_for_fd_count(rec.idle_fds, kLong), rec.idle_fds);
  EXPECT_EQ(rec.stop(), 0) << rec.stderr_text();

  // Every front-end message reached the back-end byte-exact; only the eventfds differ.
  std::vector<const Exchange*> sent, received;
  for (const auto& e : frontend.transcript())
    if (e.sent && e.channel == Channel::Frontend) sent.push_back(&e);
  for (const auto& e : backend.transcript())
    if (!e.sent && e.channel == Channel::Frontend) received.push_back(&e);
  ASSERT_EQ(sent.size(), received.size());
  size_t substituted = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(sent[i]->bytes, received[i]->bytes) << "message " << i;
    ASSERT_EQ(sent[i]->fds.size(), received[i]->fds.size());
    const bool vring_fd = sent[i]->header().request == request_number("SET_VRING_KICK") ||
                          sent[i]->header().request == request_number("SET_VRING_CALL");
    for (size_t k = 0; k < sent[i]->fds.size(); ++k) {
      if (vring_fd) {
        EXPECT_EQ(received[i]->fds[k].mode & S_IFMT, sent[i]->fds[k].mode & S_IFMT);
        expect_different_eventfds(sent[i]->kept[k].get(), received[i]->kept[k].get());
        ++substituted;
      } else if (sent[i]->header().request != request_number("SET_BACKEND_REQ_FD")) {
        EXPECT_EQ(sent[i]->fds[k], received[i]->fds[k]);
      }
    }
  }
  EXPECT_EQ(substituted, 4u);

  CaptureContents c = read_capture(rec.capture);
  ASSERT_TRUE(c.opened) << c.error;
  auto notes = notify_records(c);
  for (uint16_t q = 0; q < 2; ++q)
    for (NotifySource src : {NotifySource::Kick, NotifySource::Call}) {
      EXPECT_EQ(how_many(notes, q, src, NotifyEvent::Interposed), 1u) << "queue " << q;
      EXPECT_EQ(how_many(notes, q, src, NotifyEvent::Closed), 1u)
          << "queue " << q;  // GET_VRING_BASE
    }
}

// ---------------------------------------------------------------- dump and summary

TEST(NotifyCli, DumpShowsOneLinePerRecordAndSummaryCountsPerQueue) {
  TempDir dir;
  const std::string path = dir / "n.pcap";
  {
    std::string error;
    auto w = CaptureWriter::create(path, error);
    ASSERT_TRUE(w) << error;
    Record r;
    r.session = 1;
    r.timestamp_ns = 1'700'000'000'000'000'000ull;
    r.kind = RecordKind::Connect;
    const std::string note = "test";
    r.bytes.assign(note.begin(), note.end());
    w->write(r);
    auto notify = [&](NotifySource src, NotifyEvent ev, uint16_t queue, uint64_t count,
                      size_t fds = 0) {
      r.kind = RecordKind::Notify;
      r.direction = src == NotifySource::Kick ? Direction::ToBackend : Direction::ToFrontend;
      r.timestamp_ns += 1000;
      r.bytes = encode_notify({src, ev, queue, count});
      r.fds.assign(fds, FdInfo{FdKind::Eventfd, 0, 0, "anon_inode:[eventfd]"});
      w->write(r);
    };
    notify(NotifySource::Kick, NotifyEvent::Interposed, 0, 0, 2);
    notify(NotifySource::Kick, NotifyEvent::Relayed, 0, 3);
    notify(NotifySource::Kick, NotifyEvent::Relayed, 0, 1);
    notify(NotifySource::Call, NotifyEvent::Held, 1, 2);
    notify(NotifySource::Call, NotifyEvent::Released, 1, 2);
    notify(NotifySource::Err, NotifyEvent::Relayed, 1, 1);
    ASSERT_TRUE(w->flush());
  }
  CommandResult dump = run_command({vhostscope_binary(), "dump", path}, dir.path());
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("s1 notify q0 kick interposed fds=[eventfd, eventfd]\n"),
            std::string::npos)
      << dump.out;
  EXPECT_NE(dump.out.find("s1 notify q0 kick ×3\n"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("s1 notify q1 call held ×2\n"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("s1 notify q1 err ×1\n"), std::string::npos) << dump.out;
  CommandResult quiet = run_command({vhostscope_binary(), "dump", "--no-notify", path}, dir.path());
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out.find("notify"), std::string::npos) << quiet.out;
  EXPECT_NE(quiet.out.find("connect"), std::string::npos) << quiet.out;

  CommandResult summary = run_command({vhostscope_binary(), "summary", path}, dir.path());
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("  Notifications (interposed): 2 queues\n"
                             "    index      kicks      calls   errs     held  records\n"
                             "        0          4          0      0        0        3\n"
                             "        1          0          2      1        2        3\n"),
            std::string::npos)
      << summary.out;
}

// ---------------------------------------------------------------- payload decoder

TEST(NotifyPayload, DecodesHandWrittenBytes) {
  const Bytes call_held = {1, 1, 16, 0,                  // version 1, call, header_len 16
                           1, 0, 3,  1,                  // held, reserved, queue 0x103
                           5, 0, 0,  0, 0, 0, 0, 0x80};  // count
  std::string error;
  auto n = decode_notify(call_held, &error);
  ASSERT_TRUE(n) << error;
  EXPECT_EQ(n->source, NotifySource::Call);
  EXPECT_EQ(n->event, NotifyEvent::Held);
  EXPECT_EQ(n->queue, 0x103);
  EXPECT_EQ(n->count, 0x8000000000000005ull);
  EXPECT_EQ(describe_notify(*n), "q259 call held ×9223372036854775813");
  EXPECT_EQ(encode_notify(*n), call_held);

  // A later version may append after header_len: ignored.
  Bytes longer = {1, 0, 20, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9};
  n = decode_notify(longer, &error);
  ASSERT_TRUE(n) << error;
  EXPECT_EQ(describe_notify(*n), "q2 kick ×1");
}

TEST(NotifyPayload, RejectsTruncatedAndUnknownPayloads) {
  std::string error;
  const Bytes whole = encode_notify({NotifySource::Kick, NotifyEvent::Relayed, 0, 1});
  EXPECT_FALSE(decode_notify(std::span(whole).first(15), &error));
  EXPECT_EQ(error, "notify payload of 15 bytes is shorter than header_len 16");
  EXPECT_FALSE(decode_notify(std::span(whole).first(3), &error));
  EXPECT_EQ(error, "notify payload of 3 bytes is shorter than its 4-byte preamble");
  Bytes v2 = whole;
  v2[0] = 2;
  EXPECT_FALSE(decode_notify(v2, &error));
  EXPECT_EQ(error, "notify version 2 is not supported (expected 1)");
  Bytes short_header = whole;
  short_header[2] = 8;
  EXPECT_FALSE(decode_notify(short_header, &error));
  EXPECT_EQ(error, "notify header_len 8 is below 16");
  Bytes bad_source = whole;
  bad_source[1] = 3;
  EXPECT_FALSE(decode_notify(bad_source, &error));
  EXPECT_EQ(error, "notify source 3 is not 0 (kick), 1 (call) or 2 (err)");
  Bytes bad_event = whole;
  bad_event[4] = 5;
  EXPECT_FALSE(decode_notify(bad_event, &error));
  EXPECT_EQ(error, "notify event 5 is not one of 0..4");
}

}  // namespace
}  // namespace vhs::test
