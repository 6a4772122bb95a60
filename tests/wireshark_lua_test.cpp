// The generated Lua dissector (build/wireshark/vhostuser.lua, `vhostscope wireshark-lua`) loaded
// into tshark with -X lua_script: its message-layer fields and fds equal the project's decode
// for every record of every shipped capture. Skipped when tshark is not installed.
#include "wireshark/lua_dissector.hpp"
#include "wireshark_tshark.hpp"

namespace vhs::test {
namespace {

const std::string kLua = std::string(VHS_BINARY_DIR) + "/wireshark/vhostuser.lua";

// The message layer the Lua dissector decodes: no device config fields (session context).
auto lua_paths = [](const std::string& path) { return wireshark::lua_decodes_path(path); };

class WiresharkLua : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_tshark().empty()) GTEST_SKIP() << "tshark not installed";
    ASSERT_TRUE(fs::exists(kLua)) << kLua << " not generated";
  }
  CommandResult tshark(std::vector<std::string> args) {
    // An empty HOME: no personal plugins, so the epan plugin does not register "vhostuser" too.
    std::vector<std::string> a = {"-X", "lua_script:" + kLua};
    a.insert(a.end(), args.begin(), args.end());
    return run_tshark(home_.path(), a, logs_.path());
  }
  TempDir home_, logs_;
};

TEST_F(WiresharkLua, CommandPrintsTheGeneratedFile) {
  const CommandResult r = run_command({vhostscope_binary(), "wireshark-lua"}, logs_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(kLua);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(r.out, file);
  EXPECT_NE(r.out.find("Proto(\"vhostuser\""), std::string::npos);
}

TEST_F(WiresharkLua, EveryMessageMatchesTheProjectsDecode) {
  const std::vector<std::string> names = catalog_field_names(lua_paths);
  size_t compared = 0;
  for (const std::string& capture : all_captures()) {
    SCOPED_TRACE(capture);
    Store store;
    std::string warning, error;
    ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
    std::vector<std::string> args = {"-r", capture};
    for (auto& s : fields_args(names)) args.push_back(s);
    const CommandResult r = tshark(args);
    ASSERT_NE(r.exit_code, -1) << "tshark timed out";
    EXPECT_EQ(r.err.find("Lua: Error"), std::string::npos) << r.err;
    const FieldRows rows = parse_fields(r.out, names);
    ASSERT_GE(rows.size(), store.size()) << r.err;
    for (size_t i = 0; i < store.size(); ++i) {
      const std::string where = capture + " record " + std::to_string(i);
      ASSERT_EQ(rows[i].at("frame.number"), std::vector<std::string>{std::to_string(i + 1)});
      expect_same_fields(store, i, rows[i], lua_paths, where);
      ++compared;
    }
  }
  EXPECT_GT(compared, 100u);
}

TEST_F(WiresharkLua, RequestFilterWorks) {
  const std::string capture =
      (fs::path(VHS_SOURCE_DIR) / "captures" / "samples" / "blk-hang.pcap").string();
  Store store;
  std::string warning, error;
  ASSERT_TRUE(load_capture(capture, store, warning, error)) << error;
  std::string expected;
  for (size_t i = 0; i < store.size(); ++i)
    if (is_request(store.entry(i).info, FrontendRequest::GET_VRING_BASE))
      expected += std::to_string(i + 1) + "\n";
  ASSERT_FALSE(expected.empty());
  const CommandResult r = tshark(
      {"-r", capture, "-Y", "vhostuser.request == 11", "-T", "fields", "-e", "frame.number"});
  EXPECT_EQ(r.out, expected) << r.err;
}

}  // namespace
}  // namespace vhs::test
