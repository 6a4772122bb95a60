#include "proxy/exercise/fuse_messages.hpp"

#include <string.h>

#include <algorithm>
#include <climits>

#include "decoders/virtio/ring_detail.hpp"

namespace vhs::exercise {

void append_name(std::vector<uint8_t>& out, std::string_view name) {
  out.insert(out.end(), name.begin(), name.end());
  out.push_back(0);
}

std::vector<uint8_t> fuse_request(uint32_t opcode, uint64_t unique, uint64_t nodeid,
                                  std::span<const uint8_t> args, const FuseCaller& caller,
                                  uint32_t extra_len) {
  fuse_in_header in{};
  in.len = static_cast<uint32_t>(sizeof in + args.size()) + extra_len;
  in.opcode = opcode;
  in.unique = unique;
  in.nodeid = nodeid;
  in.uid = caller.uid;
  in.gid = caller.gid;
  in.pid = caller.pid;
  std::vector<uint8_t> out;
  out.reserve(sizeof in + args.size());
  append_struct(out, in);
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

Outcome<FuseReply> parse_fuse_reply(const ChainCompletion& completion, uint64_t unique) {
  std::vector<uint8_t> bytes;
  for (const auto& buffer : completion.written) {
    if (bytes.size() >= completion.used_len) break;
    const size_t take = std::min<size_t>(buffer.size(), completion.used_len - bytes.size());
    bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(take));
  }
  auto header = read_struct<fuse_out_header>(bytes);
  if (!header)
    return Outcome<FuseReply>::fail("reply of " + std::to_string(completion.used_len) +
                                    " bytes is shorter than a fuse_out_header (16)");
  // The out-header's len is the whole reply; the used length counts the bytes the device wrote
  // (VIRTIO "The Virtqueue Used Ring"), so the two must agree.
  if (header->len < sizeof(fuse_out_header) || header->len > bytes.size())
    return Outcome<FuseReply>::fail("fuse_out_header len " + std::to_string(header->len) +
                                    " but the device wrote " + std::to_string(completion.used_len) +
                                    " bytes");
  if (header->unique != unique)
    return Outcome<FuseReply>::fail("reply for unique " + std::to_string(header->unique) +
                                    ", expected " + std::to_string(unique));
  FuseReply reply;
  reply.header = *header;
  reply.body.assign(bytes.begin() + sizeof(fuse_out_header), bytes.begin() + header->len);
  return Outcome<FuseReply>::ok(std::move(reply));
}

void append_fuse_dirent(std::vector<uint8_t>& out, const FuseDirEntry& entry) {
  fuse_dirent d{};
  d.ino = entry.ino;
  d.off = entry.off;
  d.namelen = static_cast<uint32_t>(entry.name.size());
  d.type = entry.type;
  const size_t start = out.size();
  out.insert(out.end(), reinterpret_cast<const uint8_t*>(&d),
             reinterpret_cast<const uint8_t*>(&d) + FUSE_NAME_OFFSET);
  out.insert(out.end(), entry.name.begin(), entry.name.end());
  out.resize(start + FUSE_DIRENT_SIZE(&d), 0);
}

Outcome<std::vector<FuseDirEntry>> parse_fuse_dirents(std::span<const uint8_t> body) {
  std::vector<FuseDirEntry> entries;
  size_t at = 0;
  while (at < body.size()) {
    if (body.size() - at < FUSE_NAME_OFFSET)
      return Outcome<std::vector<FuseDirEntry>>::fail("READDIR entry at byte " +
                                                      std::to_string(at) + " is truncated");
    fuse_dirent d{};
    std::memcpy(&d, body.data() + at, FUSE_NAME_OFFSET);
    const size_t whole = FUSE_DIRENT_SIZE(&d);
    if (d.namelen == 0 || body.size() - at < whole)
      return Outcome<std::vector<FuseDirEntry>>::fail(
          "READDIR entry at byte " + std::to_string(at) + " (name length " +
          std::to_string(d.namelen) + ") does not fit the " + std::to_string(body.size()) +
          "-byte reply");
    const auto* name = reinterpret_cast<const char*>(body.data() + at + FUSE_NAME_OFFSET);
    entries.push_back({d.ino, d.off, d.type, std::string(name, d.namelen)});
    at += whole;
  }
  return Outcome<std::vector<FuseDirEntry>>::ok(std::move(entries));
}

std::string errno_name(int error) {
  if (const char* name = ::strerrorname_np(error)) return name;
  return "errno " + std::to_string(error);
}

std::string fuse_opcode_text(uint32_t opcode) {
  const std::string_view name = fuse_opcode_name(opcode);
  return name.empty() ? "opcode " + std::to_string(opcode) : std::string(name);
}

std::string fuse_error_text(uint32_t opcode, int32_t error) {
  // A well-formed error is a negative errno; INT32_MIN has no positive counterpart.
  const int err = error == INT32_MIN ? 0 : -error;
  return fuse_opcode_text(opcode) + " failed: " + errno_name(err) + " (" + ::strerror(err) + ")";
}

}  // namespace vhs::exercise
