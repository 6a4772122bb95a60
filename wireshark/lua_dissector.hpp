// A Lua dissector for Wireshark versions the epan plugin was not built against, generated from
// the same tables: the field catalog (names and types), the request registry (names and payload
// kinds per channel) and the payload layouts (offsets, sizes, bit ranges). It decodes the capture
// record, the fds and the message layer (header and payload fields, without device config
// children or session context); `vhostscope wireshark-lua` prints it.
#pragma once

#include <string>

namespace vhs::wireshark {

std::string generate_lua_dissector(std::string_view tool_version);

// Field paths the Lua dissector does not produce (their decoding needs session context).
bool lua_decodes_path(std::string_view path);

}  // namespace vhs::wireshark
