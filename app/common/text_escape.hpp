// Escaping of text that comes from outside vhostscope (peer data, capture notes, fd names, file
// names) before it reaches a terminal, a file or the GUI. A hostile peer or a crafted capture
// must not be able to move the cursor, clear the screen, fake output lines or garble a renderer.
//
// The one form used everywhere:
//   - a newline is "\n"; every other C0 control byte and DEL is "\xNN" ("\x1b", "\x00", "\x09");
//   - the C1 controls U+0080..U+009F, the line/paragraph separators U+2028/U+2029 and the
//     bidirectional controls U+202A..U+202E and U+2066..U+2069 are "\uNNNN" ("\u009b");
//   - a byte that is not part of valid UTF-8 (stray, truncated, overlong or surrogate
//     sequences) is "\xNN" ("\xff");
//   - every other character, ASCII or valid non-ASCII UTF-8, is kept as it is.
// Backslashes are kept, so escape_text(escape_text(x)) == escape_text(x) and text may safely be
// escaped twice; quote_text escapes backslashes and quotes too, so a quoted note is unambiguous.
#pragma once

#include <string>
#include <string_view>

namespace vhs {

enum class Newlines {
  Escape,  // "\n": the text stays on one line (almost every use)
  Keep,    // kept: multi-line text meant as several lines (ctl answers, GUI blocks)
};

// `text` with every control character and invalid UTF-8 byte escaped as above.
std::string escape_text(std::string_view text, Newlines newlines = Newlines::Escape);

// `text` in double quotes on one line, escaped as above plus "\"" and "\\".
std::string quote_text(std::string_view text);

// `text` for an XML attribute or element: escape_text first (XML 1.0 allows no control
// characters at all), then the five markup characters as entities.
std::string xml_escape(std::string_view text);

// True for the code points escape_text escapes (C0, DEL, C1, separators, bidi controls).
bool is_unsafe_code_point(char32_t cp);

// The length of the valid UTF-8 sequence at the start of `text` and its code point; 0 when the
// first byte does not start one (or `text` is empty).
size_t utf8_sequence(std::string_view text, char32_t& cp);

}  // namespace vhs
