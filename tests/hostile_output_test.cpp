// Text from peers and captures never reaches a terminal, a file or a Markdown renderer as
// something it would act on. Every text command runs over every hostile capture
// (tests/data/hostile, written by tools/gen_hostile_captures) and its stdout and stderr must be
// valid UTF-8 with no control character but the newline: no other C0 byte, no DEL, no C1 control
// (U+0080..U+009F), no bidi control or line separator. The escaping functions themselves are
// checked value by value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "app/common/json_format.hpp"
#include "app/common/report_format.hpp"
#include "app/common/text_escape.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ the escaping functions

TEST(EscapeText, ControlCharactersBecomeVisibleEscapes) {
  EXPECT_EQ(escape_text("a\nb"), "a\\nb");
  EXPECT_EQ(escape_text("\x1b[2J\x07"), "\\x1b[2J\\x07");
  EXPECT_EQ(escape_text(std::string_view("\0\t\r\x7f", 4)), "\\x00\\x09\\x0d\\x7f");
  // Backslashes and quotes stay: unquoted text is escaped only where it is unsafe.
  EXPECT_EQ(escape_text("C:\\dir \"x\""), "C:\\dir \"x\"");
  EXPECT_EQ(escape_text("two\nlines\x1b", Newlines::Keep), "two\nlines\\x1b");
}

TEST(EscapeText, C1ControlsAsRawBytesAndAsUtf8) {
  EXPECT_EQ(escape_text("\x9b"
                        "2J"),
            "\\x9b2J");  // a lone 0x9b is not UTF-8
  EXPECT_EQ(escape_text("\xc2\x9b"
                        "2J"),
            "\\u009b2J");  // U+009B, the 8-bit CSI, encoded
  EXPECT_EQ(escape_text("\xc2\x85"), "\\u0085");
  EXPECT_EQ(escape_text("\xc2\xa0"), "\xc2\xa0");  // U+00A0 is the first printable one
}

TEST(EscapeText, InvalidUtf8EscapedByteByByteValidKept) {
  EXPECT_EQ(escape_text("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(escape_text("\xc0\x80"), "\\xc0\\x80");                    // overlong NUL
  EXPECT_EQ(escape_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a UTF-16 surrogate
  EXPECT_EQ(escape_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  EXPECT_EQ(escape_text("\xe2\x82"), "\\xe2\\x82");                    // cut short
  EXPECT_EQ(escape_text("\xe2\x82x"), "\\xe2\\x82x");
  // Valid non-ASCII UTF-8 is text: µ, →, an emoji (4 bytes).
  EXPECT_EQ(escape_text("153.2 µs F→B \xf0\x9f\x92\xa5"), "153.2 µs F→B \xf0\x9f\x92\xa5");
}

TEST(EscapeText, BidiControlsAndSeparatorsEscaped) {
  EXPECT_EQ(escape_text("\xe2\x80\xae"
                        "abc"),
            "\\u202eabc");
  EXPECT_EQ(escape_text("\xe2\x81\xa6"), "\\u2066");
  EXPECT_EQ(escape_text("\xe2\x80\xa8"), "\\u2028");
}

TEST(EscapeText, EscapingTwiceChangesNothing) {
  const std::string hostile =
      "evil\n\x1b[31m\\x1b\xff\xc2\x9b\xe2\x80\xae\"q\" \\ µ" + std::string(1, '\0');
  const std::string once = escape_text(hostile);
  EXPECT_EQ(escape_text(once), once);
  EXPECT_EQ(escape_text(once, Newlines::Keep), once);
}

TEST(EscapeText, QuotedTextIsUnambiguous) {
  EXPECT_EQ(quote_text("a\nb\"c\\\x1b"), "\"a\\nb\\\"c\\\\\\x1b\"");
  // A literal backslash-x in the data differs from an escaped byte once quoted.
  EXPECT_NE(quote_text("\\x1b"), quote_text("\x1b"));
  EXPECT_EQ(quote_text("\xff\xc2\x9b"), "\"\\xff\\u009b\"");
}

TEST(MarkdownEscape, PeerTextRendersAsText) {
  EXPECT_EQ(md_cell("A|B\nC"), "A\\|B\\\\nC");
  EXPECT_EQ(md_cell("<script>alert(1)</script>"), "\\<script\\>alert(1)\\</script\\>");
  EXPECT_EQ(md_cell("**b** `c` [l](u) ~s~ &lt; $x$"),
            "\\*\\*b\\*\\* \\`c\\` \\[l\\](u) \\~s\\~ \\&lt; \\$x\\$");
  // '_' inside a word cannot open emphasis and stays readable; at a word edge it is escaped.
  EXPECT_EQ(md_cell("VERSION_1 _em_"), "VERSION_1 \\_em\\_");
  // Line starts that open blocks.
  EXPECT_EQ(md_cell("# h"), "\\# h");
  EXPECT_EQ(md_cell("- item"), "\\- item");
  EXPECT_EQ(md_cell("+ item"), "\\+ item");
  EXPECT_EQ(md_cell("12. item"), "12\\. item");
  EXPECT_EQ(md_cell("3) item"), "3\\) item");
  EXPECT_EQ(md_cell("1.5 s"), "1\\.5 s");
  // Terminal escaping comes first, and its backslashes are kept visible.
  EXPECT_EQ(md_cell("\x1b[2J"), "\\\\x1b\\[2J");
  EXPECT_EQ(md_escape(quote_text("a\"b")), "\"a\\\\\"b\"");
}

TEST(MarkdownEscape, CodeSpansAndBlocksOutlastTheirContent) {
  EXPECT_EQ(md_code_span("hang.pcap"), "`hang.pcap`");
  EXPECT_EQ(md_code_span("a`b"), "``a`b``");
  EXPECT_EQ(md_code_span("`x``"), "``` `x`` ```");
  EXPECT_EQ(md_code_span("a\x1b"), "`a\\x1b`");
  EXPECT_EQ(md_code_block("x\n"), "```text\nx\n```\n");
  EXPECT_EQ(md_code_block("a ``` b", "md"), "````md\na ``` b\n````\n");
}

TEST(JsonEscape, InvalidUtf8NeverThrowsAndControlsAreEscaped) {
  Json j;
  j["bad"] = std::string("\xff\xfe ok");
  j["c1"] = std::string(
      "\xc2\x9b"
      "2J");
  j["del"] = std::string("\x7f");
  j["bidi"] = std::string("\xe2\x80\xae");
  j["esc"] = std::string("\x1b[31m\n");
  std::string line;
  ASSERT_NO_THROW(line = json_line(j));
  EXPECT_EQ(line,
            "{\"bad\":\"\xef\xbf\xbd\xef\xbf\xbd ok\",\"c1\":\"\\u009b2J\",\"del\":\"\\u007f\","
            "\"bidi\":\"\\u202e\",\"esc\":\"\\u001b[31m\\n\"}");
  // The escapes are the same JSON strings.
  const Json back = Json::parse(line);
  EXPECT_EQ(back["c1"],
            "\xc2\x9b"
            "2J");
  EXPECT_EQ(back["del"], "\x7f");
  EXPECT_EQ(back["bidi"], "\xe2\x80\xae");
}

// ------------------------------------------------------------------ the CLI's whole output

// The first byte offset where `text` is not safe to show, with why; "" when it is.
std::string first_unsafe(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if ((b < 0x20 && b != '\n') || b == 0x7f)
        return fmt::format("control byte 0x{:02x} at offset {}", b, i);
      ++i;
      continue;
    }
    // Decoded here on purpose without text_escape's decoder: the check must not share its bugs.
    size_t n = (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || i + n > text.size())
      return fmt::format("invalid UTF-8 byte 0x{:02x} at offset {}", b, i);
    uint32_t cp = b & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xc0) != 0x80) return fmt::format("invalid UTF-8 at offset {}", i);
      cp = (cp << 6) | (c & 0x3f);
    }
    const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return fmt::format("invalid UTF-8 (U+{:04X}) at offset {}", cp, i);
    if (cp <= 0x9f) return fmt::format("C1 control U+{:04X} at offset {}", cp, i);
    if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069))
      return fmt::format("bidi control or separator U+{:04X} at offset {}", cp, i);
    i += n;
  }
  return {};
}

std::string around(std::string_view text, const std::string& why) {
  const size_t at = why.rfind(' ');
  const size_t offset = std::stoul(why.substr(at + 1));
  const size_t from = offset > 60 ? offset - 60 : 0;
  return escape_text(text.substr(from, 120));
}

const char* const kHostileDir = "tests/data/hostile";
const char* const kTextCapture = "tests/data/hostile/hostile-text.pcap";

std::vector<std::string> hostile_captures() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(VHS_SOURCE_DIR) / kHostileDir, ec))
    if (e.path().extension() == ".pcap")
      out.push_back(std::string(kHostileDir) + "/" + e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every command that prints text about a capture, CAPTURE standing for the capture's path.
const std::vector<std::vector<std::string>>& text_commands() {
  static const std::vector<std::vector<std::string>> commands = {
      {"dump", "CAPTURE"},
      {"dump", "-V", "CAPTURE"},
      {"dump", "-t", "ad", "CAPTURE"},
      {"dump", "--json", "CAPTURE"},
      {"summary", "CAPTURE"},
      {"summary", "--json", "CAPTURE"},
      {"rings", "CAPTURE"},
      {"rings", "--json", "CAPTURE"},
      {"stats", "CAPTURE"},
      {"stats", "--json", "CAPTURE"},
      {"report", "CAPTURE"},
      {"memmap", "CAPTURE"},
      // Field-level changes quote both captures' values (fd names, notes).
      {"diff", "-e", "-U", "1000", "CAPTURE", kTextCapture},
      {"diff", "-e", "-U", "1000", kTextCapture, "CAPTURE"},
  };
  return commands;
}

class HostileOutput : public ::testing::Test {
 protected:
  void SetUp() override { fs::current_path(VHS_SOURCE_DIR); }
};

TEST_F(HostileOutput, EveryTextCommandOverEveryHostileCaptureIsSafeText) {
  const auto captures = hostile_captures();
  ASSERT_GE(captures.size(), 13u);
  test::TempDir scratch;
  size_t runs = 0;
  for (const std::string& capture : captures) {
    for (const auto& command : text_commands()) {
      std::vector<std::string> argv = {test::vhostscope_binary()};
      std::string shown = "vhostscope";
      for (const std::string& a : command) {
        argv.push_back(a == "CAPTURE" ? capture : a);
        shown += " " + argv.back();
      }
      const test::CommandResult r = test::run_command(argv, scratch.path());
      ++runs;
      // Damage is reported, never a crash or a hang (2: an empty or cut file the command refuses).
      EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2)
          << shown << " exited " << r.exit_code;
      const std::string out_problem = first_unsafe(r.out);
      EXPECT_EQ(out_problem, "") << shown << " stdout: ..." << around(r.out, out_problem) << "...";
      const std::string err_problem = first_unsafe(r.err);
      EXPECT_EQ(err_problem, "") << shown << " stderr: ..." << around(r.err, err_problem) << "...";
    }
  }
  EXPECT_EQ(runs, captures.size() * text_commands().size());
}

// The check above is not vacuous: the hostile text capture puts its text in every output, and
// it comes out escaped.
TEST_F(HostileOutput, HostileTextShowsUpEscaped) {
  test::TempDir scratch;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), test::vhostscope_binary());
    const test::CommandResult r = test::run_command(args, scratch.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  auto contains = [](const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
  };
  const std::string memfd = "memfd:\\x1b[2J\\x07pc.ram\\n| x | <script>";
  const std::string note =
      "\"evil\\nfront-end \\x1b[31mred\\x1b[0m \\\"quoted\\\" \\\\ \\xff\\xfe \\x9b2J \\u009b2J "
      "\\u202edesrever\\x00end\"";

  const std::string dump = run({"dump", "-V", kTextCapture});
  EXPECT_TRUE(contains(dump, note)) << dump;
  EXPECT_TRUE(contains(dump, memfd)) << dump;
  EXPECT_TRUE(contains(dump, "socket:[7001]\\x1b[1A\\x0d\\u0085")) << dump;
  EXPECT_TRUE(contains(dump, "config.data.tag = \"tag??????|x|<b>*?\"")) << dump;
  EXPECT_TRUE(contains(dump, "! relay-failed (error): | x | y |\\n# heading\\n- item")) << dump;
  EXPECT_TRUE(contains(dump, "\"closed\\x0d\\nby\\x09peer\\x7f\"")) << dump;

  const std::string summary = run({"summary", kTextCapture});
  EXPECT_TRUE(contains(summary, "  Connected: #1 " + note)) << summary;
  EXPECT_TRUE(contains(summary, "'" + memfd + "'")) << summary;
  EXPECT_TRUE(contains(summary, "first: | x | y |\\n# heading")) << summary;

  const std::string memmap = run({"memmap", kTextCapture});
  EXPECT_TRUE(contains(memmap, "fd " + memfd + "\n")) << memmap;

  const std::string report = run({"report", kTextCapture});
  EXPECT_TRUE(contains(report,
                       "`relay-failed` — \\| x \\| y \\|\\\\n# heading\\\\n- item "
                       "\\<script\\>alert(1)\\</script\\> \\*\\*bold\\*\\* \\_em\\_ \\`code\\` "
                       "\\[link\\](http://example.com) \\&lt; 1. \\\\x1b\\]0;owned\\\\x07\n"))
      << report;
  EXPECT_TRUE(contains(report, "| error | `relay-failed` | 2 | #15 | \\| x \\| y \\|")) << report;
  EXPECT_TRUE(contains(report, "- Connection: \"evil\\\\nfront-end \\\\x1b\\[31mred")) << report;
  // Raw HTML only inside fenced code blocks (the dump lines), where Markdown shows it as text.
  std::string outside_code;
  bool in_code = false;
  for (size_t at = 0; at < report.size();) {
    const size_t end = std::min(report.find('\n', at), report.size());
    const std::string_view line(report.data() + at, end - at);
    if (line.starts_with("```"))
      in_code = !in_code;
    else if (!in_code)
      outside_code += std::string(line) + "\n";
    at = end + 1;
  }
  EXPECT_FALSE(contains(outside_code, "<script>")) << outside_code;
  EXPECT_FALSE(contains(outside_code, "| x |")) << outside_code;

  const std::string json = run({"dump", "--json", kTextCapture});
  EXPECT_TRUE(contains(json, "\\u009b2J")) << json;
  EXPECT_TRUE(contains(json, "memfd:\\u001b[2J\\u0007pc.ram\\n| x | <script>")) << json;
}

}  // namespace
}  // namespace vhs
