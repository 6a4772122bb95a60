// FUSE requests and replies as virtio-fs carries them (VIRTIO "File System Device", "Device
// Operation"): one descriptor chain per request, the device-readable part a fuse_in_header and the
// opcode's arguments, the device-writable part room for a fuse_out_header and the reply. The
// structs are the kernel's (<linux/fuse.h>); this file only frames them, so the fs workload and
// the fake FUSE server in the tests build and read the same bytes.
#pragma once

#include <linux/fuse.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "proxy/exercise/driver_io.hpp"

namespace vhs::exercise {

template <class T>
void append_struct(std::vector<uint8_t>& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// A NUL-terminated name, as LOOKUP, CREATE and UNLINK carry it.
void append_name(std::vector<uint8_t>& out, std::string_view name);

// The struct at `offset`, when the bytes hold all of it.
template <class T>
std::optional<T> read_struct(std::span<const uint8_t> bytes, size_t offset = 0) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// The identity a request runs as (fuse_in_header uid/gid/pid).
struct FuseCaller {
  uint32_t uid = 0, gid = 0, pid = 0;
};

// fuse_in_header followed by `args` in one buffer; the header's len counts `extra_len` more bytes
// the caller places in further readable buffers (WRITE data).
std::vector<uint8_t> fuse_request(uint32_t opcode, uint64_t unique, uint64_t nodeid,
                                  std::span<const uint8_t> args, const FuseCaller& caller,
                                  uint32_t extra_len = 0);

struct FuseReply {
  fuse_out_header header{};
  std::vector<uint8_t> body;  // the header.len - 16 bytes after the out header
};

// Reads the reply out of a completed chain: the writable buffers concatenated, cut at the used
// length. Fails when fewer bytes than an out header were written, when the header's len
// disagrees with the used length, or when the reply is for another request (unique).
Outcome<FuseReply> parse_fuse_reply(const ChainCompletion& completion, uint64_t unique);

// One READDIR entry (struct fuse_dirent, padded to 8 bytes).
struct FuseDirEntry {
  uint64_t ino = 0;
  uint64_t off = 0;
  uint32_t type = 0;
  std::string name;
};
void append_fuse_dirent(std::vector<uint8_t>& out, const FuseDirEntry& entry);
// Every entry of a READDIR reply; fails naming the byte offset of a truncated entry.
Outcome<std::vector<FuseDirEntry>> parse_fuse_dirents(std::span<const uint8_t> body);

// "ENOENT"; "errno 200" when the C library has no name for it.
std::string errno_name(int error);
// "LOOKUP failed: ENOENT (No such file or directory)" for an out-header error (negative errno).
std::string fuse_error_text(uint32_t opcode, int32_t error);
// "LOOKUP"; "opcode 99" when unknown.
std::string fuse_opcode_text(uint32_t opcode);

}  // namespace vhs::exercise
