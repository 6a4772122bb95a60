// The ctl command lines the debugger part answers (docs/step.md): status, step, continue, break,
// delete, inject, hold/unhold. They arrive on the relay thread from the command queue.
#include <algorithm>
#include <sstream>

#include "decoders/vhost_user/registry.hpp"
#include "proxy/debugger_part.hpp"

namespace vhs {

namespace {

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

std::string DebuggerPart::run_command(std::string_view line) {
  line = trim(line);
  std::string_view verb = line.substr(0, line.find(' '));
  std::string_view arg =
      verb.size() < line.size() ? trim(line.substr(verb.size())) : std::string_view();
  std::string error;

  if (verb == "status" && arg.empty()) return status();
  if (verb == "step" && arg.empty()) return step();
  if (verb == "continue" && arg.empty()) return continue_all();
  if (verb == "hold" || verb == "unhold") {
    if (notify_ == nullptr)
      return "error: holding notifications needs 'record --interpose-notify'\n";
    return notify_->command(verb, arg);
  }
  if (verb == "break" && !arg.empty()) {
    if (!holds_.add(arg, error)) return "error: " + error + "\n";
    relay_.set_debugging(true);  // a finding breakpoint starts its analyser at the next message
    return "ok\n";
  }
  if (verb == "inject" && !arg.empty()) {
    if (!injects_.add(arg, error)) return "error: " + error + "\n";
    relay_.set_debugging(true);
    return "ok\n";
  }
  if (verb == "delete" && is_injection(arg)) {
    if (!injects_.remove(arg, error)) return "error: " + error + "\n";
    return "ok\n";
  }
  if (verb == "delete" && !arg.empty()) {
    if (!holds_.remove(arg, error)) return "error: " + error + "\n";
    update_analyser(false);
    return "ok\n";
  }
  return "error: unknown command '" + std::string(line) +
         "' (expected: status, step, continue, break NAME, delete NAME, inject SPEC, hold|unhold "
         "kick|call|err QUEUE)\n";
}

std::string DebuggerPart::status() {
  std::vector<RelayFlow*> held;
  for (RelayFlow* f : relay_.flows())
    if (f->held()) held.push_back(f);
  std::sort(held.begin(), held.end(),
            [](RelayFlow* a, RelayFlow* b) { return a->hold_order() < b->hold_order(); });
  std::ostringstream out;
  const std::string notes = notify_ ? notify_->held_lines() : std::string();
  if (held.empty() && notes.empty()) out << "held: none\n";
  for (RelayFlow* f : held)
    out << "held: session " << relay_.session() << ", "
        << (f->channel() == Channel::Frontend ? "front-end" : "back-end") << " channel, "
        << writer_side(f->direction()) << " to "
        << (f->direction() == Direction::ToBackend ? "back-end" : "front-end") << ", "
        << message_label(f->channel(), f->reader().header()) << ", " << f->reader().bytes().size()
        << " bytes, " << f->reader().fds().size() << " fds"
        << (f->hold_note.empty() ? "" : ", " + f->hold_note)
        << (waits_for_delay(*f) ? ", injected delay" : "") << "\n";
  out << notes << "breakpoints: " << holds_.describe() << "\n";
  if (!injects_.empty()) out << "injections: " << injects_.describe() << "\n";
  if (notify_) out << notify_->holds_line();
  out << "\n";
  return out.str();
}

std::string DebuggerPart::step() {
  // The oldest held message goes; its flow stays stopped, so the next one it reads is held too.
  RelayFlow* oldest = nullptr;
  for (RelayFlow* f : relay_.flows())
    if (f->held() && !waits_for_delay(*f) &&
        (oldest == nullptr || f->hold_order() < oldest->hold_order()))
      oldest = f;
  if (notify_ && notify_->step(oldest ? oldest->hold_order() : UINT64_MAX)) return "ok\n";
  if (oldest == nullptr) return "error: nothing is held\n";
  release(*oldest);
  return "ok\n";
}

std::string DebuggerPart::continue_all() {
  for (RelayFlow* f : relay_.flows()) f->stopped = false;
  if (notify_) notify_->release_all();
  const uint64_t generation = relay_.generation();
  for (RelayFlow* f : relay_.flows())
    if (f->held() && !waits_for_delay(*f) && generation == relay_.generation()) release(*f);
  update_armed();
  return "ok\n";
}

}  // namespace vhs
