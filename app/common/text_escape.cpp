// Escaping of outside text for terminals, files and the GUI (see text_escape.hpp).
#include "app/common/text_escape.hpp"

#include <fmt/format.h>

namespace vhs {
namespace {

void escape_into(std::string& out, std::string_view text, Newlines newlines, bool quoted) {
  out.reserve(out.size() + text.size());
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp = 0;
    const size_t n = utf8_sequence(text.substr(i), cp);
    if (n == 0) {  // not UTF-8: show the byte itself
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (cp == '\n') {
      out += newlines == Newlines::Keep ? "\n" : "\\n";
    } else if (quoted && (cp == '"' || cp == '\\')) {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp < 0x80 && is_unsafe_code_point(cp)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp));
    } else if (is_unsafe_code_point(cp)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp));
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
}

}  // namespace

bool is_unsafe_code_point(char32_t cp) {
  return cp < 0x20 || cp == 0x7f ||         // C0 controls, DEL
         (cp >= 0x80 && cp <= 0x9f) ||      // C1 controls (0x9b is the 8-bit CSI)
         cp == 0x2028 || cp == 0x2029 ||    // line and paragraph separators
         (cp >= 0x202a && cp <= 0x202e) ||  // bidi embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069);    // bidi isolates
}

size_t utf8_sequence(std::string_view text, char32_t& cp) {
  if (text.empty()) return 0;
  const auto lead = static_cast<unsigned char>(text[0]);
  size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  if ((lead & 0xe0) == 0xc0) {
    length = 2, min = 0x80, cp = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, min = 0x800, cp = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, min = 0x10000, cp = lead & 0x07;
  } else {
    return 0;  // a continuation byte or 0xf8..0xff
  }
  if (text.size() < length) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(text[k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
  if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;
  return length;
}

std::string escape_text(std::string_view text, Newlines newlines) {
  std::string out;
  escape_into(out, text, newlines, false);
  return out;
}

std::string xml_escape(std::string_view text) {
  const std::string safe = escape_text(text);
  std::string out;
  out.reserve(safe.size());
  for (char ch : safe) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string quote_text(std::string_view text) {
  std::string out = "\"";
  escape_into(out, text, Newlines::Escape, true);
  out += '"';
  return out;
}

}  // namespace vhs
