// The relay-thread half of the control server: command lines from other threads (the --control
// socket's thread, see control_server.hpp, or the GUI) wait in a queue, an eventfd wakes the
// core's loop, and each line is run on the relay thread by the runner (the core, which hands it to
// a session's debugger: relay_commands.cpp). Owns the
// queue, its lock and the eventfd; sees no core event but its own eventfd.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "proxy/relay_services.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs {

class CommandQueue final : private FdHandler {
 public:
  using Runner = std::function<std::string(std::string_view line)>;

  // nullptr and `error` set when the eventfd cannot be set up.
  static std::unique_ptr<CommandQueue> create(FdWatcher& loop, Runner runner, std::string& error);

  // Any thread: queues the line and waits up to `timeout` for the relay thread's answer; after
  // that, "error: the relay is not running\n".
  std::string submit(std::string_view line, std::chrono::milliseconds timeout);

 private:
  CommandQueue(Runner runner, UniqueFd event)
      : runner_(std::move(runner)), event_(std::move(event)) {}
  void on_ready(uint64_t cookie) override;  // relay thread: runs every queued line

  Runner runner_;
  UniqueFd event_;
  std::mutex mutex_;
  std::deque<std::shared_ptr<std::promise<std::string>>> replies_;
  std::deque<std::string> lines_;
};

}  // namespace vhs
