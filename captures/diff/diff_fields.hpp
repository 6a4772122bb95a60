// Field-by-field comparison of two vhost-user messages (recorded vs replayed, or capture A vs
// capture B) through the decoders' field tree, so a difference is named the way `dump -V` names
// the field. Values that naturally differ between runs are classified, not hidden: fd inode
// numbers and timestamps are never compared, memfd name digits are normalised, and addresses
// are compared or marked expected according to the caller's policy. Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/message.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

// One message as it was seen (bytes + the descriptions of its fds).
struct MessageView {
  Channel channel = Channel::Frontend;
  std::span<const uint8_t> bytes;
  std::span<const FdInfo> fds;
  DecodeContext context;  // decodes both sides of a comparison the same way
};

// Which addresses count as differences.
enum class AddressPolicy : uint8_t {
  Compare,          // all addresses are ordinary values
  ExpectUserspace,  // front-end virtual addresses (region uva, vring desc/used/avail_addr,
                    // IOTLB uaddr) differ per process: expected, not a divergence (replay)
  ExpectAll,        // also guest-physical addresses and IOVAs (diff --ignore-addresses)
};

enum class AddressClass : uint8_t { None, Userspace, Guest };

// Classifies a field path by its last component ("region[1].uva").
AddressClass address_class(std::string_view path);

struct CompareOptions {
  AddressPolicy addresses = AddressPolicy::Compare;
  // Further field paths whose difference is expected (e.g. "vring.num" of a GET_VRING_BASE reply
  // when the replay does not move the rings), with the reason shown next to them. Paths of the
  // earlier naming ("vring_state.num") are accepted (current_field_path).
  std::vector<std::string> expected_paths;
  std::string expected_reason;
};

struct FieldChange {
  std::string path;       // field path as in describe_fields ("features", "fd[0]", "header.size")
  std::string a;          // rendered value on the first (recorded) side; "(absent)" if missing
  std::string b;          // rendered value on the second (replayed) side; "(absent)" if missing
  bool expected = false;  // differs legitimately (see `why`); not a divergence
  std::string why;        // for expected changes: "front-end virtual address", ...
};

inline constexpr std::string_view kAbsent = "(absent)";

// Differences between `a` and `b`, in field-tree order (a's order, then fields only b has).
// Values are compared typed (numbers as numbers). Parent lines that merely summarise their
// children (a region's "gpa .. size ..") are skipped so each difference is reported once, at the
// leaf; a bit word (feature word, header.flags) is reported as the whole word (its per-bit
// children are skipped: the word's rendering names the bits).
std::vector<FieldChange> compare_messages(const MessageView& a, const MessageView& b,
                                          const CompareOptions& options = {});

// How an fd is compared: kind, size and name with every run of digits replaced by '#' (memfd
// name suffixes, socket inode numbers in "socket:[1234]"); never the inode. "memfd 1.0 MiB
// 'memfd:guest-ram#'".
std::string comparable_fd_text(const FdInfo& fd);
std::string normalize_fd_name(std::string_view name);

// Count of changes that are not expected.
size_t real_change_count(std::span<const FieldChange> changes);

}  // namespace vhs
