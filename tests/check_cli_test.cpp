// `vhostscope check` end to end with the real binary: the shipped QEMU captures pass, the JUnit
// XML parses (expat) into one test case per rule with a failure per violation, the filters and
// -o work, the JSON keys are the documented ones, and docs/rules.md is what --list-rules writes.
#include <expat.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "decoders/conformance/rules.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kSource = VHS_SOURCE_DIR;
const std::string kBoot = kSource + "/captures/samples/blk-boot.pcap";
const std::string kHang = kSource + "/captures/samples/blk-hang.pcap";
// Front-end violations only: SET_VRING_NUM before SET_OWNER, acks of bits not offered, a queue
// index beyond GET_QUEUE_NUM.
const std::string kBadValues = kSource + "/tests/data/hostile/bad-session-values.pcap";

test::CommandResult check(std::vector<std::string> args) {
  static test::TempDir logs;
  args.insert(args.begin(), {test::vhostscope_binary(), "check"});
  return test::run_command(args, logs.path());
}

std::vector<std::string> shipped_captures() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kSource + "/captures/samples"))
    if (e.path().extension() == ".pcap") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- a small element tree from expat, enough to check the JUnit structure

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::vector<std::unique_ptr<XmlElement>> children;
  std::string text;

  std::vector<const XmlElement*> all(const std::string& child) const {
    std::vector<const XmlElement*> out;
    for (const auto& c : children)
      if (c->name == child) out.push_back(c.get());
    return out;
  }
  std::string attr(const std::string& key) const {
    auto it = attributes.find(key);
    return it == attributes.end() ? std::string() : it->second;
  }
};

struct XmlBuilder {
  std::unique_ptr<XmlElement> root;
  std::vector<XmlElement*> open;
};

std::unique_ptr<XmlElement> parse_xml(const std::string& text, std::string& error) {
  XmlBuilder b;
  XML_Parser parser = XML_ParserCreate("UTF-8");
  XML_SetUserData(parser, &b);
  XML_SetElementHandler(
      parser,
      [](void* data, const XML_Char* name, const XML_Char** atts) {
        auto* b = static_cast<XmlBuilder*>(data);
        auto e = std::make_unique<XmlElement>();
        e->name = name;
        for (size_t i = 0; atts[i]; i += 2) e->attributes[atts[i]] = atts[i + 1];
        XmlElement* raw = e.get();
        if (b->open.empty())
          b->root = std::move(e);
        else
          b->open.back()->children.push_back(std::move(e));
        b->open.push_back(raw);
      },
      [](void* data, const XML_Char*) { static_cast<XmlBuilder*>(data)->open.pop_back(); });
  XML_SetCharacterDataHandler(parser, [](void* data, const XML_Char* s, int len) {
    auto* b = static_cast<XmlBuilder*>(data);
    if (!b->open.empty()) b->open.back()->text.append(s, static_cast<size_t>(len));
  });
  if (XML_Parse(parser, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_ERROR) {
    error = std::string(XML_ErrorString(XML_GetErrorCode(parser))) + " at line " +
            std::to_string(XML_GetCurrentLineNumber(parser));
    b.root.reset();
  }
  XML_ParserFree(parser);
  return std::move(b.root);
}

TEST(CheckCli, ShippedCapturesPassTheQemuProfile) {
  for (const std::string& capture : shipped_captures()) {
    const auto qemu = check({"--profile", "qemu", capture});
    EXPECT_EQ(qemu.exit_code, 0) << capture << "\n" << qemu.out << qemu.err;
    EXPECT_NE(qemu.out.find(": 0 violations"), std::string::npos) << qemu.out;
    // Whatever the letter of the spec finds in QEMU's own traffic must be a deviation the
    // catalogue (and so docs/rules.md) lists with its reason.
    const auto spec = check({"--profile", "spec", "--format", "json", capture});
    ASSERT_NE(spec.exit_code, 2) << spec.err;
    const json j = json::parse(spec.out);
    for (const json& v : j.at("captures").at(0).at("violations")) {
      const Rule* rule = find_rule(v.at("rule").get<std::string>());
      ASSERT_NE(rule, nullptr);
      EXPECT_FALSE(rule->qemu_deviation.empty())
          << capture << ": " << rule->id << " is not a listed QEMU deviation";
    }
  }
}

TEST(CheckCli, HangIsADiagnosticNotAViolation) {
  // blk-hang.pcap: a SIGSTOPped back-end leaves GET_VRING_BASE unanswered and the ring stalled.
  const auto r = check({kHang});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(CheckCli, JunitHasOneTestcasePerRuleAndAFailurePerViolation) {
  const auto r = check({"--format", "junit", kBadValues, kBoot});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  std::string error;
  const auto root = parse_xml(r.out, error);
  ASSERT_TRUE(root) << error << "\n" << r.out;
  EXPECT_EQ(root->name, "testsuites");
  const auto suites = root->all("testsuite");
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[0]->attr("name"), kBadValues);
  EXPECT_EQ(suites[1]->attr("name"), kBoot);
  size_t all_failed = 0;
  std::map<std::string, size_t> failures_by_rule;
  for (const XmlElement* suite : suites) {
    const auto cases = suite->all("testcase");
    ASSERT_EQ(cases.size(), all_rules().size());
    EXPECT_EQ(suite->attr("tests"), std::to_string(all_rules().size()));
    size_t failed = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
      const std::string id(all_rules()[i].id);
      EXPECT_EQ(cases[i]->attr("name").rfind(id + " ", 0), 0u) << cases[i]->attr("name");
      const auto failures = cases[i]->all("failure");
      failed += failures.empty() ? 0 : 1;
      for (const XmlElement* f : failures) {
        EXPECT_EQ(f->attr("type"), id);
        EXPECT_NE(f->text.find("expected: "), std::string::npos) << f->text;
        EXPECT_NE(f->text.find("spec \""), std::string::npos) << f->text;
        if (suite == suites[0]) ++failures_by_rule[id];
      }
    }
    EXPECT_EQ(suite->attr("failures"), std::to_string(failed));
    all_failed += failed;
  }
  EXPECT_EQ(suites[1]->attr("failures"), "0");
  EXPECT_EQ(root->attr("failures"), std::to_string(all_failed));
  const std::map<std::string, size_t> expected = {
      {"VU-OWN-001", 1}, {"VU-NEG-003", 1}, {"VU-NEG-002", 1}, {"VU-RING-011", 1}};
  EXPECT_EQ(failures_by_rule, expected);
}

TEST(CheckCli, SkippedRulesAreSkippedTestcases) {
  const auto r = check({"--format", "junit", "--skip", "VU-OWN-001", kBadValues});
  std::string error;
  const auto root = parse_xml(r.out, error);
  ASSERT_TRUE(root) << error;
  const auto cases = root->all("testsuite").at(0)->all("testcase");
  size_t skipped = 0;
  for (const XmlElement* c : cases) {
    if (c->all("skipped").empty()) continue;
    ++skipped;
    EXPECT_EQ(c->attr("name").rfind("VU-OWN-001 ", 0), 0u);
    EXPECT_TRUE(c->all("failure").empty());
  }
  EXPECT_EQ(skipped, 1u);
}

TEST(CheckCli, TextNamesRuleSideRecordExpectationAndSection) {
  const auto r = check({"--rule", "VU-NEG-002", kBadValues});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("VU-NEG-002 error front-end (session 1): SET_FEATURES MUST ack only bits"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  at #11 ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  happened: SET_FEATURES acks 0x400000000 (RING_PACKED)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  spec \"Front-end message types\"; VIRTIO \"Feature Bits\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("1 rule checked (spec profile), 1 violation in 1 capture"),
            std::string::npos)
      << r.out;
}

TEST(CheckCli, BlameCountsOnlyTheChosenSide) {
  EXPECT_EQ(check({"--blame", "backend", kBadValues}).exit_code, 0);
  EXPECT_EQ(check({"--blame", "frontend", kBadValues}).exit_code, 1);
  EXPECT_EQ(check({"--blame", "any", kBadValues}).exit_code, 1);
  const auto r = check({"--blame", "backend", "--format", "json", kBadValues});
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("blame"), "backend");
  EXPECT_EQ(j.at("violations"), 0);
}

TEST(CheckCli, BadInputExitsTwo) {
  test::TempDir dir;
  EXPECT_EQ(check({}).exit_code, 2);
  EXPECT_EQ(check({"--blame", "nobody", kBoot}).exit_code, 2);
  EXPECT_EQ(check({"--profile", "kvm", kBoot}).exit_code, 2);
  EXPECT_EQ(check({"--format", "xml", kBoot}).exit_code, 2);
  const auto unknown = check({"--rule", "VU-NOPE-001", kBoot});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("vhostscope check: unknown rule 'VU-NOPE-001'"), std::string::npos)
      << unknown.err;
  EXPECT_EQ(check({kBoot, dir / "missing.pcap"}).exit_code, 2);
  EXPECT_EQ(check({"--session", "7", kBoot}).exit_code, 2);
}

TEST(CheckCli, OutputFileHoldsTheReport) {
  test::TempDir dir;
  const std::string report = dir / "check.xml";
  const auto r = check({"--format", "junit", "-o", report, kBadValues});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  const std::string written = test::read_text_file(report);
  EXPECT_EQ(written.rfind("<?xml", 0), 0u) << written;
  // A symbolic link at the path is refused (output_file's rules), and the check cannot run.
  fs::create_symlink(dir / "elsewhere", dir / "link.xml");
  EXPECT_EQ(check({"-o", dir / "link.xml", kBoot}).exit_code, 2);
  EXPECT_FALSE(fs::exists(dir / "elsewhere"));
}

// The keys of `check --format json` are the ones docs/json.md documents under "## check".
TEST(CheckCli, JsonKeysAreDocumented) {
  std::ifstream in(kSource + "/docs/json.md");
  std::set<std::string> documented;
  bool in_check = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) in_check = line == "## check";
    if (!in_check || line.rfind("| `", 0) != 0) continue;
    documented.insert(line.substr(3, line.find('`', 3) - 3));
  }
  ASSERT_FALSE(documented.empty());
  const auto r = check({"--format", "json", kBadValues});
  const json j = json::parse(r.out);
  std::set<std::string> seen;
  std::function<void(const json&, const std::string&)> walk = [&](const json& v,
                                                                  const std::string& prefix) {
    if (v.is_object()) {
      for (const auto& [k, child] : v.items()) {
        const std::string key = prefix.empty() ? k : prefix + "." + k;
        seen.insert(key);
        walk(child, key);
      }
    } else if (v.is_array()) {
      for (const json& e : v)
        if (e.is_object()) walk(e, prefix + "[]");
    }
  };
  walk(j, "");
  EXPECT_EQ(seen, documented);
}

TEST(CheckCli, RulesDocIsGeneratedFromTheCatalogue) {
  const auto r = check({"--list-rules", "--format", "markdown"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, test::read_text_file(kSource + "/docs/rules.md"))
      << "docs/rules.md is stale: run scripts/update-rules-doc.sh";
  for (const Rule& rule : all_rules())
    EXPECT_NE(r.out.find(std::string("| ") + std::string(rule.id) + " |"), std::string::npos);
}

TEST(CheckCli, PeerTextIsEscaped) {
  const auto r = check({kSource + "/tests/data/hostile/hostile-text.pcap"});
  for (unsigned char ch : r.out) EXPECT_TRUE(ch >= 0x20 || ch == '\n') << int(ch);
}

}  // namespace
}  // namespace vhs
