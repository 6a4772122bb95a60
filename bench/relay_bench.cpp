// Relay overhead: request/reply round trips directly over a socketpair, through an ideal minimal
// epoll relay, and through `vhostscope record` (recording on), all pinned to one CPU. Prints
// round trips/s, p50/p99 latency and the ratios against the direct leg measured in the same run.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_process.hpp"
#include "captures/format/capture_file.hpp"
#include "decoders/vhost_user/features.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace {

namespace fs = std::filesystem;
using namespace vhs::bench;
using vhs::kHeaderSize;

constexpr size_t kMsgSize = kHeaderSize + 8;  // 20 bytes each way
using Msg = std::array<uint8_t, kMsgSize>;

// Every blocking read in the benchmark gives up after this, so a broken relay cannot hang it.
constexpr int kIoTimeoutSeconds = 10;

struct Options {
  uint64_t iterations = 50000;
  uint64_t warmup = 2000;
  int rounds = 5;
  bool vhostscope_leg = true;
  bool keep = false;
  bool realtime = false;   // SCHED_FIFO: keeps other load on the CPU out of the measurement
  std::string vhostscope;  // path of the binary; default: next to build/bench/
};

Msg make_message(uint32_t request, uint32_t flags, uint64_t value) {
  Msg m{};
  const uint32_t size = 8;
  std::memcpy(m.data() + 0, &request, 4);
  std::memcpy(m.data() + 4, &flags, 4);
  std::memcpy(m.data() + 8, &size, 4);
  std::memcpy(m.data() + 12, &value, 8);
  return m;
}

// SET_FEATURES with NEED_REPLY (what QEMU sends once REPLY_ACK is negotiated) and its ack: the
// commonest synchronous 20-byte exchange of a device start.
struct Exchange {
  Msg request;
  Msg reply;
};

Exchange make_exchange() {
  const vhs::RequestInfo* info = vhs::find_request_by_name("SET_FEATURES");
  if (info == nullptr) die("registry has no SET_FEATURES");
  const uint64_t features = (uint64_t{1} << vhs::kFeatureVersion1) |
                            (uint64_t{1} << vhs::kFeatureProtocolFeatures) |
                            (uint64_t{1} << vhs::kFeatureEventIdx);
  return {make_message(info->number, vhs::kProtocolVersion | vhs::kFlagNeedReply, features),
          make_message(info->number, vhs::kProtocolVersion | vhs::kFlagReply, 0)};
}

// The back-end peer: answers every request with the ack until EOF.
void serve_backend(int fd, const Exchange& ex) {
  set_io_timeouts(fd, kIoTimeoutSeconds);
  Msg in{};
  while (read_exact(fd, in.data(), in.size())) {
    if (in != ex.request) ::_exit(3);
    if (!write_all(fd, ex.reply.data(), ex.reply.size())) ::_exit(4);
  }
}

// The ideal relay: epoll on both sides, read what is there, write it to the other side. No
// framing, no fds, no recording: the least any relay has to do.
void ideal_relay(int a, int b) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) ::_exit(5);
  for (int fd : {a, b}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) ::_exit(5);
  }
  std::array<uint8_t, 4096> buf{};
  for (;;) {
    epoll_event evs[2];
    const int n = ::epoll_wait(ep, evs, 2, kIoTimeoutSeconds * 1000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(6);
    for (int i = 0; i < n; ++i) {
      const int from = evs[i].data.fd;
      const int to = from == a ? b : a;
      const ssize_t r = ::read(from, buf.data(), buf.size());
      if (r <= 0) return;  // one side closed: done
      if (!write_all(to, buf.data(), static_cast<size_t>(r))) return;
    }
  }
}

struct LegResult {
  double seconds = 0;
  uint64_t round_trips = 0;
  std::vector<uint32_t> latencies_ns;
  uint64_t relay_switches = 0;  // context switches of the relay process (all threads)
  int relay_threads = 0;
  uint64_t relay_cpu_ns = 0;  // CPU time the relay process used during the timed round trips
};

// CPU time (ns) used so far by every thread of `pid`, from the scheduler's own accounting
// (/proc/PID/task/TID/schedstat, first field). Unlike wall time it does not grow when other load
// on the CPU preempts the relay, so the relay's cost per message can be compared on a busy machine.
uint64_t cpu_time_ns(pid_t pid) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    if (FILE* f = std::fopen((task.path() / "schedstat").c_str(), "r")) {
      unsigned long long ns = 0;
      if (std::fscanf(f, "%llu", &ns) == 1) total += ns;
      std::fclose(f);
    }
  }
  return total;
}

// Context switches (voluntary + involuntary) summed over every thread of `pid`: says how often
// a relay blocks per message, the main cost of a relay on one CPU.
void count_switches(pid_t pid, LegResult& r) {
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    if (FILE* f = std::fopen((task.path() / "status").c_str(), "r")) {
      char line[256];
      while (std::fgets(line, sizeof line, f) != nullptr) {
        unsigned long long n = 0;
        if (std::sscanf(line, "voluntary_ctxt_switches: %llu", &n) == 1 ||
            std::sscanf(line, "nonvoluntary_ctxt_switches: %llu", &n) == 1)
          r.relay_switches += n;
      }
      std::fclose(f);
      ++r.relay_threads;
    }
  }
}

// The front-end: `warmup` unmeasured round trips, then `iterations` timed ones. `relay` (0: none)
// is the relay process whose CPU time over the timed round trips is measured.
LegResult run_frontend(int fd, const Exchange& ex, const Options& opt, pid_t relay = 0) {
  set_io_timeouts(fd, kIoTimeoutSeconds);
  LegResult res;
  res.latencies_ns.reserve(opt.iterations);
  Msg in{};
  auto round_trip = [&] {
    if (!write_all(fd, ex.request.data(), ex.request.size())) die_errno("front-end write");
    if (!read_exact(fd, in.data(), in.size())) die_errno("front-end read (no reply)");
    if (in != ex.reply) die("front-end got a reply that is not the expected ack");
  };
  for (uint64_t i = 0; i < opt.warmup; ++i) round_trip();
  const uint64_t cpu_start = relay != 0 ? cpu_time_ns(relay) : 0;
  const auto start = Clock::now();
  for (uint64_t i = 0; i < opt.iterations; ++i) {
    const auto t0 = Clock::now();
    round_trip();
    const auto t1 = Clock::now();
    res.latencies_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count(), UINT32_MAX)));
  }
  res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (relay != 0) res.relay_cpu_ns = cpu_time_ns(relay) - cpu_start;
  res.round_trips = opt.iterations;
  return res;
}

std::array<int, 2> make_socketpair() {
  std::array<int, 2> sp{};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp.data()) != 0) die_errno("socketpair");
  return sp;
}

LegResult leg_direct(const Exchange& ex, const Options& opt) {
  auto sp = make_socketpair();
  Child backend = fork_child([&] {
    ::close(sp[0]);
    serve_backend(sp[1], ex);
  });
  ::close(sp[1]);
  LegResult r = run_frontend(sp[0], ex, opt);
  ::close(sp[0]);
  backend.stop(std::chrono::seconds(2));
  return r;
}

LegResult leg_ideal(const Exchange& ex, const Options& opt) {
  auto fe = make_socketpair();  // front-end <-> relay
  auto be = make_socketpair();  // relay <-> back-end
  Child backend = fork_child([&] {
    ::close(fe[0]), ::close(fe[1]), ::close(be[0]);
    serve_backend(be[1], ex);
  });
  ::close(be[1]);
  Child relay = fork_child([&] {
    ::close(fe[0]);
    ideal_relay(fe[1], be[0]);
  });
  ::close(fe[1]), ::close(be[0]);
  LegResult r = run_frontend(fe[0], ex, opt, relay.pid());
  count_switches(relay.pid(), r);
  ::close(fe[0]);
  relay.stop(std::chrono::seconds(2));
  backend.stop(std::chrono::seconds(2));
  return r;
}

// Counts message records in the capture: proof that recording was on for the whole leg.
uint64_t count_messages(const std::string& capture, std::string& warning) {
  std::string error;
  auto reader = vhs::CaptureReader::open(capture, error);
  if (!reader) {
    warning = error;
    return 0;
  }
  vhs::Record rec;
  uint64_t n = 0;
  while (reader->next(rec)) n += rec.kind == vhs::RecordKind::Message ? 1 : 0;
  warning = reader->warning();
  return n;
}

struct VhostscopeLeg {
  LegResult result;
  uint64_t recorded = 0;
  std::string capture_warning;
};

VhostscopeLeg leg_vhostscope(const Exchange& ex, const Options& opt, const fs::path& dir,
                             int round) {
  const std::string backend_sock = (dir / ("backend-" + std::to_string(round) + ".sock")).string();
  const std::string frontend_sock =
      (dir / ("frontend-" + std::to_string(round) + ".sock")).string();
  const std::string capture = (dir / ("relay-" + std::to_string(round) + ".pcap")).string();
  const std::string log = (dir / ("vhostscope-" + std::to_string(round) + ".log")).string();

  const int listener = listen_unix(backend_sock);
  Child backend = fork_child([&] {
    set_io_timeouts(
        listener,
        kIoTimeoutSeconds);  // accept() honours SO_RCVTIMEO: no endless wait for the proxy
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) ::_exit(7);
    ::close(listener);
    serve_backend(fd, ex);
  });
  ::close(listener);

  Child proxy = spawn_program(opt.vhostscope,
                              {"record", "--frontend-listen", frontend_sock, "--backend-connect",
                               backend_sock, "-w", capture},
                              log);

  const int fd = connect_unix_retry(frontend_sock, std::chrono::seconds(kIoTimeoutSeconds),
                                    [&] { return !proxy.exited(); });
  if (fd < 0) {
    proxy.stop();
    die("vhostscope record did not accept on " + frontend_sock + "; its output:\n" +
        read_text(log));
  }
  VhostscopeLeg leg;
  leg.result = run_frontend(fd, ex, opt, proxy.pid());
  count_switches(proxy.pid(), leg.result);
  ::close(fd);
  // SIGTERM lets it flush and close the capture (and the back-end sees EOF).
  proxy.stop(std::chrono::seconds(5));
  backend.stop(std::chrono::seconds(2));
  leg.recorded = count_messages(capture, leg.capture_warning);
  return leg;
}

struct Summary {
  double rate = 0;  // median over rounds, round trips per second
  uint32_t p50 = 0, p99 = 0;
  double switches_per_rt =
      0;  // relay legs: relay context switches per round trip (warm-up included)
  int relay_threads = 0;
  double cpu_us_per_rt = 0;  // relay legs: median over rounds of relay CPU time per round trip
};

Summary summarize(std::vector<LegResult>& rounds, uint64_t warmup) {
  std::vector<double> rates, cpu;
  std::vector<uint32_t> all;
  uint64_t switches = 0, trips = 0;
  Summary s;
  for (auto& r : rounds) {
    rates.push_back(static_cast<double>(r.round_trips) / r.seconds);
    cpu.push_back(static_cast<double>(r.relay_cpu_ns) / 1000.0 /
                  static_cast<double>(r.round_trips));
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    switches += r.relay_switches;
    trips += r.round_trips + warmup;
    s.relay_threads = std::max(s.relay_threads, r.relay_threads);
  }
  s.switches_per_rt = trips > 0 ? static_cast<double>(switches) / static_cast<double>(trips) : 0;
  std::sort(rates.begin(), rates.end());
  std::sort(all.begin(), all.end());
  s.rate = rates[rates.size() / 2];
  std::sort(cpu.begin(), cpu.end());
  s.cpu_us_per_rt = cpu[cpu.size() / 2];
  if (!all.empty()) {
    s.p50 = all[all.size() / 2];
    s.p99 = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return s;
}

std::string default_vhostscope_path() {
  // build/bench/relay_bench -> build/vhostscope
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "vhostscope";
  return (self.parent_path().parent_path() / "vhostscope").string();
}

void usage() {
  std::printf(
      "usage: relay_bench [--iterations N] [--warmup N] [--rounds R] [--vhostscope PATH]\n"
      "                   [--no-vhostscope] [--realtime] [--keep]\n"
      "Round trips of a 20-byte SET_FEATURES+NEED_REPLY request and its 20-byte ack: direct,\n"
      "through an ideal epoll relay, and through `vhostscope record` (recording on), all on CPU "
      "0.\n"
      "Legs alternate for R rounds; rates are the median round, latencies pool all rounds.\n"
      "--realtime runs every process SCHED_FIFO (priority 1) so other load on CPU 0 cannot\n"
      "preempt the measurement (needs CAP_SYS_NICE).\n");
}

Options parse_options(int argc, char** argv) {
  Options opt;
  opt.vhostscope = default_vhostscope_path();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> uint64_t {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n == 0)
        die(a + ": expected a positive number, got '" + v + "'");
      return n;
    };
    if (a == "--iterations")
      opt.iterations = number();
    else if (a == "--warmup")
      opt.warmup = number();
    else if (a == "--rounds")
      opt.rounds = static_cast<int>(std::min<uint64_t>(number(), 100));
    else if (a == "--vhostscope")
      opt.vhostscope = value();
    else if (a == "--no-vhostscope")
      opt.vhostscope_leg = false;
    else if (a == "--keep")
      opt.keep = true;
    else if (a == "--realtime")
      opt.realtime = true;
    else if (a == "-h" || a == "--help") {
      usage();
      std::exit(0);
    } else
      die("unknown option '" + a + "' (see --help)");
  }
  return opt;
}

void print_row(const char* name, const Summary& s, const Summary& direct) {
  std::printf("%-20s %12.0f %12.0f %9.1f %9.1f %9.3f", name, s.rate, 2 * s.rate, s.p50 / 1000.0,
              s.p99 / 1000.0, s.rate / direct.rate);
  if (s.relay_threads > 0)
    std::printf("   %6.2f   %.2f (%d thread%s)", s.cpu_us_per_rt, s.switches_per_rt,
                s.relay_threads, s.relay_threads == 1 ? "" : "s");
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);
  if (opt.vhostscope_leg && ::access(opt.vhostscope.c_str(), X_OK) != 0) {
    die("cannot run '" + opt.vhostscope + "': " + std::strerror(errno) +
        " (build it, pass --vhostscope PATH, or --no-vhostscope)");
  }
  ::signal(SIGPIPE, SIG_IGN);
  // Every process and thread below inherits this: a cross-CPU wake-up costs 15-30 us on these
  // VMs and would dominate a ~10 us round trip.
  pin_to_cpu0();
  if (opt.realtime) go_realtime();
  const std::string load_before = load_average();
  const Exchange ex = make_exchange();

  std::string tmpl = (fs::temp_directory_path() / "vhs-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) die_errno("mkdtemp");
  const fs::path dir = tmpl;

  std::vector<LegResult> direct, ideal, proxied;
  uint64_t recorded = 0;
  std::string capture_warning;
  for (int round = 0; round < opt.rounds; ++round) {
    direct.push_back(leg_direct(ex, opt));
    ideal.push_back(leg_ideal(ex, opt));
    if (opt.vhostscope_leg) {
      VhostscopeLeg leg = leg_vhostscope(ex, opt, dir, round);
      proxied.push_back(std::move(leg.result));
      recorded += leg.recorded;
      if (capture_warning.empty()) capture_warning = leg.capture_warning;
    }
  }

  const Summary d = summarize(direct, opt.warmup);
  const Summary i = summarize(ideal, opt.warmup);
  std::printf(
      "relay_bench: %llu round trips x %d rounds per leg (+%llu warm-up), 20-byte "
      "SET_FEATURES+NEED_REPLY / 20-byte ack, all on CPU 0, %s\n",
      static_cast<unsigned long long>(opt.iterations), opt.rounds,
      static_cast<unsigned long long>(opt.warmup), opt.realtime ? "SCHED_FIFO" : "SCHED_OTHER");
  std::printf("load average before: %s, after: %s\n", load_before.c_str(), load_average().c_str());
  std::printf("%-20s %12s %12s %9s %9s %9s   %s   %s\n", "leg", "round trip/s", "msgs/s", "p50 us",
              "p99 us", "x direct", "relay CPU us/rt", "relay switches/rt");
  print_row("direct socketpair", d, d);
  print_row("ideal epoll relay", i, d);
  if (opt.vhostscope_leg) {
    const Summary v = summarize(proxied, opt.warmup);
    print_row("vhostscope record", v, d);
    const uint64_t expected = 2 * (opt.iterations + opt.warmup) * static_cast<uint64_t>(opt.rounds);
    std::printf("vhostscope / ideal relay: %.3f (rate), %.3f (relay CPU time per round trip)\n",
                v.rate / i.rate, v.cpu_us_per_rt / i.cpu_us_per_rt);
    // Rounds alternate legs, so a round's two legs saw similar load: the median of the per-round
    // ratios is steadier than the ratio of the medians on a busy machine.
    std::vector<double> per_round;
    for (size_t k = 0; k < proxied.size() && k < ideal.size(); ++k)
      per_round.push_back((static_cast<double>(proxied[k].round_trips) / proxied[k].seconds) /
                          (static_cast<double>(ideal[k].round_trips) / ideal[k].seconds));
    std::sort(per_round.begin(), per_round.end());
    std::printf("vhostscope / ideal relay per round: min %.3f, median %.3f, max %.3f\n",
                per_round.front(), per_round[per_round.size() / 2], per_round.back());
    std::printf("recorded %llu of %llu messages%s%s\n", static_cast<unsigned long long>(recorded),
                static_cast<unsigned long long>(expected),
                capture_warning.empty() ? "" : "; capture: ", capture_warning.c_str());
    // The target, in both of its forms: they agree only where the ideal relay itself
    // keeps ~0.47 of direct (process switches are dearer on some VMs, lowering every relay).
    std::printf("target vhostscope >= 0.45 x direct: %s (%.3f)\n",
                v.rate / d.rate >= 0.45 ? "met" : "NOT met", v.rate / d.rate);
    std::printf("target vhostscope within 5%% of the ideal relay: %s (%.3f)\n",
                v.rate / i.rate >= 0.95 ? "met" : "NOT met", v.rate / i.rate);
  }
  if (opt.keep) {
    std::printf("kept %s\n", dir.c_str());
  } else {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}
