// Field paths: the names of the field tree's lines (describe_fields), which `dump -V`, the GUI's
// filter and detail view, the field diff and (prefixed "vhostuser.") JSON output and a Wireshark
// dissector use. docs/fields.md lists every path with its type and meaning.
//
// The scheme:
//   * lower_snake components joined by '.'; the first component names what the value is about,
//     not the C struct it travels in: `header.*`, `vring.*` (every vring payload: state, address,
//     kick/call/err word, vring area), `mem.*` and `region.*` (memory tables and single regions),
//     `log.*`, `iotlb.*`, `config.*`, `inflight.*`, `shared_object.*`, `device_state.*`,
//     `shmem.*`; a payload that is one u64 is named by its meaning alone (`features`,
//     `protocol_features`, `ack`, `status`, `mac`, `u64`).
//   * children of a word name its bit ranges below the word's path (`header.flags.need_reply`,
//     `features.bit[32]`, `device_state.result.no_fd`); the kick/call/err word is `vring` so its
//     ranges read `vring.index` and `vring.nofd` like every other vring payload's.
//   * `[N]` appears only where one message holds several of a thing and the tree needs unique
//     paths: `region[N]` in a memory table, `shmem.size[N]`, `features.bit[N]`, `fd[N]`. A single
//     region is `region`. The public name drops the indices: `region[1].gpa` is `region.gpa`.
//   * bytes the layout does not explain are `extra` (inside header.size) and `trailing` (after it).
#pragma once

#include <string>
#include <string_view>

namespace vhs {

inline constexpr std::string_view kPublicFieldPrefix = "vhostuser.";

// "region[1].gpa" -> "vhostuser.region.gpa".
std::string public_field_name(std::string_view path);

// The current path for a path (or dotted suffix) of the names used before this scheme
// ("vring_state.num" -> "vring.num", "mem_table.region[0].guest_phys_addr" -> "region[0].gpa",
// "desc_user_addr" -> "vring.desc_addr"); any other path comes back unchanged.
std::string current_field_path(std::string_view path);

}  // namespace vhs
