// `vhostscope check FILE...`: the conformance gate. Runs the rule catalogue
// (decoders/conformance) over every session of each capture and reports the violations: which
// rule, which side is to blame, which messages (record numbers and times), what was expected and
// what happened, and the spec section. Exit 0 when nothing is left after --blame/--profile/--rule/
// --skip, 1 when violations remain, 2 when it could not run. `--list-rules` prints the catalogue
// (docs/rules.md is its Markdown form).
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app/cli/args.hpp"
#include "app/cli/capture_input.hpp"
#include "app/cli/commands.hpp"
#include "app/common/check_session.hpp"
#include "app/common/json_format.hpp"
#include "app/common/text_format.hpp"
#include "captures/format/output_file.hpp"
#include "captures/model/store.hpp"
#include "decoders/conformance/checker.hpp"

namespace vhs::cli {

namespace {

constexpr std::string_view kCommand = "check";

enum class Blame : uint8_t { Any, Frontend, Backend };
enum class Format : uint8_t { Text, Json, Junit, Markdown };

struct Settings {
  Blame blame = Blame::Any;
  Profile profile = Profile::Spec;
  std::vector<const Rule*> only;  // --rule
  std::vector<const Rule*> skip;  // --skip
  Format format = Format::Text;
};

// Why a rule's violations are not counted in this run ("" = they count).
std::string excluded_because(const Rule& rule, const Settings& s) {
  auto listed = [&](const std::vector<const Rule*>& l) {
    for (const Rule* r : l)
      if (r == &rule) return true;
    return false;
  };
  if (!s.only.empty() && !listed(s.only)) return "not selected by --rule";
  if (listed(s.skip)) return "skipped by --skip";
  if (!rule_applies(rule, s.profile))
    return fmt::format("accepted by --profile qemu: {}", rule.qemu_deviation);
  return {};
}

bool blamed_counts(Side side, Blame blame) {
  return blame == Blame::Any || (blame == Blame::Frontend && side == Side::Frontend) ||
         (blame == Blame::Backend && side == Side::Backend);
}

struct Found {
  uint32_t session = 0;
  Violation v;
};

struct CaptureResult {
  std::string path;
  uint64_t base_ns = 0;    // the capture's first timestamp: times are shown relative to it
  std::vector<Found> all;  // every violation the rules found, before the filters
};

std::string related_text(const Violation& v) {
  std::string s;
  for (MessageRef r : v.related) {
    if (r == kNoMessage) continue;
    s += s.empty() ? "" : ", ";
    s += record_number(r);
  }
  return s;
}

std::string sections_text(const Rule& r) {
  std::string s = fmt::format("spec \"{}\"", r.section);
  if (!r.virtio.empty()) s += fmt::format("; VIRTIO \"{}\"", r.virtio);
  return s;
}

// ---- text

std::string format_text(const std::vector<CaptureResult>& results, const Settings& s,
                        size_t& counted) {
  std::string out;
  counted = 0;
  for (const CaptureResult& c : results) {
    size_t here = 0;
    std::string body;
    for (const Found& f : c.all) {
      const Rule& rule = rule_info(f.v.rule);
      if (!excluded_because(rule, s).empty() || !blamed_counts(f.v.blamed, s.blame)) continue;
      ++here;
      body += fmt::format("{} {} {} (session {}): {}\n", rule.id, severity_name(rule.severity),
                          side_name(f.v.blamed), f.session, rule.statement);
      const std::string related = related_text(f.v);
      body += fmt::format("  at {} ({} s){}\n", record_number(f.v.message),
                          relative_time(f.v.timestamp_ns, c.base_ns),
                          related.empty() ? "" : fmt::format(", see {}", related));
      // A violation taken from a finding states the rule itself as what was expected.
      if (f.v.expected != rule.statement)
        body += fmt::format("  expected: {}\n", escape_text(f.v.expected));
      body += fmt::format("  happened: {}\n", escape_text(f.v.observed));
      body += fmt::format("  {}{}\n", sections_text(rule),
                          rule.origin == RuleOrigin::Qemu ? " (QEMU behaviour)" : "");
    }
    out += fmt::format("{}: {} violation{}\n", escape_text(c.path), here, here == 1 ? "" : "s");
    out += body;
    counted += here;
  }
  size_t checked = 0;
  for (const Rule& r : all_rules()) checked += excluded_because(r, s).empty() ? 1 : 0;
  out += fmt::format("{} rule{} checked ({} profile), {} violation{} in {} capture{}\n", checked,
                     checked == 1 ? "" : "s", s.profile == Profile::Qemu ? "qemu" : "spec", counted,
                     counted == 1 ? "" : "s", results.size(), results.size() == 1 ? "" : "s");
  return out;
}

// ---- JSON

Json rule_json(const Rule& r) {
  Json j;
  j["id"] = std::string(r.id);
  j["statement"] = std::string(r.statement);
  j["blames"] = std::string(rule_side_name(r.side));
  j["severity"] = std::string(severity_name(r.severity));
  j["section"] = std::string(r.section);
  j["virtio_section"] = std::string(r.virtio);
  j["origin"] = r.origin == RuleOrigin::Spec ? "spec" : "qemu";
  j["qemu_deviation"] = std::string(r.qemu_deviation);
  return j;
}

std::string format_json(const std::vector<CaptureResult>& results, const Settings& s,
                        size_t& counted) {
  counted = 0;
  Json j;
  j["schema"] = std::string(kJsonSchema);
  j["type"] = "check";
  j["profile"] = s.profile == Profile::Qemu ? "qemu" : "spec";
  j["blame"] = s.blame == Blame::Any ? "any" : s.blame == Blame::Frontend ? "frontend" : "backend";
  Json rules = Json::array();
  for (const Rule& r : all_rules())
    if (excluded_because(r, s).empty()) rules.push_back(std::string(r.id));
  j["rules"] = std::move(rules);
  Json captures = Json::array();
  for (const CaptureResult& c : results) {
    Json cj;
    cj["capture"] = c.path;
    Json vs = Json::array();
    for (const Found& f : c.all) {
      const Rule& rule = rule_info(f.v.rule);
      if (!excluded_because(rule, s).empty() || !blamed_counts(f.v.blamed, s.blame)) continue;
      Json v = violation_json(f.v);
      v["session"] = f.session;
      vs.push_back(std::move(v));
      ++counted;
    }
    cj["violations"] = std::move(vs);
    captures.push_back(std::move(cj));
  }
  j["captures"] = std::move(captures);
  j["violations"] = counted;
  return json_line(j) + "\n";
}

// ---- JUnit XML: one test case per rule and capture, a failure element per violation.

std::string format_junit(const std::vector<CaptureResult>& results, const Settings& s,
                         size_t& counted) {
  counted = 0;
  std::string suites;
  size_t total_tests = 0, total_failures = 0;
  for (const CaptureResult& c : results) {
    std::string cases;
    size_t failures = 0, skipped = 0;
    for (const Rule& rule : all_rules()) {
      const std::string excluded = excluded_because(rule, s);
      cases += fmt::format("    <testcase classname=\"{}\" name=\"{} {}\">\n", xml_escape(c.path),
                           rule.id, xml_escape(rule.statement));
      if (!excluded.empty()) {
        ++skipped;
        cases += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(excluded));
      } else {
        bool failed = false;
        for (const Found& f : c.all) {
          if (f.v.rule != rule.rule || !blamed_counts(f.v.blamed, s.blame)) continue;
          failed = true;
          ++counted;
          const std::string related = related_text(f.v);
          cases += fmt::format(
              "      <failure type=\"{}\" message=\"{} at {}: {}\">session {}, {} at {} s{}\n"
              "expected: {}\nhappened: {}\n{}</failure>\n",
              rule.id, side_name(f.v.blamed), record_number(f.v.message), xml_escape(f.v.observed),
              f.session, record_number(f.v.message), relative_time(f.v.timestamp_ns, c.base_ns),
              related.empty() ? "" : fmt::format(", see {}", related), xml_escape(f.v.expected),
              xml_escape(f.v.observed), xml_escape(sections_text(rule)));
        }
        failures += failed ? 1 : 0;
      }
      cases += "    </testcase>\n";
    }
    total_tests += all_rules().size();
    total_failures += failures;
    suites += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">\n{}"
        "  </testsuite>\n",
        xml_escape(c.path), all_rules().size(), failures, skipped, cases);
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"vhostscope check\" tests=\"{}\" failures=\"{}\">\n{}</testsuites>\n",
      total_tests, total_failures, suites);
}

// ---- the catalogue

std::string catalogue_markdown() {
  std::string out =
      "# Conformance rules\n\n"
      "<!-- Generated by `vhostscope check --list-rules --format markdown` "
      "(scripts/update-rules-doc.sh); do not edit. -->\n\n"
      "`vhostscope check` enforces these rules. Each names the side it blames, its severity, the\n"
      "section of the vhost-user spec (docs/interop/vhost-user.rst in QEMU) it derives from, the\n"
      "VIRTIO spec section where the device lifecycle or ring layout matters, and whether it is\n"
      "the spec's rule or behaviour QEMU relies on. IDs are stable: use them with `--rule` and\n"
      "`--skip`.\n\n"
      "| ID | Rule | Blames | Severity | Spec section | VIRTIO section | Origin |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const Rule& r : all_rules())
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", r.id, r.statement,
                       rule_side_name(r.side), severity_name(r.severity), r.section,
                       r.virtio.empty() ? "—" : r.virtio, rule_origin_name(r.origin));
  out +=
      "\n## Known QEMU deviations (accepted by `--profile qemu`)\n\n"
      "What `check --profile spec` reports on captures of QEMU that is QEMU's known behaviour "
      "rather\nthan a bug; `--profile qemu` does not count these rules.\n\n";
  bool any = false;
  for (const Rule& r : all_rules()) {
    if (r.qemu_deviation.empty()) continue;
    any = true;
    out += fmt::format("- **{}**: {}\n", r.id, r.qemu_deviation);
  }
  if (!any) out += "None: the shipped QEMU captures pass `--profile spec`.\n";
  out +=
      "\n## Findings: rules or diagnostics\n\n"
      "Every finding kind either is evidence of a rule or is a diagnostic (a hang, a transport\n"
      "problem), which `check` does not count.\n\n"
      "| Finding | Rule or diagnostic |\n|---|---|\n";
  for (const FindingRule& f : all_finding_rules())
    out += fmt::format(
        "| `{}` | {} |\n", finding_info(f.code).id,
        f.rule ? std::string(rule_info(*f.rule).id) : fmt::format("diagnostic: {}", f.why));
  return out;
}

std::string catalogue_text() {
  std::string out;
  for (const Rule& r : all_rules())
    out += fmt::format("{} {} {}: {} ({})\n", r.id, severity_name(r.severity),
                       rule_side_name(r.side), r.statement, sections_text(r));
  return out;
}

std::string catalogue_json() {
  Json j;
  j["schema"] = std::string(kJsonSchema);
  j["type"] = "rules";
  Json rules = Json::array();
  for (const Rule& r : all_rules()) rules.push_back(rule_json(r));
  j["rules"] = std::move(rules);
  return json_line(j) + "\n";
}

bool write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return true;
  }
  std::string error;
  FILE* f = open_output_stream(path, error);
  if (!f) {
    fail(kCommand, error);
    return false;
  }
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) {
    fail(kCommand, fmt::format("cannot write '{}'", escape_text(path)));
    return false;
  }
  return true;
}

}  // namespace

int run_check(int argc, char** argv) {
  std::vector<std::string> paths, rules, skips;
  std::string blame_text, profile_text, format_text_opt, output, session_text, device_text;
  bool list_rules = false;
  ArgParser args(
      "check",
      "FILE... [--blame backend|frontend|any] [--profile spec|qemu] [--rule ID] [--skip ID]\n"
      "       [--format text|json|junit] [-o FILE] [--session N] [--device KIND]\n"
      "       check --list-rules [--format text|json|markdown]",
      "Runs the vhost-user conformance rules (docs/rules.md) on each capture: every violation\n"
      "names the rule, the side to blame, the record numbers and times, what was expected and\n"
      "what happened, and the spec section. Exit 0 when no violation counts, 1 when one does,\n"
      "2 when the check could not run. Hangs (unanswered requests, stalled rings) are\n"
      "diagnostics, shown by 'summary', not violations.");
  args.positional_list("FILE...", "captures written by 'vhostscope record'", &paths, false);
  args.option("blame", 'b', "SIDE",
              "count only violations of this side: backend, frontend or any (default)",
              &blame_text);
  args.option("profile", 'p', "NAME",
              "spec (default: the letter of the spec) or qemu (accept QEMU's known deviations)",
              &profile_text);
  args.option_list("rule", 'r', "ID", "check only this rule (repeatable)", &rules);
  args.option_list("skip", 0, "ID", "do not check this rule (repeatable)", &skips);
  args.option("format", 'f', "FMT", "text (default), json or junit; markdown with --list-rules",
              &format_text_opt);
  args.option("output", 'o', "FILE", "write the report to FILE instead of stdout", &output);
  args.option("session", 's', "N", "only session N", &session_text);
  args.option("device", 'd', "KIND",
              "decode device fields as blk, net or fs (default: inferred per session)",
              &device_text);
  args.flag("list-rules", 0, "print the rule catalogue instead of checking", &list_rules);
  if (auto rc = args.parse(argc, argv)) return *rc;
  // FILE... is required only when checking.
  if (!list_rules && paths.empty()) return fail(kCommand, "missing FILE... (see --help)");

  Settings s;
  if (format_text_opt.empty() || format_text_opt == "text")
    s.format = Format::Text;
  else if (format_text_opt == "json")
    s.format = Format::Json;
  else if (format_text_opt == "junit" && !list_rules)
    s.format = Format::Junit;
  else if (format_text_opt == "markdown" && list_rules)
    s.format = Format::Markdown;
  else
    return fail(kCommand,
                fmt::format("unknown format '{}': expected {}", escape_text(format_text_opt),
                            list_rules ? "text, json or markdown" : "text, json or junit"));

  if (list_rules) {
    if (!paths.empty()) return fail(kCommand, "--list-rules takes no capture");
    const std::string text = s.format == Format::Markdown ? catalogue_markdown()
                             : s.format == Format::Json   ? catalogue_json()
                                                          : catalogue_text();
    return write_output(output, text) ? 0 : 2;
  }

  if (blame_text.empty() || blame_text == "any")
    s.blame = Blame::Any;
  else if (blame_text == "backend")
    s.blame = Blame::Backend;
  else if (blame_text == "frontend")
    s.blame = Blame::Frontend;
  else
    return fail(kCommand, fmt::format("unknown side '{}': expected backend, frontend or any",
                                      escape_text(blame_text)));
  if (profile_text.empty() || profile_text == "spec")
    s.profile = Profile::Spec;
  else if (profile_text == "qemu")
    s.profile = Profile::Qemu;
  else
    return fail(kCommand, fmt::format("unknown profile '{}': expected spec or qemu",
                                      escape_text(profile_text)));
  auto resolve = [](const std::vector<std::string>& ids, std::vector<const Rule*>& out) {
    for (const std::string& id : ids) {
      const Rule* r = find_rule(id);
      if (!r) {
        fail(kCommand, fmt::format("unknown rule '{}' (see 'vhostscope check --list-rules')",
                                   escape_text(id)));
        return false;
      }
      out.push_back(r);
    }
    return true;
  };
  if (!resolve(rules, s.only) || !resolve(skips, s.skip)) return 2;

  std::vector<CaptureResult> results;
  for (const std::string& path : paths) {
    auto input = open_capture_input(kCommand, path, device_text, session_text, true);
    if (!input) return 2;
    CaptureResult c;
    c.path = path;
    c.base_ns = input->store.first_timestamp();
    for (const StoreSession& session : input->store.sessions()) {
      if (input->session && session.id != *input->session) continue;
      for (Violation& v : check_store_session(input->store, session).violations)
        c.all.push_back({session.id, std::move(v)});
    }
    results.push_back(std::move(c));
  }

  size_t counted = 0;
  const std::string text = s.format == Format::Json    ? format_json(results, s, counted)
                           : s.format == Format::Junit ? format_junit(results, s, counted)
                                                       : format_text(results, s, counted);
  if (!write_output(output, text)) return 2;
  return counted > 0 ? 1 : 0;
}

}  // namespace vhs::cli
