// The scripted back-end peer (see scripted_backend.hpp).
#include "support/scripted_backend.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "decoders/vhost_user/registry.hpp"
#include "support/reply_rules.hpp"

namespace vhs::test {

namespace {

std::vector<FdIdentity> identities(const std::vector<UniqueFd>& fds) {
  std::vector<FdIdentity> out;
  for (const auto& fd : fds) out.push_back(identify(fd.get()));
  return out;
}

std::vector<UniqueFd> make_fds(const std::vector<FdSpec>& specs) {
  std::vector<UniqueFd> out;
  for (const FdSpec& s : specs)
    out.push_back(s.kind == FdSpec::Kind::Eventfd ? make_eventfd() : make_memfd(s.name, s.size));
  return out;
}

}  // namespace

ScriptedBackend::ScriptedBackend(BackendOptions options) : opt_(std::move(options)) {
  if (opt_.listen) listener_ = listen_on(opt_.path);
}

ScriptedBackend::~ScriptedBackend() {
  join();
  if (listener_) ::unlink(opt_.path.c_str());
}

void ScriptedBackend::start() {
  thread_ = std::thread([this] { run(); });
}

void ScriptedBackend::join() {
  if (thread_.joinable()) thread_.join();
}

void ScriptedBackend::error(std::string text) { errors_.push_back("back-end: " + std::move(text)); }

void ScriptedBackend::run() {
  if (opt_.listen && !listener_) {
    error("cannot listen on " + opt_.path);
    return;
  }
  for (int s = 1; s <= opt_.sessions; ++s)
    if (!serve_session(static_cast<uint32_t>(s))) return;
}

bool ScriptedBackend::serve_session(uint32_t session) {
  main_ = opt_.listen ? accept_from(listener_.get(), opt_.timeout)
                      : connect_to(opt_.path, opt_.timeout);
  if (!main_) {
    error("session " + std::to_string(session) + ": no connection on " + opt_.path);
    return false;
  }
  std::map<std::string, int> seen;
  while (true) {
    pollfd p[2] = {{main_.get(), POLLIN, 0}, {chan_ ? chan_.get() : -1, POLLIN, 0}};
    int rc = ::poll(p, 2, static_cast<int>(opt_.timeout.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) {
      error("session " + std::to_string(session) + ": nothing arrived within the timeout");
      return false;
    }
    if (p[1].revents) {
      // Unsolicited traffic (or EOF) on the back-end channel: log it.
      ReceivedMessage m;
      IoStatus s = recv_message(chan_.get(), m, opt_.timeout);
      if (!m.bytes.empty()) {
        Exchange e;
        e.session = session;
        e.channel = Channel::Backend;
        e.bytes = std::move(m.bytes);
        e.fds = identities(m.fds);
        transcript_.push_back(std::move(e));
      }
      if (s != IoStatus::Ok) chan_.reset();
    }
    if (!p[0].revents) continue;
    ReceivedMessage m;
    IoStatus s = recv_message(main_.get(), m, opt_.timeout);
    if (s == IoStatus::Closed && m.bytes.empty()) {
      ++eof_sessions_;
      break;
    }
    if (s != IoStatus::Ok) {
      error("session " + std::to_string(session) + ": reading a request: " + io_status_name(s));
      if (!m.bytes.empty()) {
        Exchange e;
        e.session = session;
        e.bytes = std::move(m.bytes);
        transcript_.push_back(std::move(e));
      }
      break;
    }
    bool stop = false;
    if (!handle_request(session, m, seen, stop)) return false;
    if (stop) break;
  }
  main_.reset();
  chan_.reset();
  return true;
}

bool ScriptedBackend::handle_request(uint32_t session, ReceivedMessage& m,
                                     std::map<std::string, int>& seen, bool& stop) {
  Exchange e;
  e.session = session;
  e.bytes = m.bytes;
  e.fds = identities(m.fds);
  Header h = e.header();
  const RequestInfo* info = find_request(Channel::Frontend, h.request);
  std::string name = info ? std::string(info->name) : std::string();
  for (auto& fd : m.fds) {
    // The back-end channel socket becomes ours; everything else is kept for inspection.
    if (info && name == "SET_BACKEND_REQ_FD" && S_ISSOCK(identify(fd.get()).mode))
      chan_ = std::move(fd);
    else
      e.kept.push_back(std::move(fd));
  }
  transcript_.push_back(std::move(e));

  int occurrence = ++seen[name];
  bool answer = !opt_.unanswered.count(name);
  for (const BackendAction& a : opt_.actions) {
    if (a.after != name || a.occurrence != occurrence) continue;
    switch (a.kind) {
      case BackendAction::Kind::BackendRequest:
        if (!send_backend_request(session, a)) return false;
        break;
      case BackendAction::Kind::RawInsteadOfReply: {
        Exchange raw;
        raw.session = session;
        raw.sent = true;
        raw.raw = true;
        raw.bytes = a.bytes;
        transcript_.push_back(std::move(raw));
        send_message(main_.get(), a.bytes, {}, opt_.timeout);
        answer = false;
        break;
      }
      case BackendAction::Kind::CloseInsteadOfReply: stop = true; return true;
      case BackendAction::Kind::CloseBackendChannel: chan_.reset(); break;
    }
  }
  if (!answer) return true;
  PlannedReply r = default_reply(Channel::Frontend, m.bytes, opt_.reply_values);
  if (!r.send) return true;
  std::vector<int> raw;
  for (const auto& fd : r.fds) raw.push_back(fd.get());
  Exchange out;
  out.session = session;
  out.sent = true;
  out.bytes = r.bytes;
  out.fds = identities(r.fds);
  IoStatus s = send_message(main_.get(), r.bytes, raw, opt_.timeout);
  for (auto& fd : r.fds) out.kept.push_back(std::move(fd));
  transcript_.push_back(std::move(out));
  if (s != IoStatus::Ok && s != IoStatus::Closed)
    error(std::string("sending a reply: ") + io_status_name(s));
  return true;
}

bool ScriptedBackend::send_backend_request(uint32_t session, const BackendAction& a) {
  if (!chan_) {
    error("no back-end channel to send a back-end request on");
    return false;
  }
  std::vector<UniqueFd> fds = make_fds(a.fds);
  std::vector<int> raw;
  for (const auto& fd : fds) raw.push_back(fd.get());
  Exchange out;
  out.session = session;
  out.channel = Channel::Backend;
  out.sent = true;
  out.bytes = a.bytes;
  out.fds = identities(fds);
  IoStatus s = send_message(chan_.get(), a.bytes, raw, opt_.timeout);
  for (auto& fd : fds) out.kept.push_back(std::move(fd));
  Header h = out.header();
  transcript_.push_back(std::move(out));
  if (s != IoStatus::Ok) {
    error(std::string("back-end channel send: ") + io_status_name(s));
    return false;
  }
  if (!expects_reply(Channel::Backend, h)) return true;
  // The front-end answers on the back-end channel while it waits for our reply on the main
  // socket (the spec's deadlock pitfall: only works if the proxy relays both independently).
  ReceivedMessage m;
  s = recv_message(chan_.get(), m, opt_.timeout);
  Exchange in;
  in.session = session;
  in.channel = Channel::Backend;
  in.bytes = std::move(m.bytes);
  in.fds = identities(m.fds);
  for (auto& fd : m.fds) in.kept.push_back(std::move(fd));
  transcript_.push_back(std::move(in));
  if (s != IoStatus::Ok) {
    error(std::string("back-end channel reply: ") + io_status_name(s));
    return false;
  }
  return true;
}

}  // namespace vhs::test
