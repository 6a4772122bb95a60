// Soak: does `vhostscope record` keep its fds and memory flat over a long life? Two phases
// against one recorder, pinned to CPU 0: 1000 sequential sessions (each a connect, a
// GET_FEATURES round trip, SET_OWNER and a close), then one session of 1M messages (SET_FEATURES
// without a reply, with a GET_FEATURES round trip every 1000 to keep the peers in step). Prints the
// recorder's open fds and resident memory at the start and end of each phase and checks the
// capture holds every message. Target: both flat (fds equal; RSS within the write buffer's size).
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "bench/bench_process.hpp"
#include "captures/format/capture_file.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace {

namespace fs = std::filesystem;
using namespace vhs::bench;

constexpr int kIoTimeoutSeconds = 10;
constexpr int kSessions = 1000;
constexpr uint64_t kMessages = 1'000'000;
constexpr uint64_t kRoundTripEvery = 1000;

uint32_t number(vhs::FrontendRequest r) { return vhs::request_info(r).number; }

std::array<uint8_t, vhs::kHeaderSize + 8> message(uint32_t request, uint32_t flags, uint32_t size,
                                                  uint64_t value) {
  std::array<uint8_t, vhs::kHeaderSize + 8> m{};
  std::memcpy(m.data(), &request, 4);
  std::memcpy(m.data() + 4, &flags, 4);
  std::memcpy(m.data() + 8, &size, 4);
  std::memcpy(m.data() + 12, &value, 8);
  return m;
}

// The back-end: accepts sessions one after another and answers GET_FEATURES; everything else is
// read and dropped.
void backend(int listener) {
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) ::_exit(0);  // no more sessions within the timeout
    set_io_timeouts(fd, kIoTimeoutSeconds);
    std::array<uint8_t, 4096 + vhs::kHeaderSize> in{};
    while (read_exact(fd, in.data(), vhs::kHeaderSize)) {
      uint32_t request = 0, size = 0;
      std::memcpy(&request, in.data(), 4);
      std::memcpy(&size, in.data() + 8, 4);
      if (size > 4096 || !read_exact(fd, in.data() + vhs::kHeaderSize, size)) break;
      if (request == number(vhs::FrontendRequest::GET_FEATURES)) {
        const auto reply =
            message(request, vhs::kProtocolVersion | vhs::kFlagReply, 8, uint64_t{1} << 32);
        if (!write_all(fd, reply.data(), reply.size())) break;
      }
    }
    ::close(fd);
  }
}

bool round_trip(int fd) {
  const auto get = message(number(vhs::FrontendRequest::GET_FEATURES), vhs::kProtocolVersion, 0, 0);
  std::array<uint8_t, vhs::kHeaderSize + 8> reply{};
  return write_all(fd, get.data(), vhs::kHeaderSize) && read_exact(fd, reply.data(), reply.size());
}

int count_fds(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

long rss_kib(pid_t pid) {
  const std::string status = read_text("/proc/" + std::to_string(pid) + "/status");
  const size_t at = status.find("VmRSS:");
  return at == std::string::npos ? -1 : std::strtol(status.c_str() + at + 6, nullptr, 10);
}

struct Sample {
  int fds;
  long rss;
};

Sample sample(pid_t pid) { return {count_fds(pid), rss_kib(pid)}; }

void print(const char* phase, Sample start, Sample end) {
  std::printf("%-28s fds %3d -> %3d   RSS %6ld KiB -> %6ld KiB (%+ld KiB)\n", phase, start.fds,
              end.fds, start.rss, end.rss, end.rss - start.rss);
}

}  // namespace

int main(int argc, char** argv) {
  std::string vhostscope = (fs::path(argv[0]).parent_path() / ".." / "vhostscope").string();
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--vhostscope" && i + 1 < argc) {
      vhostscope = argv[++i];
    } else {
      std::fprintf(stderr, "usage: soak_bench [--vhostscope PATH]\n");
      return 2;
    }
  }
  pin_to_cpu0();
  const fs::path dir = fs::temp_directory_path() / ("vhs-soak-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string fe = (dir / "fe.sock").string(), be = (dir / "be.sock").string();
  const std::string capture = (dir / "soak.pcap").string(), log = (dir / "record.log").string();

  const int listener = listen_unix(be);
  set_io_timeouts(listener, kIoTimeoutSeconds);
  Child back = fork_child([listener] { backend(listener); });
  ::close(listener);
  Child proxy = spawn_program(
      vhostscope, {"record", "--frontend-listen", fe, "--backend-connect", be, "-w", capture, "-q"},
      log);
  const auto connect = [&] {
    const int fd = connect_unix_retry(fe, std::chrono::seconds(kIoTimeoutSeconds),
                                      [&] { return !proxy.exited(); });
    if (fd < 0) die("vhostscope record did not accept; its log:\n" + read_text(log));
    set_io_timeouts(fd, kIoTimeoutSeconds);
    return fd;
  };
  const auto set_owner =
      message(number(vhs::FrontendRequest::SET_OWNER), vhs::kProtocolVersion, 0, 0);

  // Phase 1: sessions. The first one warms the recorder up; its state after it is the baseline.
  uint64_t expected_messages = 0;
  Sample start{};
  const auto t0 = Clock::now();
  for (int s = 0; s <= kSessions; ++s) {
    const int fd = connect();
    if (!round_trip(fd) || !write_all(fd, set_owner.data(), vhs::kHeaderSize))
      die("session " + std::to_string(s) + " failed; log:\n" + read_text(log));
    expected_messages += 3;
    ::close(fd);
    // The recorder closes its side when it sees ours close: give it time before measuring.
    if (s == 0) {
      ::usleep(200'000);
      start = sample(proxy.pid());
    }
  }
  ::usleep(200'000);
  const Sample after_sessions = sample(proxy.pid());
  const double sessions_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("soak_bench: vhostscope record, pinned to CPU 0, load %s\n", load_average().c_str());
  print("1000 sequential sessions", start, after_sessions);
  std::printf("%-28s %.2f s, %.0f sessions/s\n", "", sessions_s, kSessions / sessions_s);

  // Phase 2: one long session.
  const int fd = connect();
  if (!round_trip(fd)) die("long session failed to start");
  expected_messages += 2;
  const Sample long_start = sample(proxy.pid());
  const auto t1 = Clock::now();
  const auto set_features = message(number(vhs::FrontendRequest::SET_FEATURES),
                                    vhs::kProtocolVersion, 8, uint64_t{1} << 32);
  for (uint64_t i = 1; i <= kMessages; ++i) {
    if (!write_all(fd, set_features.data(), set_features.size()))
      die("send failed at " + std::to_string(i));
    ++expected_messages;
    if (i % kRoundTripEvery == 0) {
      if (!round_trip(fd)) die("round trip failed at " + std::to_string(i));
      expected_messages += 2;
    }
  }
  const double long_s = std::chrono::duration<double>(Clock::now() - t1).count();
  const Sample long_end = sample(proxy.pid());
  print("1 session of 1M messages", long_start, long_end);
  std::printf("%-28s %.2f s, %.0f messages/s\n", "", long_s, kMessages / long_s);
  ::close(fd);
  proxy.stop(std::chrono::milliseconds(5000));
  back.stop();

  // The capture holds every message.
  std::string error;
  auto reader = vhs::CaptureReader::open(capture, error);
  if (!reader) die(error);
  vhs::Record r;
  uint64_t messages = 0;
  while (reader->next(r))
    if (r.kind == vhs::RecordKind::Message) ++messages;
  std::printf("capture: %llu of %llu messages recorded\n",
              static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(expected_messages));
  const bool fds_flat = after_sessions.fds == start.fds && long_end.fds == long_start.fds;
  // The capture's stdio buffer (256 KiB) and allocator slack are allowed; growth per session or
  // per message is not.
  const bool rss_flat =
      after_sessions.rss - start.rss < 1024 && long_end.rss - long_start.rss < 1024;
  std::printf("target fds flat: %s; RSS flat (< 1 MiB growth): %s\n", fds_flat ? "met" : "NOT met",
              rss_flat ? "met" : "NOT met");
  fs::remove_all(dir);
  return messages == expected_messages ? 0 : 1;
}
