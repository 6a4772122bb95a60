// Proxy building blocks in isolation: message framing with fds (greedy reads that still give every
// message exactly its own fds), fd descriptions, and the safe listening socket.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "decoders/vhost_user/payloads.hpp"
#include "proxy/command_queue.hpp"
#include "proxy/fd_describe.hpp"
#include "proxy/hold_policy.hpp"
#include "proxy/inject_policy.hpp"
#include "proxy/message_reader.hpp"
#include "proxy/relay_services.hpp"
#include "proxy/timer_fd.hpp"
#include "proxy/unix_socket.hpp"
#include "support/message_builder.hpp"
#include "support/temp_dir.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {
namespace {

int open_fd_count() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the DIR itself
}

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

// ---------------------------------------------------------------- MessageReader

TEST(MessageReader, BackToBackMessagesKeepTheirOwnFds) {
  Pair p;
  UniqueFd m1 = make_memfd("first", 4096), m2 = make_memfd("second", 8192), e2 = make_eventfd();
  Bytes one = request("SET_VRING_KICK", vring_index_fd(0));
  Bytes two = request("SET_MEM_TABLE", Bytes(8 + 32, 0));
  // Both are queued before the reader looks: a greedy read would pull the second one's fds into
  // the first message.
  int fds1[] = {m1.get()};
  int fds2[] = {m2.get(), e2.get()};
  ASSERT_EQ(send_message(p.a.get(), one, fds1), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), two, fds2), IoStatus::Ok);

  MessageReader r;
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), one);
  ASSERT_EQ(r.fds().size(), 1u);
  EXPECT_EQ(identify(r.fds()[0]), identify(m1.get()));
  EXPECT_FALSE(r.fds_truncated());
  r.next();

  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), two);
  ASSERT_EQ(r.fds().size(), 2u);
  EXPECT_EQ(identify(r.fds()[0]), identify(m2.get()));
  EXPECT_EQ(identify(r.fds()[1]).ino, identify(e2.get()).ino);
  r.next();
  EXPECT_EQ(r.read(p.b.get()), MessageReader::Status::Partial);
}

// The kernel behaviour greedy reads rely on: a unix stream read stops right after the first skb
// with fds it touches, so a read's fds belong to the message holding its last byte.
TEST(MessageReader, KernelStopsAReadRightAfterTheBytesThatCarriedFds) {
  Pair p;
  UniqueFd kick = make_eventfd();
  Bytes one = request("SET_VRING_NUM", vring_state(0, 256));
  Bytes two = request("SET_VRING_KICK", vring_index_fd(0));
  Bytes three = request("SET_VRING_ENABLE", vring_state(0, 1));
  int fds[] = {kick.get()};
  ASSERT_EQ(send_message(p.a.get(), one), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), two, fds), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), three), IoStatus::Ok);

  uint8_t buf[4096];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ASSERT_EQ(recvmsg(p.b.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC),
            ssize_t(one.size() + two.size()));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cmsg_len, CMSG_LEN(sizeof(int)));
  int got;
  std::memcpy(&got, CMSG_DATA(c), sizeof got);
  UniqueFd received(got);
  EXPECT_EQ(identify(received.get()).ino, identify(kick.get()).ino);
}

TEST(MessageReader, GreedyReadsGiveEachQueuedMessageItsOwnFds) {
  Pair p;
  UniqueFd mem = make_memfd("ram", 4096), kick = make_eventfd(), call = make_eventfd();
  std::vector<Bytes> msgs = {
      request("SET_VRING_NUM", vring_state(0, 256)),  // no fds
      request("SET_MEM_TABLE", Bytes(8 + 32, 0)),     // memfd + eventfd
      request("SET_VRING_BASE", vring_state(0, 0)),   // no fds, follows a message with fds
      request("SET_VRING_KICK", vring_index_fd(0)),   // eventfd
      request("GET_FEATURES"),                        // zero-size payload
  };
  int mem_fds[] = {mem.get(), call.get()};
  int kick_fds[] = {kick.get()};
  ASSERT_EQ(send_message(p.a.get(), msgs[0]), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), msgs[1], mem_fds), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), msgs[2]), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), msgs[3], kick_fds), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), msgs[4]), IoStatus::Ok);

  const std::vector<std::vector<ino_t>> want = {
      {}, {identify(mem.get()).ino, identify(call.get()).ino}, {}, {identify(kick.get()).ino}, {}};
  MessageReader r;
  for (size_t i = 0; i < msgs.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
    EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), msgs[i]);
    std::vector<ino_t> got;
    for (int fd : r.fds()) got.push_back(identify(fd).ino);
    EXPECT_EQ(got, want[i]);
    r.next();
  }
  EXPECT_FALSE(r.ready());
  EXPECT_EQ(r.read(p.b.get()), MessageReader::Status::Partial);
}

// libvhost-user's way of writing: the header with the fds in one sendmsg, the payload in a write.
TEST(MessageReader, FdsOnTheHeaderWithThePayloadWrittenSeparately) {
  Pair p;
  UniqueFd call = make_eventfd();
  Bytes first = request("SET_VRING_CALL", vring_index_fd(1));
  Bytes second = request("SET_VRING_ENABLE", vring_state(1, 1));
  int fds[] = {call.get()};
  ASSERT_EQ(send_message(p.a.get(), std::span<const uint8_t>(first).first(kHeaderSize), fds),
            IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), std::span<const uint8_t>(first).subspan(kHeaderSize)),
            IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), second), IoStatus::Ok);
  MessageReader r;
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), first);
  ASSERT_EQ(r.fds().size(), 1u);
  EXPECT_EQ(identify(r.fds()[0]).ino, identify(call.get()).ino);
  r.next();
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), second);
  EXPECT_TRUE(r.fds().empty());
}

// Fault injection's replace-reply swaps the current message; what was buffered behind it stays.
TEST(MessageReader, ReplaceKeepsTheMessagesBufferedBehind) {
  Pair p;
  UniqueFd kick = make_eventfd();
  Bytes first = request("SET_VRING_NUM", vring_state(0, 8));
  Bytes second = request("SET_VRING_KICK", vring_index_fd(0));
  Bytes replacement = request("SET_FEATURES", u64_payload(0x0102030405060708));
  int fds[] = {kick.get()};
  ASSERT_EQ(send_message(p.a.get(), first), IoStatus::Ok);
  ASSERT_EQ(send_message(p.a.get(), second, fds), IoStatus::Ok);
  MessageReader r;
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  r.replace(replacement);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), replacement);
  EXPECT_EQ(r.header().size, 8u);
  r.next();
  ASSERT_TRUE(r.ready());
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), second);
  ASSERT_EQ(r.fds().size(), 1u);
  EXPECT_EQ(identify(r.fds()[0]).ino, identify(kick.get()).ino);
}

TEST(MessageReader, ResetClosesFdsOfBufferedMessages) {
  int before = open_fd_count();
  {
    Pair p;
    UniqueFd kick = make_eventfd();
    int fds[] = {kick.get()};
    ASSERT_EQ(send_message(p.a.get(), request("SET_VRING_NUM", vring_state(0, 8))), IoStatus::Ok);
    ASSERT_EQ(send_message(p.a.get(), request("SET_VRING_KICK", vring_index_fd(0)), fds),
              IoStatus::Ok);
    MessageReader r;
    ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
    EXPECT_TRUE(r.fds().empty());  // the kick's fd is buffered with the kick, not handed out here
    r.reset();
    EXPECT_FALSE(r.partial());
    EXPECT_FALSE(r.ready());
  }
  EXPECT_EQ(open_fd_count(), before);
}

TEST(MessageReader, SplitHeaderAndPayloadArriveInPieces) {
  Pair p;
  Bytes msg = request("SET_FEATURES", u64_payload(0x1122334455667788));
  MessageReader r;
  ASSERT_EQ(write(p.a.get(), msg.data(), 5), 5);
  EXPECT_EQ(r.read(p.b.get()), MessageReader::Status::Partial);
  EXPECT_FALSE(r.header_complete());
  ASSERT_EQ(write(p.a.get(), msg.data() + 5, 10), 10);
  EXPECT_EQ(r.read(p.b.get()), MessageReader::Status::Partial);
  EXPECT_TRUE(r.header_complete());
  EXPECT_EQ(r.header().size, 8u);
  EXPECT_EQ(r.bytes().size(), 15u);
  ASSERT_EQ(write(p.a.get(), msg.data() + 15, msg.size() - 15), ssize_t(msg.size() - 15));
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), msg);
}

TEST(MessageReader, ZeroSizeMessageIsJustTheHeader) {
  Pair p;
  Bytes msg = request("GET_FEATURES");
  Bytes next = request("SET_OWNER");
  ASSERT_EQ(write(p.a.get(), msg.data(), msg.size()), 12);
  ASSERT_EQ(write(p.a.get(), next.data(), next.size()), 12);
  MessageReader r;
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(Bytes(r.bytes().begin(), r.bytes().end()), msg);
}

TEST(MessageReader, OversizedHeaderStopsAndStaysStopped) {
  Pair p;
  Bytes h = header_bytes(5, 1, kMaxPayloadSize + 1);
  Bytes big(10000, 0x55);
  ASSERT_EQ(write(p.a.get(), h.data(), h.size()), 12);
  ASSERT_EQ(write(p.a.get(), big.data(), big.size()), ssize_t(big.size()));
  MessageReader r;
  EXPECT_EQ(r.read(p.b.get()), MessageReader::Status::Oversized);
  EXPECT_EQ(r.bytes().size(), 12u);
  EXPECT_EQ(r.read(p.b.get()), MessageReader::Status::Oversized);  // and stays so
  EXPECT_EQ(r.bytes().size(), 12u);
}

TEST(MessageReader, MaximumPayloadFits) {
  Pair p;
  Bytes msg = message(24, 1, Bytes(kMaxPayloadSize, 0x7e));
  ASSERT_EQ(send_message(p.a.get(), msg), IoStatus::Ok);
  MessageReader r;
  ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
  EXPECT_EQ(r.bytes().size(), kHeaderSize + kMaxPayloadSize);
}

TEST(MessageReader, EofMidMessageIsClosedWithAPartialMessage) {
  Pair p;
  Bytes msg = request("SET_FEATURES", u64_payload(1));
  ASSERT_EQ(write(p.a.get(), msg.data(), 14), 14);
  p.a.reset();
  MessageReader r;
  EXPECT_EQ(r.read(p.b.get()), MessageReader::Status::Closed);
  EXPECT_TRUE(r.partial());
  EXPECT_EQ(r.bytes().size(), 14u);
}

TEST(MessageReader, TooManyFdsAreFlaggedAndTheRestClosed) {
  int before = open_fd_count();
  {
    Pair p;
    std::vector<UniqueFd> fds;
    std::vector<int> raw;
    for (size_t i = 0; i < kMaxFdsPerMessage + 8; ++i) {
      fds.push_back(make_eventfd());
      raw.push_back(fds.back().get());
    }
    ASSERT_EQ(send_message(p.a.get(), request("SET_OWNER"), raw), IoStatus::Ok);
    fds.clear();
    MessageReader r;
    ASSERT_EQ(r.read(p.b.get()), MessageReader::Status::Complete);
    EXPECT_TRUE(r.fds_truncated());
    EXPECT_EQ(r.fds().size(), kMaxFdsPerMessage);
    int taken = r.take_fd(0);
    EXPECT_GE(taken, 0);
    EXPECT_EQ(r.take_fd(0), -1);
    close(taken);
    // reset() (and the destructor) close the rest.
  }
  EXPECT_EQ(open_fd_count(), before);
}

// ---------------------------------------------------------------- request names in policies

// Breakpoints and injections take names the way users see them (dump output, the spec, QEMU's
// source, old SLAVE_* names), resolved by the registry and shown canonically.
TEST(Policies, RequestNamesResolveThroughTheRegistry) {
  HoldPolicy holds;
  std::string error;
  ASSERT_TRUE(holds.add("vhost_user_set_vring_kick", error)) << error;
  ASSERT_TRUE(holds.add("SLAVE_IOTLB_MSG", error)) << error;
  ASSERT_TRUE(holds.add("Any", error)) << error;
  EXPECT_EQ(holds.describe(), "SET_VRING_KICK BACKEND_IOTLB_MSG any");
  EXPECT_FALSE(holds.add("SET_VRING_KIK", error));
  EXPECT_NE(error.find("unknown request name 'SET_VRING_KIK'"), std::string::npos) << error;

  InjectPolicy injects;
  ASSERT_TRUE(injects.add("drop:VHOST_USER_set_vring_call", error)) << error;
  EXPECT_EQ(injects.describe(), "drop:SET_VRING_CALL");
  const Injection* in = injects.for_request(Channel::Frontend, Header{13, kProtocolVersion, 8});
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->action, InjectAction::Drop);
  EXPECT_FALSE(injects.add("drop:NO_SUCH_REQUEST", error));
  EXPECT_NE(error.find("unknown request name 'NO_SUCH_REQUEST'"), std::string::npos) << error;
}

// ---------------------------------------------------------------- describe_fd

TEST(DescribeFd, MemfdEventfdSocketPipeFileAndOthers) {
  FdInfo info;
  UniqueFd mem = make_memfd("pc.ram", 12345);
  describe_fd(mem.get(), info);
  EXPECT_EQ(info.kind, FdKind::Memfd);
  EXPECT_EQ(info.name, "memfd:pc.ram");
  EXPECT_EQ(info.size, 12345u);
  EXPECT_EQ(info.inode, identify(mem.get()).ino);

  UniqueFd ev = make_eventfd();
  describe_fd(ev.get(), info);
  EXPECT_EQ(info.kind, FdKind::Eventfd);
  EXPECT_EQ(info.name, "anon_inode:[eventfd]");
  EXPECT_EQ(info.size, 0u);

  Pair p;
  describe_fd(p.a.get(), info);
  EXPECT_EQ(info.kind, FdKind::Socket);
  EXPECT_EQ(info.name, "socket:[" + std::to_string(identify(p.a.get()).ino) + "]");

  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd r(pipefd[0]), w(pipefd[1]);
  describe_fd(r.get(), info);
  EXPECT_EQ(info.kind, FdKind::Pipe);
  EXPECT_TRUE(info.name.starts_with("pipe:[")) << info.name;

  TempDir dir;
  std::string path = dir / "disk.img";
  std::ofstream(path) << "0123456789";
  UniqueFd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  describe_fd(file.get(), info);
  EXPECT_EQ(info.kind, FdKind::File);
  EXPECT_EQ(info.name, path);
  EXPECT_EQ(info.size, 10u);

  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  describe_fd(null.get(), info);
  EXPECT_EQ(info.kind, FdKind::Other);
  EXPECT_EQ(info.name, "/dev/null");

  describe_fd(987654, info);  // not open
  EXPECT_EQ(info.kind, FdKind::Unknown);
  EXPECT_EQ(info.name, "");
}

// ---------------------------------------------------------------- ListenSocket

TEST(ListenSocket, CreatesA0600SocketAndUnlinksItOnClose) {
  TempDir dir;
  std::string path = dir / "s.sock";
  std::string error;
  ListenSocket s = ListenSocket::create(path, error);
  ASSERT_TRUE(s.valid()) << error;
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(connect_to(path, Millis(500)).valid());
  s.close();
  EXPECT_NE(lstat(path.c_str(), &st), 0);
}

TEST(ListenSocket, RefusesALiveSocketAndANonSocket) {
  TempDir dir;
  std::string live = dir / "live.sock";
  UniqueFd other = listen_on(live);
  ASSERT_TRUE(other.valid());
  std::string error;
  EXPECT_FALSE(ListenSocket::create(live, error).valid());
  EXPECT_EQ(error, "cannot listen on '" + live + "': another program is listening there");
  EXPECT_TRUE(connect_to(live, Millis(500)).valid()) << "the live socket still works";

  std::string file = dir / "file";
  std::ofstream(file) << "x";
  EXPECT_FALSE(ListenSocket::create(file, error).valid());
  EXPECT_EQ(error,
            "cannot listen on '" + file + "': it exists and is not a socket (left untouched)");
  struct stat st;
  ASSERT_EQ(lstat(file.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));

  std::string missing_dir = dir / "nope/s.sock";
  EXPECT_FALSE(ListenSocket::create(missing_dir, error).valid());
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

TEST(ListenSocket, ReplacesAStaleSocketButLeavesAReplacementAlone) {
  TempDir dir;
  std::string path = dir / "s.sock";
  { UniqueFd stale = listen_on(path); }  // bound, then closed: a stale socket file
  std::string error;
  ListenSocket s = ListenSocket::create(path, error);
  ASSERT_TRUE(s.valid()) << error;
  EXPECT_TRUE(connect_to(path, Millis(500)).valid());
  // Someone else takes the path over; closing ours must not remove theirs.
  ASSERT_EQ(unlink(path.c_str()), 0);
  std::ofstream(path) << "theirs";
  s.close();
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0);
}

// ---------------------------------------------------------------- TimerFd

bool readable_within(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

TEST(TimerFd, OneShotFiresOnceAndZeroDelayStillFires) {
  TimerFd timer = TimerFd::create();
  ASSERT_TRUE(timer.valid());
  EXPECT_EQ(timer.read_expirations(), 0u);  // not armed: nothing, and no blocking
  timer.arm_after(std::chrono::milliseconds(1));
  ASSERT_TRUE(readable_within(timer.fd(), 2000));
  EXPECT_EQ(timer.read_expirations(), 1u);
  EXPECT_FALSE(readable_within(timer.fd(), 20));  // one-shot: no second expiration
  // An all-zero timerfd time would disarm; arm_after(0) must fire anyway.
  timer.arm_after(std::chrono::nanoseconds(0));
  ASSERT_TRUE(readable_within(timer.fd(), 2000));
  EXPECT_EQ(timer.read_expirations(), 1u);
}

TEST(TimerFd, PeriodicKeepsFiringUntilDisarmed) {
  TimerFd timer = TimerFd::create();
  ASSERT_TRUE(timer.valid());
  timer.arm_periodic(std::chrono::milliseconds(2));
  uint64_t total = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(readable_within(timer.fd(), 2000));
    total += timer.read_expirations();
  }
  EXPECT_GE(total, 3u);
  timer.disarm();
  timer.read_expirations();  // whatever expired before disarm()
  EXPECT_FALSE(readable_within(timer.fd(), 30));
  // A zero period disarms as well.
  timer.arm_periodic(std::chrono::milliseconds(2));
  timer.arm_periodic(std::chrono::nanoseconds(0));
  EXPECT_FALSE(readable_within(timer.fd(), 30));
}

TEST(TimerFd, ClosesItsFd) {
  const int before = open_fd_count();
  {
    TimerFd timer = TimerFd::create();
    ASSERT_TRUE(timer.valid());
    EXPECT_EQ(open_fd_count(), before + 1);
    TimerFd moved = std::move(timer);
    EXPECT_FALSE(timer.valid());
    EXPECT_TRUE(moved.valid());
  }
  EXPECT_EQ(open_fd_count(), before);
}

// ---------------------------------------------------------------- vring index / NOFD

TEST(VringIndexMasks, IndexIsTheLowByteAndNofdIsBit8) {
  static_assert(vring_index_of(0x1ff) == 0xff && vring_nofd(0x1ff));
  EXPECT_EQ(vring_index_of(0x103), 3);
  EXPECT_TRUE(vring_nofd(0x103));
  EXPECT_EQ(vring_index_of(0x0ff), 255);
  EXPECT_FALSE(vring_nofd(0x0ff));
  // Bits above 8 are neither index nor flag.
  EXPECT_EQ(vring_index_of(0x205), 5);
  EXPECT_FALSE(vring_nofd(0x205));
  EXPECT_EQ(VringIndexFdValue{0x101}.index(), 1);
  EXPECT_TRUE(VringIndexFdValue{0x101}.nofd());
  const VringAreaValue area{0x007, 4096, 0};
  EXPECT_EQ(area.index(), 7);
  EXPECT_FALSE(area.nofd());
  EXPECT_EQ(DeviceStateResultValue{0x102}.error(), 2);
  EXPECT_TRUE(DeviceStateResultValue{0x102}.no_fd());
}

// ---------------------------------------------------------------- CommandQueue

// The relay services a part sees, faked: records what the part watches, nothing else.
class WatchingRelay final : public RelayServices {
 public:
  uint32_t session() const override { return 1; }
  bool relaying() const override { return true; }
  uint64_t generation() const override { return 0; }
  void emit(const Record&) override {}
  void log(LogLevel, std::string_view) override {}
  void note_dropped() override {}
  void session_error(Channel, Direction, const std::string&) override {}
  std::span<RelayFlow* const> flows() override { return {}; }
  void send_on(RelayFlow&) override {}
  void refresh_interest(RelayFlow&) override {}
  void set_debugging(bool) override {}
  uint64_t next_hold_order() override { return 0; }
  bool watch(int fd, FdHandler& h, uint64_t) override {
    watched_fd = fd;
    handler = &h;
    return true;
  }
  void unwatch(int) override {}

  int watched_fd = -1;
  FdHandler* handler = nullptr;
};

TEST(CommandQueue, LinesFromAnotherThreadRunOnTheLoopThreadInOrder) {
  WatchingRelay relay;
  std::vector<std::string> ran;
  std::string error;
  auto queue = CommandQueue::create(
      relay,
      [&](std::string_view line) {
        ran.emplace_back(line);
        return "answer to " + std::string(line) + "\n";
      },
      error);
  ASSERT_NE(queue, nullptr) << error;
  ASSERT_NE(relay.handler, nullptr);
  auto first = std::async(std::launch::async,
                          [&] { return queue->submit("status", std::chrono::seconds(5)); });
  // The loop thread (this one) wakes on the queue's eventfd and runs the line.
  ASSERT_TRUE(readable_within(relay.watched_fd, 5000));
  relay.handler->on_ready(0);
  EXPECT_EQ(first.get(), "answer to status\n");
  EXPECT_EQ(ran, std::vector<std::string>{"status"});
  EXPECT_FALSE(readable_within(relay.watched_fd, 0));  // the wake-up was consumed
}

TEST(CommandQueue, NoLoopMeansTheRelayIsNotRunning) {
  WatchingRelay relay;
  std::string error;
  auto queue = CommandQueue::create(
      relay, [](std::string_view) { return std::string("ok\n"); }, error);
  ASSERT_NE(queue, nullptr) << error;
  EXPECT_EQ(queue->submit("step", std::chrono::milliseconds(50)),
            "error: the relay is not running\n");
}

}  // namespace
}  // namespace vhs::test
