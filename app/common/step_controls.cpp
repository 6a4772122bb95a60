// Step-debugging controls view-model (see step_controls.hpp).
#include "app/common/step_controls.hpp"

#include <algorithm>
#include <optional>

namespace vhs::view {

namespace {

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t space = s.find(' ');
    std::string_view word = s.substr(0, space);
    if (!word.empty()) out.emplace_back(word);
    if (space == std::string_view::npos) break;
    s.remove_prefix(space + 1);
  }
  return out;
}

}  // namespace

bool parse_debug_status(std::string_view answer, DebugStatus& out, std::string& error) {
  out = DebugStatus{};
  if (answer.rfind("error: ", 0) == 0) {
    error = std::string(answer.substr(
        7, answer.find('\n') == std::string_view::npos ? answer.npos : answer.find('\n') - 7));
    return false;
  }
  bool saw_breakpoints = false;
  while (!answer.empty()) {
    size_t nl = answer.find('\n');
    std::string_view line = answer.substr(0, nl);
    answer.remove_prefix(nl == std::string_view::npos ? answer.size() : nl + 1);
    auto take = [&](std::string_view key, std::string_view& value) {
      if (line.rfind(key, 0) != 0) return false;
      value = line.substr(key.size());
      return true;
    };
    std::string_view value;
    if (take("held: ", value)) {
      if (value != "none") out.held.emplace_back(value);
    } else if (take("breakpoints: ", value)) {
      saw_breakpoints = true;
      if (value != "none") out.breakpoints = split_words(value);
    } else if (take("injections: ", value)) {
      if (value != "none") out.injections = split_words(value);
    }
    // Other lines (added by newer relays) are ignored.
  }
  if (!saw_breakpoints) {
    error = "not a status answer";
    return false;
  }
  return true;
}

std::string break_target(const Store& store, uint32_t entry) {
  if (entry >= store.size()) return {};
  const StoreEntry& e = store.entry(entry);
  if (!e.is_message() || e.info == nullptr) return {};
  return std::string(e.info->name);  // a reply carries its request's number: same registry row
}

namespace {

// "session 1, front-end channel, front-end to back-end, SET_VRING_KICK, ..." (DebuggerPart::status)
struct HeldFlow {
  uint32_t session = 0;
  Channel channel = Channel::Frontend;
  Direction direction = Direction::ToBackend;
};

std::optional<HeldFlow> parse_held_flow(std::string_view line) {
  constexpr std::string_view kSession = "session ";
  if (line.rfind(kSession, 0) != 0) return std::nullopt;
  line.remove_prefix(kSession.size());
  HeldFlow flow;
  size_t digits = 0;
  for (; digits < line.size() && digits < 10 && line[digits] >= '0' && line[digits] <= '9';
       ++digits)
    flow.session = flow.session * 10 + static_cast<uint32_t>(line[digits] - '0');
  if (digits == 0) return std::nullopt;
  line.remove_prefix(digits);
  if (line.rfind(", front-end channel, ", 0) == 0) {
    flow.channel = Channel::Frontend;
  } else if (line.rfind(", back-end channel, ", 0) == 0) {
    flow.channel = Channel::Backend;
  } else {
    return std::nullopt;  // a held notification ("session 1, queue 0 kick, ...")
  }
  line.remove_prefix(line.find("channel, ") + 9);
  if (line.rfind("front-end to back-end", 0) == 0)
    flow.direction = Direction::ToBackend;
  else if (line.rfind("back-end to front-end", 0) == 0)
    flow.direction = Direction::ToFrontend;
  else
    return std::nullopt;
  return flow;
}

// How far back from the newest record a held message is looked for: it is among the newest
// records (only the other flows' messages and samples come after it).
constexpr size_t kHeldSearchDepth = 100'000;

}  // namespace

std::vector<uint32_t> held_message_entries(const Store& store, const DebugStatus& status) {
  std::vector<uint32_t> out;
  for (const std::string& line : status.held) {
    const auto flow = parse_held_flow(line);
    if (!flow) continue;
    const size_t stop = store.size() > kHeldSearchDepth ? store.size() - kHeldSearchDepth : 0;
    for (size_t i = store.size(); i > stop; --i) {
      const StoreEntry& e = store.entry(i - 1);
      if (e.is_message() && e.session == flow->session && e.channel == flow->channel &&
          e.direction == flow->direction) {
        out.push_back(static_cast<uint32_t>(i - 1));
        break;
      }
    }
  }
  return out;
}

void StepControls::refresh(const Send& send, uint64_t now_ms, bool force, uint64_t interval_ms) {
  if (!force && !force_ && polled_ && now_ms - last_poll_ms_ < interval_ms) return;
  polled_ = true;
  force_ = false;
  last_poll_ms_ = now_ms;
  DebugStatus parsed;
  std::string error;
  if (parse_debug_status(send("status"), parsed, error)) {
    status_ = std::move(parsed);
    status_error_.clear();
  } else {
    status_ = DebugStatus{};
    status_error_ = error;
  }
}

bool StepControls::has_break(std::string_view name) const {
  // Canonical names are upper case for requests; the selected entry gives the canonical name.
  return std::find(status_.breakpoints.begin(), status_.breakpoints.end(), name) !=
         status_.breakpoints.end();
}

bool StepControls::command(const Send& send, const std::string& line) {
  std::string answer = send(line);
  force_ = true;
  while (!answer.empty() && answer.back() == '\n') answer.pop_back();
  bool ok = answer.rfind("error: ", 0) != 0;
  last_answer_ = ok ? answer : answer.substr(7);
  return ok;
}

}  // namespace vhs::view
