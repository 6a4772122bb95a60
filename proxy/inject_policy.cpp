// Fault-injection set (see inject_policy.hpp).
#include "proxy/inject_policy.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/registry.hpp"

namespace vhs {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Hex digits, optionally separated by spaces or ':' between bytes (as dumps print them).
bool parse_hex(std::string_view text, std::vector<uint8_t>& out, std::string& error) {
  out.clear();
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == ':') {
      ++i;
      continue;
    }
    int hi = hex_digit(c);
    int lo = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
    if (hi < 0 || lo < 0) {
      error = "bad hex at character " + std::to_string(i + 1) +
              " of the reply (expected two hex digits per byte)";
      return false;
    }
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// The reply must be one a peer would send for this request: header of its own, the reply flag,
// version 1, a size field that matches, a payload of the reply's layout.
bool check_reply(const RequestInfo& info, const std::vector<uint8_t>& bytes, std::string& error) {
  std::string what = "the replacement reply for " + std::string(info.name);
  std::optional<Header> h = parse_header(bytes);
  if (!h) {
    error =
        what + " is " + std::to_string(bytes.size()) + " bytes, shorter than the 12-byte header";
    return false;
  }
  if (h->request != info.number) {
    error = what + " has request number " + std::to_string(h->request) + ", not " +
            std::to_string(info.number);
    return false;
  }
  if (!h->is_reply() || h->version() != kProtocolVersion) {
    error = what + " has flags 0x" + [&] {
      char buf[16];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, h->flags, 16);
      (void)ec;
      return std::string(buf, end);
    }() + ", not a version-1 reply (0x5)";
    return false;
  }
  if (h->size != bytes.size() - kHeaderSize || h->size > kMaxPayloadSize) {
    error = what + " says size " + std::to_string(h->size) + " but carries " +
            std::to_string(bytes.size() - kHeaderSize) + " payload bytes";
    return false;
  }
  DecodedMessage msg = decode_message(info.channel, bytes, {});
  for (const Finding& f : msg.findings)
    if (f.severity() == Severity::Error && f.code != FindingCode::FdCountMismatch) {
      error = what + " does not decode: " + f.detail;
      return false;
    }
  return true;
}

struct Parsed {
  InjectAction action;
  const RequestInfo* info = nullptr;
  std::string_view rest;  // after ACTION:NAME
  bool has_rest = false;
};

bool parse_head(std::string_view spec, Parsed& p, std::string& error) {
  size_t colon = spec.find(':');
  std::string_view action = spec.substr(0, colon);
  if (action == "drop")
    p.action = InjectAction::Drop;
  else if (action == "delay")
    p.action = InjectAction::Delay;
  else if (action == "replace-reply")
    p.action = InjectAction::ReplaceReply;
  else {
    error = "unknown injection '" + std::string(spec) +
            "' (expected drop:NAME, delay:NAME:MS or replace-reply:NAME:HEX)";
    return false;
  }
  if (colon == std::string_view::npos) {
    error = "injection '" + std::string(spec) + "' needs a request name (" + std::string(action) +
            ":NAME...)";
    return false;
  }
  std::string_view after = spec.substr(colon + 1);
  size_t second = after.find(':');
  std::string_view name = after.substr(0, second);
  p.has_rest = second != std::string_view::npos;
  if (p.has_rest) p.rest = after.substr(second + 1);
  p.info = find_request_by_name(name);  // any case, VHOST_USER_ prefix or not
  if (p.info == nullptr) {
    error = "unknown request name '" + std::string(name) + "' in injection '" + std::string(spec) +
            "' (use a name as 'vhostscope dump' prints it)";
    return false;
  }
  return true;
}

const char* action_name(InjectAction a) {
  switch (a) {
    case InjectAction::Drop: return "drop";
    case InjectAction::Delay: return "delay";
    case InjectAction::ReplaceReply: return "replace-reply";
  }
  return "?";
}

}  // namespace

bool InjectPolicy::add(std::string_view spec, std::string& error) {
  Parsed p;
  if (!parse_head(spec, p, error)) return false;
  Injection in;
  in.action = p.action;
  in.channel = p.info->channel;
  in.request = p.info->number;
  in.spec = std::string(action_name(p.action)) + ":" + std::string(p.info->name);
  switch (p.action) {
    case InjectAction::Drop:
      if (p.has_rest) {
        error = "drop takes no value: drop:" + std::string(p.info->name);
        return false;
      }
      break;
    case InjectAction::Delay: {
      unsigned ms = 0;
      auto [end, ec] = std::from_chars(p.rest.data(), p.rest.data() + p.rest.size(), ms);
      if (!p.has_rest || ec != std::errc() || end != p.rest.data() + p.rest.size() || ms == 0 ||
          ms > 600000) {
        error =
            "delay needs milliseconds (1 to 600000): delay:" + std::string(p.info->name) + ":MS";
        return false;
      }
      in.delay = std::chrono::milliseconds(ms);
      in.spec += ":" + std::to_string(ms);
      break;
    }
    case InjectAction::ReplaceReply:
      if (!p.has_rest || p.rest.empty()) {
        error = "replace-reply needs the reply as hex: replace-reply:" + std::string(p.info->name) +
                ":HEX";
        return false;
      }
      if (!parse_hex(p.rest, in.reply, error) || !check_reply(*p.info, in.reply, error))
        return false;
      in.spec += ":";
      for (uint8_t b : in.reply) {
        constexpr char kDigits[] = "0123456789abcdef";
        in.spec += kDigits[b >> 4];
        in.spec += kDigits[b & 15];
      }
      break;
  }
  auto same = [&](const Injection& x) {
    return x.action == in.action && x.channel == in.channel && x.request == in.request;
  };
  auto it = std::find_if(injections_.begin(), injections_.end(), same);
  if (it != injections_.end())
    *it = std::move(in);
  else
    injections_.push_back(std::move(in));
  return true;
}

bool InjectPolicy::remove(std::string_view spec, std::string& error) {
  Parsed p;
  std::string ignored;
  auto it = injections_.end();
  if (parse_head(spec, p, ignored))
    it = std::find_if(injections_.begin(), injections_.end(), [&](const Injection& x) {
      return x.action == p.action && x.channel == p.info->channel && x.request == p.info->number;
    });
  if (it == injections_.end()) {
    error = "no injection '" + std::string(spec) + "' (injections: " + describe() + ")";
    return false;
  }
  injections_.erase(it);
  return true;
}

const Injection* InjectPolicy::for_request(Channel channel, const Header& header) const {
  if (header.is_reply()) return nullptr;
  for (const Injection& in : injections_)
    if (in.action != InjectAction::ReplaceReply && in.channel == channel &&
        in.request == header.request)
      return &in;
  return nullptr;
}

const Injection* InjectPolicy::for_reply(Channel channel, const Header& header) const {
  if (!header.is_reply()) return nullptr;
  for (const Injection& in : injections_)
    if (in.action == InjectAction::ReplaceReply && in.channel == channel &&
        in.request == header.request)
      return &in;
  return nullptr;
}

std::string InjectPolicy::describe() const {
  if (injections_.empty()) return "none";
  std::string s;
  for (const Injection& in : injections_) {
    if (!s.empty()) s += ' ';
    s += in.spec;
  }
  return s;
}

}  // namespace vhs
