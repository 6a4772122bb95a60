// A scripted vhost-user front-end for tests: runs a list of steps on its own thread (send a
// request with fresh fds and wait for the reply the registry says comes; send raw bytes; close;
// expect the proxy to close), answering back-end channel requests whenever it waits, as QEMU does.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/peer_transcript.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {

struct FrontendStep {
  enum class Kind {
    Send,                  // bytes + fds; then wait for the reply if one is due (unless no_wait)
    Raw,                   // bytes as they are, no fds, no waiting
    Close,                 // close the socket(s): the session ends
    ExpectClosed,          // wait until the other side closes the connection
    AwaitBackendRequests,  // serve the back-end channel until `count` requests arrived in total
    ExpectBackendChannelClosed,  // serve the back-end channel until it reaches EOF
  };
  Kind kind = Kind::Send;
  Bytes bytes;
  std::vector<FdSpec> fds;
  bool no_wait = false;
  size_t count = 0;

  static FrontendStep send(Bytes bytes, std::vector<FdSpec> fds = {}) {
    return {Kind::Send, std::move(bytes), std::move(fds)};
  }
  static FrontendStep send_no_wait(Bytes bytes) {
    FrontendStep s{Kind::Send, std::move(bytes), {}};
    s.no_wait = true;
    return s;
  }
  static FrontendStep raw(Bytes bytes) { return {Kind::Raw, std::move(bytes), {}}; }
  static FrontendStep close() { return {Kind::Close, {}, {}}; }
  static FrontendStep expect_closed() { return {Kind::ExpectClosed, {}, {}}; }
  static FrontendStep expect_backend_channel_closed() {
    return {Kind::ExpectBackendChannelClosed, {}, {}};
  }
  static FrontendStep await_backend_requests(size_t total) {
    FrontendStep s{Kind::AwaitBackendRequests, {}, {}};
    s.count = total;
    return s;
  }
};

struct FrontendOptions {
  std::string path;
  bool listen = false;   // true: the proxy connects to us (record --frontend-connect)
  Millis timeout{5000};  // every single wait
  std::map<std::string, uint64_t> reply_values;  // for back-end channel replies
};

class ScriptedFrontend {
 public:
  explicit ScriptedFrontend(FrontendOptions options);  // listen mode: listens right away
  ~ScriptedFrontend();
  ScriptedFrontend(const ScriptedFrontend&) = delete;
  ScriptedFrontend& operator=(const ScriptedFrontend&) = delete;

  void start(std::vector<FrontendStep> script);
  void join();  // returns once the script ended (every wait inside is bounded)

  // Valid after join().
  const std::vector<Exchange>& transcript() const { return transcript_; }
  const std::vector<std::string>& errors() const { return errors_; }
  bool closed_by_peer() const { return closed_by_peer_; }  // the proxy closed the main socket on us
  size_t steps_done() const { return steps_done_; }

 private:
  void run(std::vector<FrontendStep> script);
  bool connect_main();
  bool do_send(const FrontendStep& step);
  bool wait_reply(const Header& request);
  bool serve_backend_channel();  // one message; false when the channel went away
  void error(std::string text);

  FrontendOptions opt_;
  UniqueFd listener_;
  UniqueFd main_;
  UniqueFd chan_;
  size_t backend_requests_ = 0;
  std::thread thread_;
  std::vector<Exchange> transcript_;
  std::vector<std::string> errors_;
  bool closed_by_peer_ = false;
  size_t steps_done_ = 0;
};

}  // namespace vhs::test
