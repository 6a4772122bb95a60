// `vhostscope wireshark-lua`: prints the Lua dissector generated from the request registry and
// payload layouts, for Wireshark versions the vhostuser epan plugin was not built against.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "app/cli/args.hpp"
#include "app/cli/commands.hpp"
#include "wireshark/lua_dissector.hpp"

namespace vhs::cli {

int run_wireshark_lua(int argc, char** argv) {
  std::string output;
  ArgParser args("wireshark-lua", "[-o FILE]",
                 "Prints a Wireshark Lua dissector for vhostscope captures, generated from the\n"
                 "same request registry and payload layouts the decoders use. Load it with\n"
                 "  tshark -X lua_script:vhostuser.lua -r capture.pcap\n"
                 "or copy it to ~/.local/lib/wireshark/plugins/. It decodes the record, the fds\n"
                 "and the message layer; the epan plugin (build/wireshark/vhostuser.so) adds\n"
                 "session analysis.");
  args.option("output", 'o', "FILE", "write to FILE instead of standard output", &output);
  if (auto rc = args.parse(argc, argv)) return *rc;

  const std::string lua = wireshark::generate_lua_dissector(kToolVersion);
  FILE* out = output.empty() ? stdout : std::fopen(output.c_str(), "w");
  if (!out) {
    std::fprintf(stderr, "vhostscope wireshark-lua: cannot open '%s': %s\n", output.c_str(),
                 std::strerror(errno));
    return 2;
  }
  const bool ok = std::fwrite(lua.data(), 1, lua.size(), out) == lua.size();
  if (out != stdout ? std::fclose(out) != 0 || !ok : std::fflush(out) != 0 || !ok) {
    std::fprintf(stderr, "vhostscope wireshark-lua: write failed\n");
    return 2;
  }
  return 0;
}

}  // namespace vhs::cli
