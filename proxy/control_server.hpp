// The control socket of `vhostscope record --control SOCK`: a 0600 AF_UNIX socket served on its
// own thread, one request line per connection, answered by a handler (the relay's
// debug_command) and then closed. Its own thread, so a slow or silent client never stalls the
// relay's event loop; the handler does the thread hand-off (Relay::debug_command, which queues
// the line to the relay thread through the relay's command queue, command_queue.hpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "proxy/unique_fd.hpp"
#include "proxy/unix_socket.hpp"

namespace vhs {

class ControlServer {
 public:
  using Handler = std::function<std::string(std::string_view line)>;

  // Creates the socket (ListenSocket: 0600 from birth) and starts serving. nullptr and `error`
  // set on failure.
  static std::unique_ptr<ControlServer> start(const std::string& path, Handler handler,
                                              std::string& error);
  ~ControlServer();  // stops the thread and unlinks the socket
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  ControlServer() = default;
  void serve();
  void answer(UniqueFd client);

  ListenSocket listen_;
  UniqueFd stop_;
  Handler handler_;
  std::thread thread_;
};

// Client side (`vhostscope ctl`): sends one line, returns the whole answer. false and `error`
// set when the socket cannot be reached or does not answer within `timeout_ms`.
bool control_request(const std::string& path, std::string_view line, std::string& answer,
                     std::string& error, int timeout_ms = 5000);

}  // namespace vhs
