// Step debugging inside the relay: breakpoints hold a message in its flow (the depth-one seam of
// relay_flow.hpp) instead of pushing it. A held flow stops reading its source, so everything
// after the held message waits in the kernel socket buffer: nothing is lost or reordered, and the
// other three flows keep moving (holding the front-end channel must never stall the back-end
// channel, or QEMU deadlocks). Held bytes and fds are never altered; releasing one pushes it
// exactly as it would have gone. Commands arrive from other threads through a queue + eventfd.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <sstream>

#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/registry.hpp"
#include "proxy/relay_impl.hpp"

namespace vhs {

namespace {

// A message waiting for an injected delay is not the user's to step: only the timer sends it.
bool delayed(const RelayFlow& f) {
  return f.held() && f.delayed_until != std::chrono::steady_clock::time_point{};
}

bool is_injection(std::string_view arg) {
  return arg.starts_with("drop:") || arg.starts_with("delay:") || arg.starts_with("replace-reply:");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool Relay::Impl::hold_message(RelayFlow& flow) {
  // The analyser sees every message while a finding breakpoint is set, held or not, so its
  // session state (features, memory table, pending requests) stays whole.
  const Finding* hit = holds.wants_findings() ? analyse(flow) : nullptr;
  if (!flow.stopped && hit == nullptr && !holds.matches(flow.channel(), flow.reader().header())) {
    // Lazily disarm once the last stopped flow is gone (session ended) and nothing is set.
    if (holds.empty()) update_armed();
    return false;
  }
  flow.stopped = true;
  flow.set_held(true, ++hold_counter);
  flow.hold_note = hit ? "finding " + std::string(finding_info(hit->code).id) + ": " + hit->detail
                       : std::string();
  // The source is not read while a message of this flow is in flight (sending() is true);
  // the destination is not waited on because pushing() is false.
  update_interest(flow.src());
  update_interest(flow.dst());
  log(LogLevel::Info, "session " + std::to_string(session) + ": holding " + describe_message(flow) +
                          (hit ? " (" + flow.hold_note + ")" : ""));
  return true;
}

const Finding* Relay::Impl::analyse(RelayFlow& flow) {
  if (!analyser) update_analyser(false);
  const Record& r = flow.record();
  DecodedMessage msg = decode_message(flow.channel(), r.bytes, r.fds, analyser->decode_context());
  Observation obs = analyser->on_message(analysed++, r.timestamp_ns, flow.direction(), msg, r.fds);
  hold_findings = std::move(msg.findings);
  for (Finding& f : obs.findings) hold_findings.push_back(std::move(f));
  return holds.matching_finding(hold_findings);
}

void Relay::Impl::update_analyser(bool from_start) {
  if (!holds.wants_findings()) {
    analyser.reset();
  } else if (!analyser) {
    // Joined mid-session: negotiation-order findings would be false alarms.
    analyser = std::make_unique<SessionAnalyser>(SessionAnalyser::Options{opt.device, from_start});
    analysed = 0;
  }
}

void Relay::Impl::release(RelayFlow& flow) {
  flow.set_held(false);
  flow.hold_note.clear();
  if (delay_message(flow)) return;  // an injected delay starts once the breakpoint lets it go
  push(flow);  // may end the session on a send failure: callers re-check state afterwards
}

void Relay::Impl::on_command() {
  std::deque<std::string> lines;
  std::deque<std::shared_ptr<std::promise<std::string>>> replies;
  {
    std::lock_guard<std::mutex> lock(command_mutex);
    lines.swap(command_lines);
    replies.swap(command_replies);
  }
  for (size_t i = 0; i < lines.size(); ++i) replies[i]->set_value(run_command(lines[i]));
}

std::string Relay::Impl::run_command(std::string_view line) {
  line = trim(line);
  std::string_view verb = line.substr(0, line.find(' '));
  std::string_view arg =
      verb.size() < line.size() ? trim(line.substr(verb.size())) : std::string_view();
  std::array<RelayFlow*, 4> flows{&to_back, &to_front, &chan_to_back, &chan_to_front};
  std::string error;

  if (verb == "status" && arg.empty()) {
    std::vector<RelayFlow*> held;
    for (RelayFlow* f : flows)
      if (f->held()) held.push_back(f);
    std::sort(held.begin(), held.end(),
              [](RelayFlow* a, RelayFlow* b) { return a->hold_order() < b->hold_order(); });
    std::ostringstream out;
    const std::string notes =
        opt.interpose_notify ? notify_status() : std::string();  // relay_notify.cpp
    if (held.empty() && notes.empty()) out << "held: none\n";
    for (RelayFlow* f : held)
      out << "held: session " << session << ", "
          << (f->channel() == Channel::Frontend ? "front-end" : "back-end") << " channel, "
          << writer_side(f->direction()) << " to "
          << (f->direction() == Direction::ToBackend ? "back-end" : "front-end") << ", "
          << message_label(f->channel(), f->reader().header()) << ", " << f->reader().bytes().size()
          << " bytes, " << f->reader().fds().size() << " fds"
          << (f->hold_note.empty() ? "" : ", " + f->hold_note)
          << (delayed(*f) ? ", injected delay" : "") << "\n";
    out << notes << "breakpoints: " << holds.describe() << "\n";
    if (!injects.empty()) out << "injections: " << injects.describe() << "\n";
    if (opt.interpose_notify) out << notify_holds_line();
    out << "\n";
    return out.str();
  }
  if (verb == "step" && arg.empty()) {
    // The oldest held message goes; its flow stays stopped, so the next one it reads is held too.
    RelayFlow* oldest = nullptr;
    for (RelayFlow* f : flows)
      if (f->held() && !delayed(*f) &&
          (oldest == nullptr || f->hold_order() < oldest->hold_order()))
        oldest = f;
    if (opt.interpose_notify && notify_step(oldest ? oldest->hold_order() : UINT64_MAX))
      return "ok\n";
    if (oldest == nullptr) return "error: nothing is held\n";
    release(*oldest);
    return "ok\n";
  }
  if (verb == "continue" && arg.empty()) {
    for (RelayFlow* f : flows) f->stopped = false;
    if (opt.interpose_notify) notify_continue();
    uint64_t gen = generation;
    for (RelayFlow* f : flows)
      if (f->held() && !delayed(*f) && gen == generation) release(*f);
    update_armed();
    return "ok\n";
  }
  if (verb == "hold" || verb == "unhold") return notify_command(verb, arg);
  if (verb == "break" && !arg.empty()) {
    if (!holds.add(arg, error)) return "error: " + error + "\n";
    hold_armed = true;  // a finding breakpoint starts its analyser at the next message
    return "ok\n";
  }
  if (verb == "inject" && !arg.empty()) {
    if (!injects.add(arg, error)) return "error: " + error + "\n";
    hold_armed = true;
    return "ok\n";
  }
  if (verb == "delete" && is_injection(arg)) {
    if (!injects.remove(arg, error)) return "error: " + error + "\n";
    return "ok\n";
  }
  if (verb == "delete" && !arg.empty()) {
    if (!holds.remove(arg, error)) return "error: " + error + "\n";
    update_analyser(false);
    return "ok\n";
  }
  return "error: unknown command '" + std::string(line) +
         "' (expected: status, step, continue, break NAME, delete NAME, inject SPEC, hold|unhold "
         "kick|call|err QUEUE)\n";
}

std::string Relay::debug_command(std::string_view line) {
  auto reply = std::make_shared<std::promise<std::string>>();
  std::future<std::string> answer = reply->get_future();
  {
    std::lock_guard<std::mutex> lock(impl_->command_mutex);
    impl_->command_lines.emplace_back(line);
    impl_->command_replies.push_back(reply);
  }
  uint64_t one = 1;
  ssize_t rc = ::write(impl_->command_event.get(), &one, sizeof one);
  (void)rc;
  if (answer.wait_for(std::chrono::seconds(2)) != std::future_status::ready)
    return "error: the relay is not running\n";
  return answer.get();
}

}  // namespace vhs
