// Registration of the vhostuser dissector (called from the plugin entry points).
#pragma once

namespace vhs::wireshark {

void register_protocol();  // protocol, header fields (from the field catalog), expert infos
void register_handoff();   // claims WTAP_ENCAP_USER0 (LINKTYPE_USER0 = 147)

}  // namespace vhs::wireshark
