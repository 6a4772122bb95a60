#include "proxy/exercise/fs_workload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

namespace vhs::exercise {
namespace {

namespace stdfs = std::filesystem;

// VIRTIO "File System Device", "Virtqueues": queue 0 is hiprio (FORGET and INTERRUPT, which
// have no reply), queues 1.. carry requests.
constexpr unsigned kHiprioQueue = 0;
constexpr unsigned kRequestQueue = 1;
constexpr uint64_t kRootNodeId = FUSE_ROOT_ID;
constexpr uint32_t kDirReadSize = 8192;
constexpr size_t kMaxDirReads = 4096;  // bounds a READDIR that never reaches its end

// One FUSE session over the request queue: frames a request, waits for its chain, reads the
// reply. Every failure comes back as one line naming the opcode.
class FuseClient {
 public:
  FuseClient(DriverIo& io, std::chrono::milliseconds timeout, FuseCaller caller)
      : io_(io), timeout_(timeout), caller_(caller) {}

  // `reply_size`: room for the reply after the out header. `data`: bytes that follow the
  // arguments in a descriptor of their own (WRITE data, as the guest kernel places it).
  Outcome<FuseReply> call(uint32_t opcode, uint64_t nodeid, std::span<const uint8_t> args,
                          uint32_t reply_size, std::span<const uint8_t> data = {}) {
    const uint64_t unique = next_unique_++;
    ChainRequest chain;
    chain.readable.push_back(
        fuse_request(opcode, unique, nodeid, args, caller_, static_cast<uint32_t>(data.size())));
    if (!data.empty()) chain.readable.emplace_back(data.begin(), data.end());
    chain.writable_sizes = {static_cast<uint32_t>(sizeof(fuse_out_header))};
    if (reply_size > 0) chain.writable_sizes.push_back(reply_size);
    const std::string op = fuse_opcode_text(opcode);
    auto done = io_.transact(kRequestQueue, std::span(&chain, 1), timeout_);
    if (!done) return Outcome<FuseReply>::fail(op + ": " + done.error);
    auto reply = parse_fuse_reply(done.value->front(), unique);
    if (!reply) return Outcome<FuseReply>::fail(op + ": " + reply.error);
    if (reply.value->header.error < 0)
      return Outcome<FuseReply>::fail(fuse_error_text(opcode, reply.value->header.error));
    if (reply.value->header.error > 0)
      return Outcome<FuseReply>::fail(op + ": out header error " +
                                      std::to_string(reply.value->header.error) +
                                      " is positive (a FUSE error is a negative errno)");
    return reply;
  }

  // FORGET has no reply (FUSE: the server answers nothing); on virtio-fs it goes to the hiprio
  // queue and the device returns the chain with nothing written.
  std::string forget(std::span<const std::pair<uint64_t, uint64_t>> nodes) {
    std::vector<ChainRequest> chains;
    for (const auto& [nodeid, nlookup] : nodes) {
      fuse_forget_in in{};
      in.nlookup = nlookup;
      std::vector<uint8_t> args;
      append_struct(args, in);
      ChainRequest chain;
      chain.readable.push_back(fuse_request(FUSE_FORGET, next_unique_++, nodeid, args, caller_));
      chains.push_back(std::move(chain));
    }
    auto done = io_.transact(kHiprioQueue, chains, timeout_);
    if (!done) return "FORGET: " + done.error;
    for (const auto& c : *done.value)
      if (c.used_len != 0)
        return "FORGET: the device reported " + std::to_string(c.used_len) +
               " bytes written for a request without a reply";
    return {};
  }

 private:
  DriverIo& io_;
  std::chrono::milliseconds timeout_;
  FuseCaller caller_;
  uint64_t next_unique_ = 1;
};

// The outcomes in order, each naming the capture records its requests span (from start() to
// its verdict), so a failure points at the messages and ring states to look at.
class Steps {
 public:
  explicit Steps(DriverIo& io) : io_(io) {}
  void start() { first_ = io_.records_written() + 1; }
  void pass(std::string id, std::string what) {
    add({std::move(id), std::move(what), Verdict::Pass, {}}, true);
  }
  void fail(std::string id, std::string what, std::string reason) {
    add({std::move(id), std::move(what), Verdict::Fail, std::move(reason)}, true);
  }
  void unsupported(std::string id, std::string what, std::string reason) {
    add({std::move(id), std::move(what), Verdict::Unsupported, std::move(reason)}, false);
  }
  // A step that cannot run because `needed` failed.
  void blocked(std::string id, std::string what, const std::string& needed) {
    add({std::move(id), std::move(what), Verdict::Fail, "not run: " + needed + " failed"}, false);
  }
  std::vector<CheckOutcome> take() { return std::move(out_); }

 private:
  void add(CheckOutcome c, bool ran) {
    if (ran && first_ > 0 && io_.records_written() >= first_) {
      c.first_record = first_;
      c.last_record = io_.records_written();
    }
    out_.push_back(std::move(c));
  }
  DriverIo& io_;
  uint64_t first_ = 0;
  std::vector<CheckOutcome> out_;
};

constexpr const char* kWhatInit =
    "FUSE_INIT on request queue 1: protocol major 7, the negotiated minor, max_write (VIRTIO "
    "\"File System Device\", \"Device Initialization\")";
constexpr const char* kWhatLookup = "LOOKUP of a host file in the shared directory's root";
constexpr const char* kWhatGetattr = "GETATTR of that file: a regular file of the host's size";
constexpr const char* kWhatOpen = "OPEN of that file read-only";
constexpr const char* kWhatRead = "READ of that file to its end";
constexpr const char* kWhatReadCompare = "the bytes READ returned equal the host file's";
constexpr const char* kWhatCreate = "CREATE of a new file in the root";
constexpr const char* kWhatWrite = "WRITE of a known pattern into the created file";
constexpr const char* kWhatRelease = "RELEASE of the read and the created file";
constexpr const char* kWhatWriteCompare = "the host file holds the bytes WRITE sent";
constexpr const char* kWhatReaddir =
    "OPENDIR, READDIR, RELEASEDIR of the root: the names the host directory holds";
constexpr const char* kWhatUnlink = "UNLINK of the created file: gone from the host directory";
constexpr const char* kWhatForget =
    "FORGET of the looked-up and created nodes on the hiprio queue (queue 0)";

uint8_t pattern_byte(uint64_t offset) {
  return static_cast<uint8_t>((offset * 131u + (offset >> 8) * 7u + 0x5a) & 0xffu);
}

std::optional<std::vector<uint8_t>> read_host_file(const stdfs::path& path, uint64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<uint8_t> bytes;
  char buffer[16384];
  while (bytes.size() < limit && in) {
    in.read(buffer,
            static_cast<std::streamsize>(std::min<uint64_t>(sizeof buffer, limit - bytes.size())));
    bytes.insert(bytes.end(), buffer, buffer + in.gcount());
  }
  return bytes;
}

// "byte at offset 5000 is 0x41, the host file has 0x42" or a length difference; empty when equal.
std::string compare_bytes(std::span<const uint8_t> got, std::span<const uint8_t> want,
                          const std::string& got_name, const std::string& want_name) {
  const size_t common = std::min(got.size(), want.size());
  auto [g, w] =
      std::mismatch(got.begin(), got.begin() + static_cast<ptrdiff_t>(common), want.begin());
  if (g != got.begin() + static_cast<ptrdiff_t>(common)) {
    char text[96];
    std::snprintf(text, sizeof text, "byte at offset %zu is 0x%02x, ",
                  static_cast<size_t>(g - got.begin()), *g);
    char rest[48];
    std::snprintf(rest, sizeof rest, " has 0x%02x", *w);
    return got_name + ": " + text + want_name + rest;
  }
  if (got.size() != want.size())
    return got_name + ": " + std::to_string(got.size()) + " bytes, " + want_name + " has " +
           std::to_string(want.size());
  return {};
}

// The first regular file of the host directory (by name), skipping our own leftovers.
std::optional<stdfs::path> pick_host_file(const stdfs::path& dir, const std::string& skip) {
  std::error_code ec;
  std::vector<stdfs::path> files;
  for (const auto& entry : stdfs::directory_iterator(dir, ec))
    if (entry.is_regular_file(ec) && entry.path().filename() != skip) files.push_back(entry.path());
  if (files.empty()) return std::nullopt;
  return *std::min_element(files.begin(), files.end());
}

std::set<std::string> host_names(const stdfs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(dir, ec))
    names.insert(entry.path().filename().string());
  return names;
}

// "missing a, b; unexpected c" for up to four names of each.
std::string name_difference(const std::set<std::string>& got, const std::set<std::string>& want) {
  std::vector<std::string> missing, extra;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  auto list = [](const std::vector<std::string>& names) {
    std::string text;
    for (size_t i = 0; i < names.size() && i < 4; ++i) text += (i ? ", " : "") + names[i];
    if (names.size() > 4) text += " and " + std::to_string(names.size() - 4) + " more";
    return text;
  };
  std::string text;
  if (!missing.empty()) text = "READDIR lacks " + list(missing) + " (the host directory has it)";
  if (!extra.empty())
    text += (text.empty() ? "" : "; ") + std::string("READDIR lists ") + list(extra) +
            " (not in the host directory)";
  return text;
}

class FsWorkload {
 public:
  FsWorkload(WorkloadContext& ctx, const FsWorkloadOptions& options)
      : ctx_(ctx),
        options_(options),
        client_(ctx.io, ctx.timeout, caller_for(options)),
        steps_(ctx.io) {
    created_name_ = options.created_name.empty()
                        ? "vhostscope-exercise-" + std::to_string(::getpid()) + ".bin"
                        : options.created_name;
  }

  std::vector<CheckOutcome> run() {
    if (ctx_.io.queue_count() < 2) {
      steps_.fail("fs.init", kWhatInit,
                  "virtio-fs needs the hiprio queue and a request queue; " +
                      std::to_string(ctx_.io.queue_count()) + " queue(s) were set up");
      return steps_.take();
    }
    if (!init()) {
      for (auto [id, what] : {std::pair{"fs.lookup", kWhatLookup},
                              {"fs.getattr", kWhatGetattr},
                              {"fs.open", kWhatOpen},
                              {"fs.read", kWhatRead},
                              {"fs.read-compare", kWhatReadCompare},
                              {"fs.create", kWhatCreate},
                              {"fs.write", kWhatWrite},
                              {"fs.release", kWhatRelease},
                              {"fs.write-compare", kWhatWriteCompare},
                              {"fs.readdir", kWhatReaddir},
                              {"fs.unlink", kWhatUnlink},
                              {"fs.forget", kWhatForget}})
        steps_.blocked(id, what, "fs.init");
      return steps_.take();
    }
    read_existing_file();
    write_new_file();
    release_files();
    compare_written_file();
    readdir_root();
    unlink_created();
    forget_nodes();
    return steps_.take();
  }

 private:
  static FuseCaller caller_for(const FsWorkloadOptions& options) {
    if (options.caller) return *options.caller;
    return {static_cast<uint32_t>(::getuid()), static_cast<uint32_t>(::getgid()),
            static_cast<uint32_t>(::getpid())};
  }

  bool init() {
    steps_.start();
    fuse_init_in in{};
    in.major = FUSE_KERNEL_VERSION;
    in.minor = FUSE_KERNEL_MINOR_VERSION;
    in.max_readahead = 128 * 1024;
    in.flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES;
    std::vector<uint8_t> args;
    append_struct(args, in);
    auto reply = client_.call(FUSE_INIT, 0, args, sizeof(fuse_init_out));
    if (!reply) {
      steps_.fail("fs.init", kWhatInit, reply.error);
      return false;
    }
    // Servers of older minors answer with a shorter fuse_init_out; max_write is there from 7.5.
    constexpr size_t kWithMaxWrite = offsetof(fuse_init_out, max_write) + sizeof(uint32_t);
    fuse_init_out out{};
    if (!reply.value->body.empty())
      std::memcpy(&out, reply.value->body.data(), std::min(reply.value->body.size(), sizeof out));
    if (reply.value->body.size() < kWithMaxWrite) {
      steps_.fail("fs.init", kWhatInit,
                  "INIT reply of " + std::to_string(reply.value->body.size()) +
                      " bytes has no max_write (needs " + std::to_string(kWithMaxWrite) + ")");
      return false;
    }
    if (out.major != FUSE_KERNEL_VERSION) {
      steps_.fail("fs.init", kWhatInit,
                  "the back-end answered FUSE major " + std::to_string(out.major) +
                      ", this exerciser speaks " + std::to_string(FUSE_KERNEL_VERSION));
      return false;
    }
    // Both sides use the lower minor (FUSE protocol negotiation, as the kernel does).
    minor_ = std::min<uint32_t>(out.minor, FUSE_KERNEL_MINOR_VERSION);
    if (minor_ < 12) {
      steps_.fail("fs.init", kWhatInit,
                  "negotiated FUSE 7." + std::to_string(minor_) +
                      ": the requests sent here need 7.12 or later");
      return false;
    }
    if (out.max_write == 0) {
      steps_.fail("fs.init", kWhatInit, "INIT reply has max_write 0");
      return false;
    }
    max_write_ = out.max_write;
    steps_.pass("fs.init", kWhatInit);
    return true;
  }

  void read_existing_file() {
    if (ctx_.shared_dir.empty()) {
      const char* why = "no host path of the shared directory to compare with (--shared-dir)";
      for (auto [id, what] : {std::pair{"fs.lookup", kWhatLookup},
                              {"fs.getattr", kWhatGetattr},
                              {"fs.open", kWhatOpen},
                              {"fs.read", kWhatRead},
                              {"fs.read-compare", kWhatReadCompare}})
        steps_.unsupported(id, what, why);
      return;
    }
    auto host_file = pick_host_file(ctx_.shared_dir, created_name_);
    if (!host_file) {
      const std::string why =
          "the shared directory " + ctx_.shared_dir.string() + " holds no regular file to read";
      for (auto [id, what] : {std::pair{"fs.lookup", kWhatLookup},
                              {"fs.getattr", kWhatGetattr},
                              {"fs.open", kWhatOpen},
                              {"fs.read", kWhatRead},
                              {"fs.read-compare", kWhatReadCompare}})
        steps_.unsupported(id, what, why);
      return;
    }
    const std::string name = host_file->filename().string();
    std::error_code ec;
    const uint64_t host_size = stdfs::file_size(*host_file, ec);

    std::vector<uint8_t> args;
    append_name(args, name);
    steps_.start();
    auto entry = client_.call(FUSE_LOOKUP, kRootNodeId, args, sizeof(fuse_entry_out));
    if (!entry) {
      steps_.fail("fs.lookup", kWhatLookup, entry.error + " (looking up " + name + ")");
      for (auto [id, what] : {std::pair{"fs.getattr", kWhatGetattr},
                              {"fs.open", kWhatOpen},
                              {"fs.read", kWhatRead},
                              {"fs.read-compare", kWhatReadCompare}})
        steps_.blocked(id, what, "fs.lookup");
      return;
    }
    auto entry_out = read_struct<fuse_entry_out>(entry.value->body);
    if (!entry_out || entry_out->nodeid == 0) {
      steps_.fail("fs.lookup", kWhatLookup,
                  entry_out ? "LOOKUP of " + name + " answered node id 0"
                            : "LOOKUP reply of " + std::to_string(entry.value->body.size()) +
                                  " bytes is shorter than fuse_entry_out");
      for (auto [id, what] : {std::pair{"fs.getattr", kWhatGetattr},
                              {"fs.open", kWhatOpen},
                              {"fs.read", kWhatRead},
                              {"fs.read-compare", kWhatReadCompare}})
        steps_.blocked(id, what, "fs.lookup");
      return;
    }
    read_node_ = entry_out->nodeid;
    steps_.pass("fs.lookup", kWhatLookup);

    steps_.start();
    fuse_getattr_in getattr{};
    args.clear();
    append_struct(args, getattr);
    auto attr = client_.call(FUSE_GETATTR, read_node_, args, sizeof(fuse_attr_out));
    if (!attr) {
      steps_.fail("fs.getattr", kWhatGetattr, attr.error);
    } else if (auto a = read_struct<fuse_attr_out>(attr.value->body); !a) {
      steps_.fail("fs.getattr", kWhatGetattr,
                  "GETATTR reply of " + std::to_string(attr.value->body.size()) +
                      " bytes is shorter than fuse_attr_out");
    } else if (!S_ISREG(a->attr.mode)) {
      char mode[16];
      std::snprintf(mode, sizeof mode, "0%o", a->attr.mode);
      steps_.fail("fs.getattr", kWhatGetattr,
                  "GETATTR of " + name + " gives mode " + mode + ", not a regular file");
    } else if (a->attr.size != host_size) {
      steps_.fail("fs.getattr", kWhatGetattr,
                  "GETATTR of " + name + " gives size " + std::to_string(a->attr.size) +
                      ", the host file has " + std::to_string(host_size));
    } else {
      steps_.pass("fs.getattr", kWhatGetattr);
    }

    steps_.start();
    fuse_open_in open{};
    open.flags = O_RDONLY;
    args.clear();
    append_struct(args, open);
    auto opened = client_.call(FUSE_OPEN, read_node_, args, sizeof(fuse_open_out));
    auto open_out = opened ? read_struct<fuse_open_out>(opened.value->body) : std::nullopt;
    if (!open_out) {
      steps_.fail("fs.open", kWhatOpen,
                  opened ? "OPEN reply is shorter than fuse_open_out" : opened.error);
      steps_.blocked("fs.read", kWhatRead, "fs.open");
      steps_.blocked("fs.read-compare", kWhatReadCompare, "fs.open");
      return;
    }
    read_fh_ = open_out->fh;
    steps_.pass("fs.open", kWhatOpen);

    steps_.start();
    const uint64_t limit = std::min(host_size, options_.read_limit);
    std::vector<uint8_t> data;
    std::string read_error;
    while (data.size() < limit) {
      fuse_read_in read{};
      read.fh = *read_fh_;
      read.offset = data.size();
      read.size =
          static_cast<uint32_t>(std::min<uint64_t>(options_.read_chunk, limit - data.size()));
      read.flags = O_RDONLY;
      args.clear();
      append_struct(args, read);
      auto got = client_.call(FUSE_READ, read_node_, args, read.size);
      if (!got) {
        read_error = got.error + " (at offset " + std::to_string(read.offset) + ")";
        break;
      }
      if (got.value->body.size() > read.size) {
        read_error = "READ at offset " + std::to_string(read.offset) + " asked " +
                     std::to_string(read.size) + " bytes and got " +
                     std::to_string(got.value->body.size());
        break;
      }
      if (got.value->body.empty()) break;  // end of file
      data.insert(data.end(), got.value->body.begin(), got.value->body.end());
    }
    if (!read_error.empty()) {
      steps_.fail("fs.read", kWhatRead, read_error);
      steps_.blocked("fs.read-compare", kWhatReadCompare, "fs.read");
      return;
    }
    steps_.pass("fs.read", kWhatRead);
    auto host = read_host_file(*host_file, limit);
    if (!host) {
      steps_.fail("fs.read-compare", kWhatReadCompare,
                  "cannot read the host file " + host_file->string());
      return;
    }
    if (auto diff = compare_bytes(data, *host, "READ of " + name, "the host file"); !diff.empty())
      steps_.fail("fs.read-compare", kWhatReadCompare, diff);
    else
      steps_.pass("fs.read-compare", kWhatReadCompare);
  }

  void write_new_file() {
    steps_.start();
    fuse_create_in create{};
    create.flags = O_WRONLY | O_CREAT | O_EXCL;
    create.mode = S_IFREG | 0644;
    create.umask = 022;
    std::vector<uint8_t> args;
    append_struct(args, create);
    append_name(args, created_name_);
    auto created = client_.call(FUSE_CREATE, kRootNodeId, args,
                                sizeof(fuse_entry_out) + sizeof(fuse_open_out));
    auto entry = created ? read_struct<fuse_entry_out>(created.value->body) : std::nullopt;
    auto open = created ? read_struct<fuse_open_out>(created.value->body, sizeof(fuse_entry_out))
                        : std::nullopt;
    if (!entry || !open || entry->nodeid == 0) {
      steps_.fail("fs.create", kWhatCreate,
                  !created ? created.error + " (creating " + created_name_ + ")"
                  : !entry || !open
                      ? "CREATE reply of " + std::to_string(created.value->body.size()) +
                            " bytes is shorter than fuse_entry_out + fuse_open_out"
                      : "CREATE of " + created_name_ + " answered node id 0");
      steps_.blocked("fs.write", kWhatWrite, "fs.create");
      return;
    }
    created_node_ = entry->nodeid;
    created_fh_ = open->fh;
    steps_.pass("fs.create", kWhatCreate);

    steps_.start();
    written_.resize(options_.write_bytes);
    for (size_t i = 0; i < written_.size(); ++i) written_[i] = pattern_byte(i);
    const uint32_t chunk = std::min<uint32_t>(max_write_, 16 * 1024);
    for (size_t offset = 0; offset < written_.size();) {
      fuse_write_in write{};
      write.fh = *created_fh_;
      write.offset = offset;
      write.size = static_cast<uint32_t>(std::min<size_t>(chunk, written_.size() - offset));
      write.flags = O_WRONLY;
      args.clear();
      append_struct(args, write);
      auto data = std::span(written_).subspan(offset, write.size);
      auto done = client_.call(FUSE_WRITE, created_node_, args, sizeof(fuse_write_out), data);
      auto out = done ? read_struct<fuse_write_out>(done.value->body) : std::nullopt;
      if (!out || out->size != write.size) {
        steps_.fail("fs.write", kWhatWrite,
                    !done  ? done.error + " (at offset " + std::to_string(offset) + ")"
                    : !out ? "WRITE reply is shorter than fuse_write_out"
                           : "WRITE at offset " + std::to_string(offset) + " of " +
                                 std::to_string(write.size) + " bytes wrote " +
                                 std::to_string(out->size));
        written_.clear();
        return;
      }
      offset += write.size;
    }
    steps_.pass("fs.write", kWhatWrite);
  }

  void release_files() {
    steps_.start();
    std::string error;
    auto release = [&](uint64_t node, uint64_t fh, uint32_t flags) {
      fuse_release_in in{};
      in.fh = fh;
      in.flags = flags;
      std::vector<uint8_t> args;
      append_struct(args, in);
      auto done = client_.call(FUSE_RELEASE, node, args, 0);
      if (!done && error.empty()) error = done.error;
    };
    if (read_fh_) release(read_node_, *read_fh_, O_RDONLY);
    if (created_fh_) release(created_node_, *created_fh_, O_WRONLY);
    if (!read_fh_ && !created_fh_)
      steps_.blocked("fs.release", kWhatRelease, "fs.open and fs.create");
    else if (!error.empty())
      steps_.fail("fs.release", kWhatRelease, error);
    else
      steps_.pass("fs.release", kWhatRelease);
  }

  void compare_written_file() {
    if (ctx_.shared_dir.empty()) {
      steps_.unsupported("fs.write-compare", kWhatWriteCompare,
                         "no host path of the shared directory to compare with (--shared-dir)");
      return;
    }
    if (written_.empty()) {
      steps_.blocked("fs.write-compare", kWhatWriteCompare,
                     created_node_ ? "fs.write" : "fs.create");
      return;
    }
    const stdfs::path path = ctx_.shared_dir / created_name_;
    auto host = read_host_file(path, written_.size() + 1);
    if (!host) {
      steps_.fail("fs.write-compare", kWhatWriteCompare,
                  "the host directory has no " + created_name_ + " after CREATE and WRITE");
      return;
    }
    if (auto diff = compare_bytes(*host, written_, "host file " + created_name_, "WRITE");
        !diff.empty())
      steps_.fail("fs.write-compare", kWhatWriteCompare, diff);
    else
      steps_.pass("fs.write-compare", kWhatWriteCompare);
  }

  void readdir_root() {
    steps_.start();
    fuse_open_in open{};
    open.flags = O_RDONLY | O_DIRECTORY;
    std::vector<uint8_t> args;
    append_struct(args, open);
    auto opened = client_.call(FUSE_OPENDIR, kRootNodeId, args, sizeof(fuse_open_out));
    auto open_out = opened ? read_struct<fuse_open_out>(opened.value->body) : std::nullopt;
    if (!open_out) {
      steps_.fail("fs.readdir", kWhatReaddir,
                  opened ? "OPENDIR reply is shorter than fuse_open_out" : opened.error);
      return;
    }
    std::set<std::string> names;
    std::string error;
    uint64_t offset = 0;
    for (size_t round = 0;; ++round) {
      if (round == kMaxDirReads) {
        error = "READDIR did not reach the end of the root after " + std::to_string(kMaxDirReads) +
                " requests";
        break;
      }
      fuse_read_in read{};
      read.fh = open_out->fh;
      read.offset = offset;
      read.size = kDirReadSize;
      args.clear();
      append_struct(args, read);
      auto got = client_.call(FUSE_READDIR, kRootNodeId, args, kDirReadSize);
      if (!got) {
        error = got.error;
        break;
      }
      auto entries = parse_fuse_dirents(got.value->body);
      if (!entries) {
        error = entries.error;
        break;
      }
      if (entries.value->empty()) break;  // the end of the directory
      for (const auto& e : *entries.value)
        if (e.name != "." && e.name != "..") names.insert(e.name);
      const uint64_t next = entries.value->back().off;
      if (next == offset) {
        error = "READDIR at offset " + std::to_string(offset) + " returns entries that do not " +
                "move the offset on";
        break;
      }
      offset = next;
    }
    fuse_release_in release{};
    release.fh = open_out->fh;
    args.clear();
    append_struct(args, release);
    auto closed = client_.call(FUSE_RELEASEDIR, kRootNodeId, args, 0);
    if (error.empty() && !closed) error = closed.error;
    if (error.empty() && !ctx_.shared_dir.empty())
      error = name_difference(names, host_names(ctx_.shared_dir));
    if (!error.empty())
      steps_.fail("fs.readdir", kWhatReaddir, error);
    else
      steps_.pass("fs.readdir", kWhatReaddir);
  }

  void unlink_created() {
    steps_.start();
    if (!created_node_) {
      steps_.blocked("fs.unlink", kWhatUnlink, "fs.create");
      return;
    }
    std::vector<uint8_t> args;
    append_name(args, created_name_);
    auto done = client_.call(FUSE_UNLINK, kRootNodeId, args, 0);
    std::error_code ec;
    if (!done)
      steps_.fail("fs.unlink", kWhatUnlink, done.error + " (removing " + created_name_ + ")");
    else if (!ctx_.shared_dir.empty() && stdfs::exists(ctx_.shared_dir / created_name_, ec))
      steps_.fail("fs.unlink", kWhatUnlink,
                  "UNLINK succeeded but the host directory still has " + created_name_);
    else
      steps_.pass("fs.unlink", kWhatUnlink);
  }

  void forget_nodes() {
    steps_.start();
    std::vector<std::pair<uint64_t, uint64_t>> nodes;  // node id, lookups to drop
    if (read_node_) nodes.emplace_back(read_node_, 1);
    if (created_node_) nodes.emplace_back(created_node_, 1);
    if (nodes.empty()) {
      steps_.blocked("fs.forget", kWhatForget, "fs.lookup and fs.create");
      return;
    }
    if (auto error = client_.forget(nodes); !error.empty())
      steps_.fail("fs.forget", kWhatForget, error);
    else
      steps_.pass("fs.forget", kWhatForget);
  }

  WorkloadContext& ctx_;
  FsWorkloadOptions options_;
  FuseClient client_;
  Steps steps_;
  std::string created_name_;
  uint32_t minor_ = 0;
  uint32_t max_write_ = 4096;
  uint64_t read_node_ = 0, created_node_ = 0;
  std::optional<uint64_t> read_fh_, created_fh_;
  std::vector<uint8_t> written_;
};

// Probes are told apart from the workload's requests, which count up from 1.
constexpr uint64_t kProbeUnique = 0x7368'7072'6f62'6500;  // "shprobe"

}  // namespace

ChainRequest fs_probe_request() {
  std::vector<uint8_t> args;
  append_struct(args, fuse_getattr_in{});
  ChainRequest chain;
  chain.readable.push_back(fuse_request(FUSE_GETATTR, kProbeUnique, kRootNodeId, args, {}));
  chain.writable_sizes = {static_cast<uint32_t>(sizeof(fuse_out_header)),
                          static_cast<uint32_t>(sizeof(fuse_attr_out))};
  return chain;
}

std::string fs_probe_check(const ChainCompletion& completion) {
  auto reply = parse_fuse_reply(completion, kProbeUnique);
  return reply ? std::string() : "GETATTR probe: " + reply.error;
}

std::vector<CheckOutcome> run_fs_workload(WorkloadContext& ctx) {
  return run_fs_workload(ctx, FsWorkloadOptions{});
}

std::vector<CheckOutcome> run_fs_workload(WorkloadContext& ctx, const FsWorkloadOptions& options) {
  return FsWorkload(ctx, options).run();
}

}  // namespace vhs::exercise
