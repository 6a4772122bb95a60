// The vhostuser epan plugin (build/wireshark/vhostuser.so) loaded by tshark from a temporary
// personal plugin folder decodes every shipped capture exactly as the project does: request
// names, every field value, the fds, reply pairing and latency, and findings as expert info.
// Skipped when tshark or the plugin is not there (libwireshark-dev missing at build time).
#include <set>

#include "app/common/dump_format.hpp"
#include "decoders/vhost_user/field_paths.hpp"
#include "decoders/vhost_user/findings.hpp"
#include "wireshark_tshark.hpp"

namespace vhs::test {
namespace {

const std::string kPlugin = std::string(VHS_BINARY_DIR) + "/wireshark/vhostuser.so";

auto every_path = [](const std::string&) { return true; };

class WiresharkPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_tshark().empty()) GTEST_SKIP() << "tshark not installed";
    if (!fs::exists(kPlugin))
      GTEST_SKIP() << kPlugin << " not built (libwireshark-dev missing, or a sanitizer build)";
    const std::string version = tshark_major_minor(find_tshark(), logs_.path());
    ASSERT_FALSE(version.empty());
    const fs::path dir = fs::path(home_.path()) / ".local/lib/wireshark/plugins" / version / "epan";
    fs::create_directories(dir);
    fs::copy_file(kPlugin, dir / "vhostuser.so");
  }

  CommandResult tshark(std::vector<std::string> args) {
    return run_tshark(home_.path(), std::move(args), logs_.path());
  }

  // Frames (1-based) a display filter keeps, over both passes.
  std::vector<uint32_t> frames_matching(const std::string& capture, const std::string& filter) {
    const CommandResult r =
        tshark({"-2", "-r", capture, "-Y", filter, "-T", "fields", "-e", "frame.number"});
    EXPECT_NE(r.exit_code, -1) << "tshark timed out";
    std::vector<uint32_t> out;
    for (const std::string& line : split(r.out, '\n'))
      if (!line.empty()) out.push_back(static_cast<uint32_t>(std::stoul(line)));
    return out;
  }

  TempDir home_, logs_;
};

void load(const std::string& capture, Store& store) {
  std::string warning, error;
  ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
}

TEST_F(WiresharkPlugin, PluginIsLoadedAndRegistersTheCatalog) {
  const CommandResult r = tshark({"-G", "fields"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> registered;
  for (const std::string& line : split(r.out, '\n')) {
    const auto cols = split(line, '\t');
    if (cols.size() > 2 && cols[0] == "F") registered.insert(cols[2]);
  }
  for (const auto& f : wireshark::field_catalog().fields) {
    EXPECT_TRUE(registered.count(f.name)) << f.name;
    if (!f.alias.empty()) {
      EXPECT_TRUE(registered.count(f.alias)) << f.alias;
    }
  }
  for (const char* name :
       {"vhostuser.request", "vhostuser.flags.reply", "vhostuser.flags.need_reply",
        "vhostuser.flags.version", "vhostuser.size", "vhostuser.channel", "vhostuser.direction",
        "vhostuser.session", "vhostuser.vring.index", "vhostuser.vring.num", "vhostuser.features",
        "vhostuser.region.gpa", "vhostuser.fd.kind", "vhostuser.fd.inode", "vhostuser.fd.size",
        "vhostuser.fd.name", "vhostuser.response_in", "vhostuser.response_to", "vhostuser.time"})
    EXPECT_TRUE(registered.count(name)) << name;
}

// The protocol's own filter name works (`-Y vhostuser` keeps every record; it is what
// `tshark -G protocols` lists), so the name Wireshark keeps must outlive registration.
TEST_F(WiresharkPlugin, ProtocolFilterNameIsVhostuser) {
  const CommandResult r = tshark({"-G", "protocols"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("vhost-user (vhostscope capture)\tvhost-user\tvhostuser\n"),
            std::string::npos);
  const std::string capture = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap";
  Store store;
  load(capture, store);
  EXPECT_EQ(frames_matching(capture, "vhostuser").size(), store.size());
}

// Every record of every capture: the fields tshark prints equal the project's field tree, the
// fds equal the pseudo-header's, the Info column is dump's line, pairing and latency agree.
TEST_F(WiresharkPlugin, EveryRecordMatchesTheProjectsDecode) {
  std::vector<std::string> names = catalog_field_names(every_path);
  for (const char* extra :
       {"_ws.col.Info", "vhostuser.response_in", "vhostuser.response_to", "vhostuser.time",
        "vhostuser.other", "_ws.malformed", "vhostuser.finding"})
    names.push_back(extra);
  size_t compared = 0;
  for (const std::string& capture : all_captures()) {
    SCOPED_TRACE(capture);
    Store store;
    load(capture, store);
    const CommandResult r = tshark([&] {
      std::vector<std::string> a = {"-2", "-r", capture};
      for (auto& s : fields_args(names)) a.push_back(s);
      return a;
    }());
    ASSERT_NE(r.exit_code, -1) << "tshark timed out";
    const FieldRows rows = parse_fields(r.out, names);
    ASSERT_GE(rows.size(), store.size()) << r.err;
    for (size_t i = 0; i < store.size(); ++i) {
      const auto& row = rows[i];
      const std::string where = capture + " record " + std::to_string(i);
      ASSERT_EQ(row.at("frame.number"), std::vector<std::string>{std::to_string(i + 1)});
      expect_same_fields(store, i, row, every_path, where);
      EXPECT_TRUE(row.at("vhostuser.other").empty())
          << where << ": a field without a catalog entry";
      EXPECT_TRUE(row.at("_ws.malformed").empty()) << where;
      // Info column: dump's line without the time and record number.
      ASSERT_EQ(row.at("_ws.col.Info").size(), 1u) << where;
      const std::string info = row.at("_ws.col.Info")[0];
      const std::string line = format_entry_line(store, i);
      EXPECT_TRUE(line.ends_with(" " + info))
          << where << "\n info: " << info << "\n dump: " << line;
      EXPECT_NE(info.find(entry_title(store, i)), std::string::npos) << where;
      // Request/reply pairing and latency from the session analyser.
      const StoreEntry& e = store.entry(i);
      std::vector<std::string> response_in, response_to, time;
      if (e.peer != kNoEntry && e.role == MessageRole::Request)
        response_in.push_back(std::to_string(e.peer + 1));
      if (e.peer != kNoEntry && e.role != MessageRole::Request) {
        response_to.push_back(std::to_string(e.peer + 1));
        time.push_back(std::to_string(e.latency_ns));
      }
      EXPECT_EQ(row.at("vhostuser.response_in"), response_in) << where;
      EXPECT_EQ(row.at("vhostuser.response_to"), response_to) << where;
      std::vector<std::string> time_ns;
      for (const std::string& t : row.at("vhostuser.time")) {
        const size_t dot = t.find('.');
        std::string frac = dot == std::string::npos ? "" : t.substr(dot + 1);
        frac.resize(9, '0');
        time_ns.push_back(
            std::to_string(std::stoull(t.substr(0, dot)) * 1000000000ull + std::stoull(frac)));
      }
      EXPECT_EQ(time_ns, time) << where;
      // Every finding, by id.
      std::vector<std::string> ids;
      for (const Finding& f : store.findings(i)) ids.emplace_back(finding_info(f.code).id);
      EXPECT_EQ(row.at("vhostuser.finding"), ids) << where;
      ++compared;
    }
  }
  EXPECT_GT(compared, 100u);
}

// Expert infos of error severity mark exactly the records summary lists under errors (plus a
// corrupt record, which summary reports as a warning on stderr and stops reading at).
TEST_F(WiresharkPlugin, ErrorExpertInfosAreTheErrorFindings) {
  size_t flagged = 0;
  for (const std::string& capture : all_captures()) {
    SCOPED_TRACE(capture);
    Store store;
    std::string warning, error;
    ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
    std::vector<uint32_t> expected;
    for (size_t i = 0; i < store.size(); ++i)
      for (const Finding& f : store.findings(i))
        if (f.severity() == Severity::Error) {
          expected.push_back(static_cast<uint32_t>(i + 1));
          break;
        }
    if (warning.find("corrupt") != std::string::npos)
      expected.push_back(static_cast<uint32_t>(store.size() + 1));
    flagged += expected.size();
    EXPECT_EQ(frames_matching(capture, "_ws.expert.severity == error"), expected);
  }
  EXPECT_GT(flagged, 0u);
}

// The expert infos are named by finding id, so a filter can ask for one kind.
TEST_F(WiresharkPlugin, ExpertInfoPerFindingId) {
  const std::string capture =
      (fs::path(VHS_SOURCE_DIR) / "captures" / "samples" / "blk-hang.pcap").string();
  Store store;
  load(capture, store);
  std::vector<uint32_t> expected;
  for (size_t i = 0; i < store.size(); ++i)
    for (const Finding& f : store.findings(i))
      if (f.code == FindingCode::Unanswered) expected.push_back(static_cast<uint32_t>(i + 1));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(frames_matching(capture, "vhostuser.expert.unanswered"), expected);
}

TEST_F(WiresharkPlugin, RequestFilterListsGetVringBase) {
  const std::string capture =
      (fs::path(VHS_SOURCE_DIR) / "captures" / "samples" / "blk-hang.pcap").string();
  Store store;
  load(capture, store);
  std::vector<uint32_t> expected;
  for (size_t i = 0; i < store.size(); ++i)
    if (is_request(store.entry(i).info, FrontendRequest::GET_VRING_BASE))
      expected.push_back(static_cast<uint32_t>(i + 1));
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(frames_matching(capture, "vhostuser.request == 11"), expected);
  EXPECT_EQ(frames_matching(capture, "vhostuser.header.request == 11"), expected);
}

// Hostile captures (truncated, wrong sizes, unknown requests, bad pseudo-headers) dissect without
// exceptions: nothing beyond our expert infos.
TEST_F(WiresharkPlugin, HostileCapturesDissectWithoutExceptions) {
  for (const std::string& capture : all_captures()) {
    SCOPED_TRACE(capture);
    const CommandResult r = tshark({"-2", "-r", capture, "-V"});
    ASSERT_NE(r.exit_code, -1) << "tshark timed out";
    EXPECT_EQ(r.out.find("Malformed Packet"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Dissector bug"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Exception"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("internal error in the vhostuser dissector"), std::string::npos);
    EXPECT_EQ(r.err.find("vhostuser"), std::string::npos) << r.err;
  }
}

// Without the plugin's context, the field catalog alone (no tshark needed): every line the
// decoders produce for every shipped capture has a catalog entry of the same value kind.
TEST(WiresharkCatalog, CoversEveryFieldOfEveryCapture) {
  const auto& catalog = wireshark::field_catalog();
  EXPECT_TRUE(catalog.conflicts.empty()) << catalog.conflicts.front();
  std::set<std::string> seen;
  for (const std::string& capture : all_captures()) {
    Store store;
    std::string warning, error;
    ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
    for (size_t i = 0; i < store.size(); ++i) {
      if (!store.entry(i).is_message()) continue;
      for (const Field& f :
           describe_fields(store.decoded(i), store.bytes(i), store.fds(i), store.context(i))) {
        const std::string path = wireshark::path_without_indices(f.path);
        const auto* c = catalog.find_path(path);
        ASSERT_NE(c, nullptr) << capture << " " << f.path;
        EXPECT_EQ(c->kind, f.value.kind) << capture << " " << f.path;
        EXPECT_EQ(c->name, public_field_name(f.path));
        seen.insert(path);
      }
    }
  }
  EXPECT_TRUE(seen.count("region.gpa"));
  EXPECT_TRUE(seen.count("vring.num"));
}

}  // namespace
}  // namespace vhs::test
