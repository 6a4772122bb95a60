// A scripted vhost-user back-end for tests: serves one or more sessions on its own thread,
// answering every front-end request per the registry's reply rules, except where told to leave a
// request unanswered or to act instead (send a back-end channel request, raw bytes, close).
#pragma once

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/peer_transcript.hpp"
#include "support/wire_io.hpp"

namespace vhs::test {

// Something the back-end does when it receives the `occurrence`-th `after` request of a session,
// before its normal answer.
struct BackendAction {
  enum class Kind {
    BackendRequest,  // send `bytes` (+ fds) on the back-end channel; wait for the reply if one is
                     // due
    RawInsteadOfReply,    // send `bytes` raw on the main socket instead of the normal reply
    CloseInsteadOfReply,  // close the connection instead of answering
    CloseBackendChannel,  // close our end of the back-end channel, then answer normally
  };
  std::string after;
  int occurrence = 1;
  Kind kind = Kind::BackendRequest;
  Bytes bytes;
  std::vector<FdSpec> fds;
};

struct BackendOptions {
  std::string path;
  bool listen = true;    // false: we connect to the proxy (record --backend-listen)
  Millis timeout{5000};  // every single wait (accept, next message, reply)
  int sessions = 1;      // connections served one after another
  std::map<std::string, uint64_t> reply_values;  // e.g. {"GET_FEATURES", bits}
  std::set<std::string> unanswered;              // request names never answered
  std::vector<BackendAction> actions;
};

class ScriptedBackend {
 public:
  explicit ScriptedBackend(BackendOptions options);  // listen mode: listens right away
  ~ScriptedBackend();
  ScriptedBackend(const ScriptedBackend&) = delete;
  ScriptedBackend& operator=(const ScriptedBackend&) = delete;

  void start();
  void join();

  // Valid after join().
  const std::vector<Exchange>& transcript() const { return transcript_; }
  const std::vector<std::string>& errors() const { return errors_; }
  int sessions_ended_by_eof() const { return eof_sessions_; }  // sessions the proxy closed on us

 private:
  void run();
  bool serve_session(uint32_t session);
  bool handle_request(uint32_t session, ReceivedMessage& m, std::map<std::string, int>& seen,
                      bool& stop);
  bool send_backend_request(uint32_t session, const BackendAction& a);
  void error(std::string text);

  BackendOptions opt_;
  UniqueFd listener_;
  UniqueFd main_;
  UniqueFd chan_;
  std::thread thread_;
  std::vector<Exchange> transcript_;
  std::vector<std::string> errors_;
  int eof_sessions_ = 0;
};

}  // namespace vhs::test
