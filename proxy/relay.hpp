// The vhost-user relay as a library: accepts/connects a front-end and a back-end, relays every
// message byte-exact with its fds on one epoll thread, interposes on the back-end channel, and
// delivers a Record for everything it sees to the attached sinks. The CLI `record` command and
// the GUI (on its own thread) both drive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "captures/format/record.hpp"
#include "decoders/vhost_user/features.hpp"

namespace vhs {

// How the proxy reaches one peer: it listens and the peer connects, or it connects to a peer
// that listens (QEMU `server=on`, DPDK client mode on the back-end side).
enum class EndpointMode : uint8_t { Listen, Connect };

struct RelayEndpoint {
  EndpointMode mode = EndpointMode::Listen;
  std::string path;
};

enum class LogLevel : uint8_t { Info, Error };

struct RelayOptions {
  RelayEndpoint frontend;
  RelayEndpoint backend;
  // Bounded wait for a peer that is not there yet: connecting to the back-end (or waiting for it
  // to connect) after a front-end arrived, and connecting to a listening front-end.
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds retry_interval{50};
  // Records are pushed to the sinks at once; sinks' flush hooks run on the relay thread at most
  // this long after a record was emitted, and once more when run() ends.
  std::chrono::milliseconds flush_interval{15};
  // Live ring sampling (issue 4): guest memory is mapped read-only and every started virtqueue is
  // sampled this often and after each message touching it; a RingState record is emitted when a
  // ring changed. 0 turns ring sampling and the memory mapping off.
  std::chrono::milliseconds sample_interval{50};
  // How ring buffers are described; Unknown: inferred from a GET_CONFIG reply.
  DeviceKind device = DeviceKind::Unknown;
  // Human-readable events ("session 1: front-end sent ... closing session"); may be empty.
  std::function<void(LogLevel, std::string_view)> log;
  // Step debugging (docs/step.md): request names (or "any") that hold a message when it arrives.
  std::vector<std::string> breaks;
  // Fault injection (docs/step.md), never implied by breakpoints: "drop:NAME", "delay:NAME:MS",
  // "replace-reply:NAME:HEX". Everything injected is recorded with kRecordInjected.
  std::vector<std::string> injects;
  // Issue 4: substitute the proxy's eventfds for kick, call and err, relay every notification and
  // record it (Notify records); lets step debugging hold a queue's notifications. Off: nothing
  // about relaying changes, not one extra syscall per message.
  bool interpose_notify = false;
};

// Counters readable from any thread while the relay runs.
struct RelayStats {
  uint64_t sessions = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
};

class Relay {
 public:
  // Validates the options and creates the listening sockets (so a bad path fails here, before
  // anything is recorded). nullptr and `error` set on failure.
  static std::unique_ptr<Relay> create(RelayOptions options, std::string& error);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Sinks receive every record on the relay thread, in order; `flush` (optional) is called on the
  // flush timer when records arrived since the last call, and at the end of run(). Add them
  // before run(). A file sink buffers and flushes here, so a killed recorder loses only the
  // last flush interval.
  void add_sink(RecordSink* sink, std::function<void()> flush = {});

  // Runs the event loop on the calling thread. Returns 0 after stop() or when a front-end the
  // proxy connects to is gone for good after a session; 1 on a fatal error (logged). On return
  // every connection is closed, the sinks have seen the final Disconnect records, `flush` has
  // been called and the listening sockets are unlinked.
  int run();

  // Makes run() return soon. Thread-safe and async-signal-safe (one write() to an eventfd).
  void stop();

  RelayStats stats() const;

  // Step debugging, thread-safe (queued to the relay thread; answers within ~2 s or reports that
  // the relay is not running): one line of the `vhostscope ctl` protocol ("status", "step",
  // "continue", "break NAME", "delete NAME", "inject SPEC"); the answer is "ok", "error: ..." or
  // status lines.
  std::string debug_command(std::string_view line);

 private:
  struct Impl;
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vhs
