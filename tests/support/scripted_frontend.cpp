// The scripted front-end peer (see scripted_frontend.hpp).
#include "support/scripted_frontend.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "support/reply_rules.hpp"

namespace vhs::test {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<FdIdentity> identities(const std::vector<UniqueFd>& fds) {
  std::vector<FdIdentity> out;
  for (const auto& fd : fds) out.push_back(identify(fd.get()));
  return out;
}

}  // namespace

ScriptedFrontend::ScriptedFrontend(FrontendOptions options) : opt_(std::move(options)) {
  if (opt_.listen) listener_ = listen_on(opt_.path);
}

ScriptedFrontend::~ScriptedFrontend() {
  join();
  if (listener_) ::unlink(opt_.path.c_str());
}

void ScriptedFrontend::start(std::vector<FrontendStep> script) {
  thread_ = std::thread([this, s = std::move(script)]() mutable { run(std::move(s)); });
}

void ScriptedFrontend::join() {
  if (thread_.joinable()) thread_.join();
}

void ScriptedFrontend::error(std::string text) {
  errors_.push_back("front-end: " + std::move(text));
}

bool ScriptedFrontend::connect_main() {
  if (opt_.listen) {
    if (!listener_) {
      error("cannot listen on " + opt_.path);
      return false;
    }
    main_ = accept_from(listener_.get(), opt_.timeout);
  } else {
    main_ = connect_to(opt_.path, opt_.timeout);
  }
  if (!main_) error("no connection on " + opt_.path);
  return main_.valid();
}

void ScriptedFrontend::run(std::vector<FrontendStep> script) {
  if (!connect_main()) return;
  for (const FrontendStep& step : script) {
    bool ok = true;
    switch (step.kind) {
      case FrontendStep::Kind::Send: ok = do_send(step); break;
      case FrontendStep::Kind::Raw: {
        Exchange e;
        e.sent = true;
        e.raw = true;
        e.bytes = step.bytes;
        transcript_.push_back(std::move(e));
        send_message(main_.get(), step.bytes, {}, opt_.timeout);  // the proxy may already be gone
        break;
      }
      case FrontendStep::Kind::Close:
        main_.reset();
        chan_.reset();
        break;
      case FrontendStep::Kind::ExpectClosed:
        if (!wait_closed(main_.get(), opt_.timeout)) {
          error("the proxy did not close the connection within the timeout");
          ok = false;
        } else {
          closed_by_peer_ = true;
        }
        break;
      case FrontendStep::Kind::ExpectBackendChannelClosed: {
        auto deadline = Clock::now() + opt_.timeout;
        while (chan_ && Clock::now() < deadline)
          if (wait_readable(chan_.get(), Millis(50))) serve_backend_channel();
        if (chan_) {
          error("the back-end channel was not closed within the timeout");
          ok = false;
        }
        break;
      }
      case FrontendStep::Kind::AwaitBackendRequests: {
        auto deadline = Clock::now() + opt_.timeout;
        while (ok && backend_requests_ < step.count) {
          if (!chan_ || Clock::now() >= deadline) {
            error("expected " + std::to_string(step.count) + " back-end channel requests, got " +
                  std::to_string(backend_requests_));
            ok = false;
            break;
          }
          if (wait_readable(chan_.get(), Millis(50))) serve_backend_channel();
        }
        break;
      }
    }
    if (!ok) return;
    ++steps_done_;
  }
}

bool ScriptedFrontend::do_send(const FrontendStep& step) {
  Exchange e;
  e.sent = true;
  e.bytes = step.bytes;
  std::vector<UniqueFd> to_send;
  UniqueFd our_chan_end;
  for (const FdSpec& spec : step.fds) {
    switch (spec.kind) {
      case FdSpec::Kind::Memfd: to_send.push_back(make_memfd(spec.name, spec.size)); break;
      case FdSpec::Kind::Eventfd: to_send.push_back(make_eventfd()); break;
      case FdSpec::Kind::BackendChannel: {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
          error("socketpair failed");
          return false;
        }
        our_chan_end.reset(pair[0]);
        to_send.emplace_back(pair[1]);
        break;
      }
    }
  }
  std::vector<int> raw_fds;
  for (const auto& fd : to_send) raw_fds.push_back(fd.get());
  e.fds = identities(to_send);
  IoStatus s = send_message(main_.get(), step.bytes, raw_fds, opt_.timeout);
  // Like QEMU: the socketpair end we handed over is closed here, everything else is kept.
  for (auto& fd : to_send)
    if (!S_ISSOCK(identify(fd.get()).mode)) e.kept.push_back(std::move(fd));
  to_send.clear();
  Header h = e.header();
  transcript_.push_back(std::move(e));
  if (s != IoStatus::Ok) {
    if (s == IoStatus::Closed)
      closed_by_peer_ = true;
    else
      error(std::string("send failed: ") + io_status_name(s));
    return false;
  }
  if (our_chan_end) chan_ = std::move(our_chan_end);
  if (step.no_wait || !expects_reply(Channel::Frontend, h)) return true;
  return wait_reply(h);
}

bool ScriptedFrontend::wait_reply(const Header& request) {
  auto deadline = Clock::now() + opt_.timeout;
  while (Clock::now() < deadline) {
    pollfd p[2] = {{main_.get(), POLLIN, 0}, {chan_ ? chan_.get() : -1, POLLIN, 0}};
    int left =
        static_cast<int>(std::chrono::duration_cast<Millis>(deadline - Clock::now()).count());
    int rc = ::poll(p, 2, left < 0 ? 0 : left);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    // Serve the back-end channel first: the back-end may be waiting on it before it answers us.
    if (p[1].revents) serve_backend_channel();
    if (p[0].revents) {
      ReceivedMessage m;
      IoStatus s = recv_message(main_.get(), m, opt_.timeout);
      Exchange e;
      e.channel = Channel::Frontend;
      e.bytes = std::move(m.bytes);
      e.fds = identities(m.fds);
      for (auto& fd : m.fds) e.kept.push_back(std::move(fd));
      if (!e.bytes.empty()) transcript_.push_back(std::move(e));
      if (s == IoStatus::Closed) {
        closed_by_peer_ = true;
        return false;
      }
      if (s != IoStatus::Ok) {
        error(std::string("reading a reply: ") + io_status_name(s));
        return false;
      }
      Header h = transcript_.back().header();
      if (!h.is_reply() || h.request != request.request)
        error("expected a reply to request " + std::to_string(request.request) + ", got request " +
              std::to_string(h.request) + " flags " + std::to_string(h.flags));
      return true;
    }
  }
  error("no reply to request " + std::to_string(request.request) + " within the timeout");
  return false;
}

bool ScriptedFrontend::serve_backend_channel() {
  ReceivedMessage m;
  IoStatus s = recv_message(chan_.get(), m, opt_.timeout);
  if (s != IoStatus::Ok) {
    if (s != IoStatus::Closed) error(std::string("back-end channel: ") + io_status_name(s));
    chan_.reset();
    return false;
  }
  Exchange e;
  e.channel = Channel::Backend;
  e.bytes = m.bytes;
  e.fds = identities(m.fds);
  for (auto& fd : m.fds) e.kept.push_back(std::move(fd));
  Header h = e.header();
  transcript_.push_back(std::move(e));
  if (h.is_reply()) return true;
  ++backend_requests_;
  PlannedReply r = default_reply(Channel::Backend, m.bytes, opt_.reply_values);
  if (!r.send) return true;
  std::vector<int> raw;
  for (const auto& fd : r.fds) raw.push_back(fd.get());
  Exchange out;
  out.channel = Channel::Backend;
  out.sent = true;
  out.bytes = r.bytes;
  out.fds = identities(r.fds);
  IoStatus sent = send_message(chan_.get(), r.bytes, raw, opt_.timeout);
  for (auto& fd : r.fds) out.kept.push_back(std::move(fd));
  transcript_.push_back(std::move(out));
  if (sent != IoStatus::Ok) error(std::string("back-end channel reply: ") + io_status_name(sent));
  return sent == IoStatus::Ok;
}

}  // namespace vhs::test
