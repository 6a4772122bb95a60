// ctl command lines (docs/step.md) on the relay thread, addressed to sessions: "session N CMD"
// goes to live session N only. Without a session, a line that changes what is held (break,
// delete, inject, hold, unhold) applies to every live session and to every session that starts
// later; any other line (status, step, continue) goes to the newest live session, or to the
// session template while none is live.
#include <algorithm>
#include <charconv>
#include <vector>

#include "proxy/relay_impl.hpp"

namespace vhs {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool changes_policy(std::string_view verb) {
  return verb == "break" || verb == "delete" || verb == "inject" || verb == "hold" ||
         verb == "unhold";
}

std::string numbers_text(const std::vector<RelaySession*>& sessions) {
  std::string s;
  for (const RelaySession* r : sessions) s += (s.empty() ? "" : ", ") + std::to_string(r->number);
  return s.empty() ? "none" : s;
}

}  // namespace

std::string RelayCore::run_command(std::string_view line) {
  line = trim(line);
  std::vector<RelaySession*> live;
  for (auto& s : slots)
    if (s && s->live()) live.push_back(s.get());
  std::sort(live.begin(), live.end(),
            [](const RelaySession* a, const RelaySession* b) { return a->number < b->number; });
  RelaySession& templ = *slots[1];

  if (line.starts_with("session ")) {
    std::string_view rest = trim(line.substr(8));
    uint32_t number = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
    const std::string_view command = trim(rest.substr(static_cast<size_t>(end - rest.data())));
    if (ec != std::errc() || command.empty() || (end != rest.data() + rest.size() && *end != ' '))
      return "error: 'session' needs a session number and a command (e.g. 'session 2 status')\n";
    for (RelaySession* s : live)
      if (s->number == number) return s->debugger->run_command(command);
    return "error: no live session " + std::to_string(number) + " (live: " + numbers_text(live) +
           ")\n";
  }

  const std::string_view verb = line.substr(0, line.find(' '));
  if (changes_policy(verb)) {
    // The template checks the line (and keeps it for `status` while no session is live).
    std::string answer = templ.debugger->run_command(line);
    if (!answer.starts_with("ok")) return answer;
    policy_lines.emplace_back(line);
    for (RelaySession* s : live) s->debugger->run_command(line);
    return answer;
  }
  if (live.empty()) return templ.debugger->run_command(line);
  std::string answer = live.back()->debugger->run_command(line);
  if (verb == "status" && live.size() > 1)
    answer = "sessions: " + numbers_text(live) + " live; this is session " +
             std::to_string(live.back()->number) + " ('session N status' for another)\n" + answer;
  return answer;
}

}  // namespace vhs
