// JSON output against its documented schema: the key tables of docs/json.md are read as the
// schema, and `dump --json`, `summary --json`, `rings --json` and `stats --json` of every shipped
// capture (captures/samples, tests/data/hostile) must carry every documented key with its type.
// Then a few exact values, so the output is not only well-formed but right.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct KeyRule {
  std::string key;   // "fields[].path"
  std::string type;  // "string|null"
};
using Schema = std::map<std::string, std::vector<KeyRule>>;  // "## record" -> its rows

fs::path source_dir() { return fs::path(VHS_SOURCE_DIR); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The "| `key` | type | meaning |" rows of each "## name" section.
const Schema& documented_schema() {
  static const Schema schema = [] {
    Schema s;
    std::istringstream in(read_text(source_dir() / "docs/json.md"));
    std::string section;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("## ", 0) == 0) section = line.substr(3);
      if (line.rfind("| `", 0) != 0 || section.empty()) continue;
      const size_t key_end = line.find('`', 3);
      const size_t type_begin = line.find("| ", key_end) + 2;
      const size_t type_end = line.find(" |", type_begin);
      std::string type = line.substr(type_begin, type_end - type_begin);
      type.erase(std::remove(type.begin(), type.end(), '\\'), type.end());
      s[section].push_back({line.substr(3, key_end - 3), type});
    }
    return s;
  }();
  return schema;
}

bool has_type(const json& v, const std::string& one) {
  if (one == "any") return true;
  if (one == "null") return v.is_null();
  if (one == "string") return v.is_string();
  if (one == "integer") return v.is_number_integer();
  if (one == "number") return v.is_number();
  if (one == "boolean") return v.is_boolean();
  if (one == "array") return v.is_array();
  if (one == "object") return v.is_object();
  ADD_FAILURE() << "docs/json.md uses an unknown type '" << one << "'";
  return false;
}

bool matches_type(const json& v, const std::string& spec) {
  std::istringstream alternatives(spec);
  for (std::string one; std::getline(alternatives, one, '|');)
    if (has_type(v, one)) return true;
  return false;
}

// Checks `rule` under `v`, following "a.b" into objects and "a[]" into every array element. A
// parent that is null (documented as nullable) has no children to check.
void check_key(const json& v, const std::string& rest, const KeyRule& rule,
               const std::string& where, size_t& checked) {
  const size_t dot = rest.find('.');
  std::string head = rest.substr(0, dot);
  const bool each = head.size() > 2 && head.compare(head.size() - 2, 2, "[]") == 0;
  if (each) head.resize(head.size() - 2);
  ASSERT_TRUE(v.is_object()) << where << ": expected an object holding '" << head << "'";
  ASSERT_TRUE(v.contains(head)) << where << ": missing key '" << rule.key << "' in " << v.dump();
  const json& child = v.at(head);
  if (dot == std::string::npos && !each) {
    EXPECT_TRUE(matches_type(child, rule.type)) << where << ": key '" << rule.key << "' is "
                                                << child.dump() << ", documented as " << rule.type;
    ++checked;
    return;
  }
  if (child.is_null()) return;
  const std::string tail = dot == std::string::npos ? std::string() : rest.substr(dot + 1);
  if (each) {
    ASSERT_TRUE(child.is_array()) << where << ": '" << head << "' is not an array";
    for (size_t i = 0; i < child.size(); ++i) {
      if (tail.empty()) continue;
      check_key(child[i], tail, rule, where + "/" + head + "[" + std::to_string(i) + "]", checked);
    }
    return;
  }
  check_key(child, tail, rule, where + "/" + head, checked);
}

size_t check_against(const json& v, const std::string& section, const std::string& where) {
  const auto it = documented_schema().find(section);
  EXPECT_NE(it, documented_schema().end()) << "docs/json.md has no '## " << section << "' table";
  size_t checked = 0;
  if (it == documented_schema().end()) return 0;
  for (const KeyRule& rule : it->second) check_key(v, rule.key, rule, where, checked);
  EXPECT_EQ(v.value("schema", ""), "vhostscope/1") << where;
  EXPECT_EQ(v.value("type", ""), section) << where;
  return checked;
}

std::vector<std::string> shipped_captures() {
  std::vector<std::string> out;
  for (const char* dir : {"captures/samples", "tests/data/hostile"})
    for (const auto& e : fs::directory_iterator(source_dir() / dir))
      if (e.path().extension() == ".pcap")
        out.push_back(std::string(dir) + "/" + e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

test::CommandResult vhostscope(std::vector<std::string> args) {
  args.insert(args.begin(), test::vhostscope_binary());
  test::TempDir scratch;
  return test::run_command(args, scratch.path());
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

class JsonOutput : public ::testing::Test {
 protected:
  void SetUp() override { fs::current_path(source_dir()); }
};

TEST_F(JsonOutput, SchemaTablesAreReadFromTheDocs) {
  const Schema& s = documented_schema();
  for (const char* section : {"record", "summary", "rings", "stats"}) {
    ASSERT_TRUE(s.count(section)) << section;
    EXPECT_GE(s.at(section).size(), 10u) << section;
  }
}

TEST_F(JsonOutput, EveryShippedCaptureMatchesTheDocumentedSchema) {
  const auto captures = shipped_captures();
  ASSERT_GE(captures.size(), 10u);
  size_t records = 0, fields = 0, checked = 0;
  for (const std::string& capture : captures) {
    SCOPED_TRACE(capture);
    auto dump = vhostscope({"dump", "--json", capture});
    ASSERT_EQ(dump.exit_code, 0) << dump.err;
    const auto text = vhostscope({"dump", capture});
    const auto lines = json_lines(dump.out);
    EXPECT_EQ(lines.size(), static_cast<size_t>(std::count(text.out.begin(), text.out.end(), '\n')))
        << "one JSON line per record";
    for (size_t i = 0; i < lines.size(); ++i) {
      checked += check_against(lines[i], "record", capture + " record " + std::to_string(i + 1));
      EXPECT_EQ(lines[i]["number"], i + 1);
      fields += lines[i]["fields"].size();
    }
    records += lines.size();
    for (const auto& [command, section] :
         std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"summary", "--json"}, "summary"},
             {{"rings", "--json"}, "rings"},
             {{"rings", "--json", "--end"}, "rings"},
             {{"stats", "--json"}, "stats"}}) {
      auto args = command;
      args.push_back(capture);
      const auto r = vhostscope(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto objects = json_lines(r.out);
      ASSERT_EQ(objects.size(), 1u) << r.out;
      checked += check_against(objects[0], section, capture + " " + command[0]);
      if (section == "stats")
        for (const json& s : objects[0]["sessions"])
          for (const KeyRule& rule : documented_schema().at("stats"))
            if (rule.key.rfind("overall.", 0) == 0) {
              const KeyRule inner{rule.key.substr(8), rule.type};
              check_key(s, inner.key, inner, capture + " stats session", checked);
            }
    }
  }
  EXPECT_GT(records, 400u);
  EXPECT_GT(fields, 3000u);
  EXPECT_GT(checked, 20000u);
}

TEST_F(JsonOutput, RecordCarriesTypedFieldValuesRepliesAndFds) {
  auto r = vhostscope({"dump", "--json", "captures/samples/blk-boot.pcap"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = json_lines(r.out);
  // The first GET_FEATURES request and its reply, linked both ways.
  const auto request = std::find_if(lines.begin(), lines.end(), [](const json& j) {
    return j["kind"] == "message" && j["request"]["name"] == "GET_FEATURES" &&
           j["role"] == "request";
  });
  ASSERT_NE(request, lines.end());
  EXPECT_EQ((*request)["request"]["number"], 1);
  EXPECT_EQ((*request)["direction"], "to_backend");
  EXPECT_EQ((*request)["channel"], "frontend");
  EXPECT_EQ((*request)["expects"], "reply");
  ASSERT_TRUE((*request)["answered_by"].is_number_integer());
  const json& reply = lines.at((*request)["answered_by"].get<size_t>() - 1);
  EXPECT_EQ(reply["answers"], (*request)["number"]);
  EXPECT_EQ(reply["role"], "reply");
  EXPECT_EQ(reply["direction"], "to_frontend");
  EXPECT_GT(reply["latency_ns"].get<uint64_t>(), 0u);
  EXPECT_EQ(reply["latency_ns"].get<uint64_t>(),
            reply["timestamp_ns"].get<uint64_t>() - (*request)["timestamp_ns"].get<uint64_t>());
  const auto features = std::find_if(reply["fields"].begin(), reply["fields"].end(),
                                     [](const json& f) { return f["path"] == "features"; });
  ASSERT_NE(features, reply["fields"].end());
  EXPECT_EQ((*features)["type"], "flags");
  EXPECT_EQ((*features)["field"], "vhostuser.features");
  EXPECT_TRUE((*features)["value"].is_number_unsigned());
  const auto& names = (*features)["names"];
  EXPECT_NE(std::find(names.begin(), names.end(), "VERSION_1"), names.end()) << *features;
  EXPECT_NE((*features)["value"].get<uint64_t>() & (uint64_t{1} << 32), 0u);
  // ADD_MEM_REG: region fields as numbers and a memfd described with its role.
  const auto mem = std::find_if(lines.begin(), lines.end(), [](const json& j) {
    return j["kind"] == "message" && j["request"]["name"] == "ADD_MEM_REG";
  });
  ASSERT_NE(mem, lines.end());
  ASSERT_FALSE((*mem)["fds"].empty());
  EXPECT_EQ((*mem)["fds"][0]["kind"], "memfd");
  EXPECT_GT((*mem)["fds"][0]["size"].get<uint64_t>(), 0u);
  EXPECT_NE((*mem)["fds"][0]["role"].get<std::string>().find("region"), std::string::npos)
      << (*mem)["fds"][0];
  const auto gpa = std::find_if((*mem)["fields"].begin(), (*mem)["fields"].end(),
                                [](const json& f) { return f["path"] == "region.gpa"; });
  ASSERT_NE(gpa, (*mem)["fields"].end());
  EXPECT_EQ((*gpa)["type"], "address");
  EXPECT_EQ((*gpa)["field"], "vhostuser.region.gpa");
  EXPECT_TRUE((*gpa)["value"].is_number_unsigned());
  const auto size = std::find_if((*mem)["fields"].begin(), (*mem)["fields"].end(),
                                 [](const json& f) { return f["path"] == "region.size"; });
  ASSERT_NE(size, (*mem)["fields"].end());
  EXPECT_EQ((*size)["value"], (*mem)["fds"][0]["size"]);  // 256 MiB, as a number
}

TEST_F(JsonOutput, FindingsAndSummaryAgreeOnTheHang) {
  auto dump =
      vhostscope({"dump", "--json", "-Y", "finding:unanswered", "captures/samples/blk-hang.pcap"});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  const auto lines = json_lines(dump.out);
  ASSERT_FALSE(lines.empty());
  auto summary = vhostscope({"summary", "--json", "captures/samples/blk-hang.pcap"});
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  const json s = json::parse(summary.out);
  std::vector<uint64_t> waiting;
  for (const json& session : s["sessions"])
    for (const json& w : session["waiting"]) waiting.push_back(w["record"]);
  ASSERT_FALSE(waiting.empty());
  for (const json& line : lines) {
    bool unanswered = false;
    for (const json& f : line["findings"]) unanswered |= f["id"] == "unanswered";
    EXPECT_TRUE(unanswered) << line;
    EXPECT_NE(std::find(waiting.begin(), waiting.end(), line["number"].get<uint64_t>()),
              waiting.end());
  }
}

// summary --json carries the same violations as `check` (spec profile, any side), and each finding
// group names its rules or says why it is a diagnostic.
TEST_F(JsonOutput, SummaryConformanceAgreesWithCheck) {
  const std::string capture = "tests/data/hostile/missing-fds.pcap";
  auto summary = vhostscope({"summary", "--json", capture});
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  auto check = vhostscope({"check", "--format", "json", capture});
  ASSERT_EQ(check.exit_code, 1) << check.err;
  std::vector<std::pair<std::string, uint64_t>> from_summary, from_check;
  const json s = json::parse(summary.out);
  bool some_rule = false, some_diagnostic = false;
  for (const json& session : s["sessions"]) {
    EXPECT_EQ(session["conformance"]["profile"], "spec");
    for (const json& v : session["conformance"]["violations"])
      from_summary.emplace_back(v["rule"], v["record"]);
    for (const json& g : session["findings"]["groups"]) {
      if (g["diagnostic"].get<bool>()) {
        some_diagnostic = true;
        EXPECT_TRUE(g["rules"].empty()) << g;
        EXPECT_FALSE(g["diagnostic_reason"].get<std::string>().empty()) << g;
      } else {
        some_rule = true;
        EXPECT_EQ(g["rules"][0].get<std::string>().rfind("VU-", 0), 0u) << g;
      }
    }
  }
  const json checked = json::parse(check.out);
  for (const json& c : checked["captures"])
    for (const json& v : c["violations"]) from_check.emplace_back(v["rule"], v["record"]);
  EXPECT_FALSE(from_summary.empty());
  EXPECT_EQ(from_summary, from_check);
  EXPECT_TRUE(some_rule);
  EXPECT_TRUE(some_diagnostic);

  // The device status as the text summary shows it for blk-boot: inferred (QEMU 7.2 did not
  // negotiate STATUS), FEATURES_OK at #21, DRIVER_OK when the ring started at #29.
  auto boot = vhostscope({"summary", "--json", "captures/samples/blk-boot.pcap"});
  ASSERT_EQ(boot.exit_code, 0) << boot.err;
  const json steps = json::parse(boot.out)["sessions"][0]["device_status"];
  ASSERT_EQ(steps.size(), 4u) << steps;
  EXPECT_EQ(steps[0]["record"], 21);
  EXPECT_EQ(steps[0]["names"], "ACKNOWLEDGE|DRIVER|FEATURES_OK");
  EXPECT_EQ(steps[1]["record"], 29);
  EXPECT_EQ(steps[1]["status"], 0xf);
  EXPECT_TRUE(steps[1]["inferred"].get<bool>());
}

TEST_F(JsonOutput, HostileTextStaysOneValidLinePerRecord) {
  auto r = vhostscope({"dump", "--json", "tests/data/hostile/hostile-text.pcap"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t notes = 0;
  for (const json& j : json_lines(r.out)) notes += j.contains("note");
  EXPECT_GT(notes, 0u);
}

}  // namespace
}  // namespace vhs
