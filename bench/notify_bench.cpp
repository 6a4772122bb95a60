// Notification round trips (issue 4, --interpose-notify): the front-end kicks an eventfd, the
// back-end waits for it, reads it and calls back through a second eventfd, the front-end waits
// for the call. Three ways in one run, every process pinned to CPU 0: direct eventfds, an ideal
// minimal interposing relay written here, and `vhostscope record --interpose-notify` (recording
// on). Eventfds are non-blocking and waited for with poll(), as QEMU and vhost back-ends do.
// Prints round trips/s, p50/p99 and the ratios against the direct leg.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_process.hpp"
#include "captures/format/capture_file.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"
#include "decoders/virtio/notify_record.hpp"

namespace {

namespace fs = std::filesystem;
using namespace vhs::bench;
constexpr int kTimeoutMs = 10000;  // every wait gives up after this: a broken relay cannot hang us

struct Options {
  uint64_t iterations = 30000;
  uint64_t warmup = 2000;
  int rounds = 5;
  bool vhostscope_leg = true;
  bool keep = false;
  bool realtime = false;  // SCHED_FIFO: keeps other load on CPU 0 out of the measurement
  std::string vhostscope;
};

int make_eventfd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) die_errno("eventfd");
  return fd;
}

// Waits for the eventfd, then reads it; false on timeout. Used by both peers.
bool await(int fd) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, kTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    uint64_t v;
    if (::read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v)) return true;
    if (errno != EAGAIN && errno != EINTR) return false;
  }
}

void notify(int fd) {
  const uint64_t one = 1;
  if (::write(fd, &one, sizeof one) != static_cast<ssize_t>(sizeof one)) die_errno("eventfd write");
}

// The back-end: every kick is answered with a call, until a wait times out or the parent kills it.
void serve_backend(int kick, int call) {
  while (await(kick)) notify(call);
}

struct LegResult {
  double seconds = 0;
  std::vector<uint32_t> latencies_ns;
};

// The front-end: `warmup` unmeasured round trips, then `iterations` timed ones.
LegResult run_frontend(int kick, int call, const Options& opt) {
  LegResult r;
  r.latencies_ns.reserve(opt.iterations);
  auto round_trip = [&] {
    notify(kick);
    if (!await(call)) die("no call came back within 10 s");
  };
  for (uint64_t i = 0; i < opt.warmup; ++i) round_trip();
  const auto start = Clock::now();
  for (uint64_t i = 0; i < opt.iterations; ++i) {
    const auto t0 = Clock::now();
    round_trip();
    r.latencies_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(),
        UINT32_MAX)));
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return r;
}

LegResult leg_direct(const Options& opt) {
  const int kick = make_eventfd(), call = make_eventfd();
  Child backend = fork_child([&] { serve_backend(kick, call); });
  LegResult r = run_frontend(kick, call, opt);
  backend.stop(std::chrono::milliseconds(0));
  ::close(kick), ::close(call);
  return r;
}

// The ideal interposing relay: one epoll set over the two writers' eventfds; read the counter,
// add it to the reader's. No bookkeeping, no recording: the least an interposing relay does.
void ideal_relay(int kick_in, int kick_out, int call_in, int call_out) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) ::_exit(5);
  for (int fd : {kick_in, call_in}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) ::_exit(5);
  }
  for (;;) {
    epoll_event evs[2];
    const int n = ::epoll_wait(ep, evs, 2, kTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(0);
    for (int i = 0; i < n; ++i) {
      const int from = evs[i].data.fd;
      uint64_t v;
      if (::read(from, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) continue;
      if (::write(from == kick_in ? kick_out : call_out, &v, sizeof v) < 0) ::_exit(6);
    }
  }
}

LegResult leg_ideal(const Options& opt) {
  const int fe_kick = make_eventfd(), be_kick = make_eventfd(), be_call = make_eventfd(),
            fe_call = make_eventfd();
  Child backend = fork_child([&] { serve_backend(be_kick, be_call); });
  Child relay = fork_child([&] { ideal_relay(fe_kick, be_kick, be_call, fe_call); });
  LegResult r = run_frontend(fe_kick, fe_call, opt);
  relay.stop(std::chrono::milliseconds(0));
  backend.stop(std::chrono::milliseconds(0));
  for (int fd : {fe_kick, be_kick, be_call, fe_call}) ::close(fd);
  return r;
}

// ---------------------------------------------------------------- vhostscope leg

// SET_VRING_KICK / SET_VRING_CALL for queue 0 with its eventfd, no reply wanted.
void send_vring_fd(int sock, std::string_view name, int fd) {
  const vhs::RequestInfo* info = vhs::find_request_by_name(name);
  if (info == nullptr) die("registry has no " + std::string(name));
  uint8_t msg[vhs::kHeaderSize + 8] = {};
  const uint32_t request = info->number, flags = vhs::kProtocolVersion, size = 8;
  std::memcpy(msg, &request, 4);
  std::memcpy(msg + 4, &flags, 4);
  std::memcpy(msg + 8, &size, 4);
  iovec iov{msg, sizeof msg};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    cmsghdr align;
  } control{};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.buf;
  m.msg_controllen = sizeof control.buf;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (::sendmsg(sock, &m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof msg))
    die_errno("send " + std::string(name));
}

// Receives one 20-byte SET_VRING_* message and returns the fd it carried (-1 on failure).
int recv_vring_fd(int sock) {
  uint8_t msg[vhs::kHeaderSize + 8];
  iovec iov{msg, sizeof msg};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    cmsghdr align;
  } control{};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control.buf;
  m.msg_controllen = sizeof control.buf;
  if (::recvmsg(sock, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC) != static_cast<ssize_t>(sizeof msg))
    return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

// Sums the counts of relayed kicks in the capture: proof that every notification was recorded.
uint64_t recorded_kicks(const std::string& capture, std::string& warning) {
  std::string error;
  auto reader = vhs::CaptureReader::open(capture, error);
  if (!reader) {
    warning = error;
    return 0;
  }
  vhs::Record rec;
  uint64_t n = 0;
  while (reader->next(rec)) {
    if (rec.kind != vhs::RecordKind::Notify) continue;
    auto note = vhs::decode_notify(rec.bytes);
    if (note && note->source == vhs::NotifySource::Kick && note->event == vhs::NotifyEvent::Relayed)
      n += note->count;
  }
  warning = reader->warning();
  return n;
}

struct VhostscopeLeg {
  LegResult result;
  uint64_t recorded = 0;
  std::string warning;
};

VhostscopeLeg leg_vhostscope(const Options& opt, const fs::path& dir, int round) {
  const std::string tag = std::to_string(round);
  const std::string backend_sock = (dir / ("be-" + tag + ".sock")).string();
  const std::string frontend_sock = (dir / ("fe-" + tag + ".sock")).string();
  const std::string capture = (dir / ("notify-" + tag + ".pcap")).string();
  const std::string log = (dir / ("vhostscope-" + tag + ".log")).string();
  const int listener = listen_unix(backend_sock);
  Child backend = fork_child([&] {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, kTimeoutMs) <= 0) ::_exit(7);
    const int sock = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (sock < 0) ::_exit(7);
    const int kick = recv_vring_fd(sock), call = recv_vring_fd(sock);
    if (kick < 0 || call < 0) ::_exit(8);
    serve_backend(kick, call);
  });
  ::close(listener);
  Child proxy = spawn_program(opt.vhostscope,
                              {"record", "--frontend-listen", frontend_sock, "--backend-connect",
                               backend_sock, "-w", capture, "--interpose-notify", "-q"},
                              log);
  const int sock = connect_unix_retry(frontend_sock, std::chrono::milliseconds(kTimeoutMs),
                                      [&] { return !proxy.exited(); });
  if (sock < 0) die("vhostscope record did not accept on " + frontend_sock + " (log: " + log + ")");
  const int kick = make_eventfd(), call = make_eventfd();
  send_vring_fd(sock, "SET_VRING_KICK", kick);
  send_vring_fd(sock, "SET_VRING_CALL", call);
  VhostscopeLeg leg;
  leg.result = run_frontend(kick, call, opt);
  ::close(sock);
  proxy.stop(std::chrono::seconds(5));  // SIGTERM: it flushes and closes the capture
  backend.stop(std::chrono::milliseconds(0));
  ::close(kick), ::close(call);
  leg.recorded = recorded_kicks(capture, leg.warning);
  return leg;
}

// ---------------------------------------------------------------- report

struct Summary {
  double rate = 0;  // median over rounds, round trips per second
  uint32_t p50 = 0, p99 = 0;
};

Summary summarize(const std::vector<LegResult>& rounds, uint64_t iterations) {
  std::vector<double> rates;
  std::vector<uint32_t> all;
  for (const auto& r : rounds) {
    rates.push_back(static_cast<double>(iterations) / r.seconds);
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
  }
  std::sort(rates.begin(), rates.end());
  std::sort(all.begin(), all.end());
  Summary s;
  s.rate = rates[rates.size() / 2];
  s.p50 = all[all.size() / 2];
  s.p99 = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return s;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--iterations")
      o.iterations = std::stoull(value());
    else if (a == "--rounds")
      o.rounds = std::max(1, std::stoi(value()));
    else if (a == "--vhostscope")
      o.vhostscope = value();
    else if (a == "--no-vhostscope")
      o.vhostscope_leg = false;
    else if (a == "--keep")
      o.keep = true;
    else if (a == "--realtime")
      o.realtime = true;
    else
      die("unknown argument " + a +
          " (--iterations N, --rounds R, --vhostscope PATH, --no-vhostscope, --realtime, --keep)");
  }
  if (o.iterations == 0) die("--iterations must be positive");
  if (o.vhostscope.empty())
    o.vhostscope =
        (fs::canonical("/proc/self/exe").parent_path().parent_path() / "vhostscope").string();
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  pin_to_cpu0();
  if (opt.realtime) go_realtime();
  ::signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/notify-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) die_errno("mkdtemp");
  const fs::path dir = tmpl;

  std::vector<LegResult> direct, ideal, vhostscope;
  uint64_t recorded = 0;
  for (int round = 0; round < opt.rounds; ++round) {
    direct.push_back(leg_direct(opt));
    ideal.push_back(leg_ideal(opt));
    if (opt.vhostscope_leg) {
      VhostscopeLeg leg = leg_vhostscope(opt, dir, round);
      if (!leg.warning.empty())
        std::fprintf(stderr, "notify_bench: capture of round %d: %s\n", round, leg.warning.c_str());
      if (leg.recorded != opt.warmup + opt.iterations)
        die("round " + std::to_string(round) + ": the capture records " +
            std::to_string(leg.recorded) + " kicks, expected " +
            std::to_string(opt.warmup + opt.iterations));
      recorded += leg.recorded;
      vhostscope.push_back(std::move(leg.result));
    }
  }
  if (!opt.keep) fs::remove_all(dir);

  std::printf(
      "notification round trips (kick eventfd -> back-end -> call eventfd), %llu per round, %d "
      "rounds, CPU 0, %s\n",
      static_cast<unsigned long long>(opt.iterations), opt.rounds,
      opt.realtime ? "SCHED_FIFO" : "SCHED_OTHER");
  std::printf("%-34s %12s %9s %9s %8s\n", "leg", "round trips/s", "p50 us", "p99 us", "ratio");
  const Summary d = summarize(direct, opt.iterations);
  auto line = [&](const char* name, const Summary& s) {
    std::printf("%-34s %12.0f %9.2f %9.2f %8.3f\n", name, s.rate, s.p50 / 1000.0, s.p99 / 1000.0,
                s.rate / d.rate);
  };
  line("direct eventfds", d);
  const Summary i = summarize(ideal, opt.iterations);
  line("ideal interposing relay", i);
  if (opt.vhostscope_leg) {
    const Summary v = summarize(vhostscope, opt.iterations);
    line("vhostscope --interpose-notify", v);
    std::printf(
        "vhostscope / ideal: %.3f; %llu kicks recorded in the captures; target >= 0.38 of direct\n",
        v.rate / i.rate, static_cast<unsigned long long>(recorded));
  }
  return 0;
}
