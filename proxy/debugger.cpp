// Breakpoints inside the relay: a breakpoint holds a message in its flow (the depth-one seam of
// relay_flow.hpp) instead of sending it on. A held flow stops reading its source, so everything
// after the held message waits in the kernel socket buffer: nothing is lost or reordered, and the
// other three flows keep moving (holding the front-end channel must never stall the back-end
// channel, or QEMU deadlocks). Held bytes and fds are never altered; releasing one sends it
// exactly as it would have gone.
#include "proxy/debugger.hpp"

#include <cerrno>

#include "decoders/vhost_user/message.hpp"
#include "proxy/debugger_part.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

std::unique_ptr<Debugger> Debugger::create(RelayServices& relay, NotifyHolds* notify,
                                           const RelayOptions& options, std::string& error) {
  TimerFd timer = TimerFd::create();
  if (!timer.valid()) {
    error = "cannot set up the event loop: " + errno_text(errno);
    return nullptr;
  }
  auto part = std::make_unique<DebuggerPart>(relay, notify, options.device, std::move(timer));
  if (!part->start(options, error)) return nullptr;
  return part;
}

bool DebuggerPart::start(const RelayOptions& options, std::string& error) {
  for (const std::string& name : options.breaks)
    if (!holds_.add(name, error)) return false;
  for (const std::string& spec : options.injects)
    if (!injects_.add(spec, error)) return false;
  if (!relay_.watch(delay_timer_.fd(), *this)) {
    error = "cannot set up the event loop: " + errno_text(errno);
    return false;
  }
  update_armed();
  return true;
}

bool DebuggerPart::after_record(RelayFlow& flow) { return hold(flow) || delay(flow); }

void DebuggerPart::on_session_begin() {
  analyser_.reset();
  update_analyser(true);
}

void DebuggerPart::on_session_end() { analyser_.reset(); }

bool DebuggerPart::hold(RelayFlow& flow) {
  // The analyser sees every message while a finding breakpoint is set, held or not, so its
  // session state (features, memory table, pending requests) stays whole.
  const Finding* hit = holds_.wants_findings() ? analyse(flow) : nullptr;
  if (!flow.stopped && hit == nullptr && !holds_.matches(flow.channel(), flow.reader().header())) {
    // Lazily disarm once the last stopped flow is gone (session ended) and nothing is set.
    if (holds_.empty()) update_armed();
    return false;
  }
  flow.stopped = true;
  flow.set_held(true, relay_.next_hold_order());
  flow.hold_note = hit ? "finding " + std::string(finding_info(hit->code).id) + ": " + hit->detail
                       : std::string();
  // The source is not read while a message of this flow is in flight (sending() is true);
  // the destination is not waited on because pushing() is false.
  relay_.refresh_interest(flow);
  relay_.log(LogLevel::Info, "session " + std::to_string(relay_.session()) + ": holding " +
                                 describe_message(flow) + (hit ? " (" + flow.hold_note + ")" : ""));
  return true;
}

const Finding* DebuggerPart::analyse(RelayFlow& flow) {
  if (!analyser_) update_analyser(false);
  const Record& r = flow.record();
  DecodedMessage msg = decode_message(flow.channel(), r.bytes, r.fds, analyser_->decode_context());
  Observation obs =
      analyser_->on_message(analysed_++, r.timestamp_ns, flow.direction(), msg, r.fds);
  findings_ = std::move(msg.findings);
  for (Finding& f : obs.findings) findings_.push_back(std::move(f));
  return holds_.matching_finding(findings_);
}

void DebuggerPart::update_analyser(bool from_start) {
  if (!holds_.wants_findings()) {
    analyser_.reset();
  } else if (!analyser_) {
    // Joined mid-session: negotiation-order findings would be false alarms.
    analyser_ = std::make_unique<SessionAnalyser>(SessionAnalyser::Options{device_, from_start});
    analysed_ = 0;
  }
}

void DebuggerPart::release(RelayFlow& flow) {
  flow.set_held(false);
  flow.hold_note.clear();
  if (delay(flow)) return;  // an injected delay starts once the breakpoint lets it go
  relay_.send_on(flow);     // may end the session on a send failure: callers re-check afterwards
}

void DebuggerPart::update_armed() {
  bool armed = !holds_.empty() || !injects_.empty();
  for (const RelayFlow* f : relay_.flows()) armed = armed || f->stopped || f->held();
  relay_.set_debugging(armed);
}

}  // namespace vhs
