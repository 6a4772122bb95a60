// Fd re-creation for replays (see replay_fds.hpp).
#include "proxy/replay_fds.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "proxy/sys_error.hpp"

namespace vhs {
namespace {

constexpr uint64_t kPage = 4096;

std::string memfd_name(const FdInfo& recorded) {
  std::string_view n = recorded.name;
  if (n.starts_with("memfd:")) n.remove_prefix(6);
  if (n.empty() || recorded.kind != FdKind::Memfd) return "vhostscope-replay";
  return std::string(n.substr(0, 240));  // memfd_create limits names to 249 bytes
}

UniqueFd make_memfd(const std::string& name, uint64_t size, std::string& error) {
  UniqueFd fd(::memfd_create(name.c_str(), MFD_CLOEXEC));
  if (!fd) {
    error = sys_error("create memfd", name, errno);
    return fd;
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    error = sys_error("size memfd", name, errno);
    fd.reset();
  }
  return fd;
}

UniqueFd make_eventfd(std::string& error) {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) error = sys_error("create", "eventfd", errno);
  return fd;
}

uint64_t extent(uint64_t offset, uint64_t size) {
  return size > UINT64_MAX - offset ? UINT64_MAX : offset + size;
}

}  // namespace

uint64_t fd_extent_needed(const DecodedMessage& msg, size_t index) {
  if (const auto* t = std::get_if<MemTableValue>(&msg.payload))
    return index < t->regions.size()
               ? extent(t->regions[index].mmap_offset, t->regions[index].memory_size)
               : 0;
  if (const auto* r = std::get_if<SingleRegionValue>(&msg.payload))
    return index == 0 ? extent(r->region.mmap_offset, r->region.memory_size) : 0;
  if (const auto* l = std::get_if<LogValue>(&msg.payload))
    return index == 0 ? extent(l->mmap_offset, l->mmap_size) : 0;
  if (const auto* f = std::get_if<InflightValue>(&msg.payload))
    return index == 0 ? extent(f->mmap_offset, f->mmap_size) : 0;
  if (const auto* a = std::get_if<VringAreaValue>(&msg.payload))
    return index == 0 ? extent(a->offset, a->size) : 0;
  if (const auto* s = std::get_if<ShmemMapValue>(&msg.payload))
    return index == 0 ? extent(s->fd_offset, s->len) : 0;
  return 0;
}

int ReplayFds::cached_or_new(const FdInfo& recorded, uint64_t need, Prepared& out) {
  const bool memory =
      recorded.kind == FdKind::Memfd || recorded.kind == FdKind::File ||
      ((recorded.kind == FdKind::Other || recorded.kind == FdKind::Unknown) && recorded.size > 0);
  uint64_t size = std::max(recorded.size, need);
  if (memory && size == 0) size = kPage;
  if (size > (uint64_t{1} << 46)) {  // a hostile capture must not make us truncate absurdly
    out.error =
        "a recorded memory object of " + std::to_string(size) + " bytes is too large to re-create";
    return -1;
  }

  if (recorded.inode != 0) {
    auto it = by_inode_.find(recorded.inode);
    if (it != by_inode_.end()) {
      // Same recorded object again: same replay fd, grown if this use needs more.
      struct stat st {};
      if (memory && ::fstat(it->second.get(), &st) == 0 && S_ISREG(st.st_mode) &&
          static_cast<uint64_t>(st.st_size) < size) {
        if (!reserve_memory(size - static_cast<uint64_t>(st.st_size), out)) return -1;
        (void)::ftruncate(it->second.get(), static_cast<off_t>(size));
      }
      return it->second.get();
    }
  }

  UniqueFd fd;
  if (memory) {
    if (recorded.kind == FdKind::File)
      out.notes.push_back("file-backed memory '" + recorded.name + "' replaced by a memfd");
    if (recorded.kind == FdKind::Other || recorded.kind == FdKind::Unknown)
      out.notes.push_back("'" + recorded.name + "' replaced by a memfd of its size");
    if (!reserve_memory(size, out)) return -1;
    fd = make_memfd(memfd_name(recorded), size, out.error);
  } else {
    if (recorded.kind != FdKind::Eventfd)
      out.notes.push_back(std::string(fd_kind_name(recorded.kind)) + " '" + recorded.name +
                          "' replaced by an eventfd");
    fd = make_eventfd(out.error);
  }
  if (!fd) return -1;
  const int raw = fd.get();
  if (recorded.inode != 0)
    by_inode_[recorded.inode] = std::move(fd);
  else
    kept_.push_back(std::move(fd));
  return raw;
}

bool ReplayFds::reserve_memory(uint64_t more, Prepared& out) {
  if (more > memory_cap_ || memory_bytes_ > memory_cap_ - more) {
    out.error = "the capture's guest memory needs " + std::to_string(memory_bytes_ + more) +
                " bytes, more than the replay's cap of " + std::to_string(memory_cap_) +
                " bytes (raise it with --max-guest-memory SIZE)";
    return false;
  }
  memory_bytes_ += more;
  return true;
}

ReplayFds::Prepared ReplayFds::prepare(const DecodedMessage& msg,
                                       std::span<const FdInfo> recorded) {
  Prepared out;
  for (size_t i = 0; i < recorded.size() && out.error.empty(); ++i) {
    const FdInfo& r = recorded[i];
    if (r.kind == FdKind::Socket) {
      int pair[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        out.error = sys_error("create", "socketpair", errno);
        break;
      }
      out.socket_end.reset(pair[0]);
      out.transient.emplace_back(pair[1]);
      out.fds.push_back(pair[1]);
      continue;
    }
    if (r.kind == FdKind::Pipe) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) {
        out.error = sys_error("create", "pipe", errno);
        break;
      }
      // Device state (spec 4.13): SAVE (0) = the back-end writes, so it gets the write end;
      // LOAD (1) = it reads. We keep the other end open so it sees no premature EOF/EPIPE.
      const auto* params = std::get_if<DeviceStateParamsValue>(&msg.payload);
      const bool peer_reads = params != nullptr && params->direction == 1;
      out.fds.push_back(peer_reads ? p[0] : p[1]);
      out.transient.emplace_back(peer_reads ? p[0] : p[1]);
      kept_.emplace_back(peer_reads ? p[1] : p[0]);
      out.notes.push_back("device state pipe: contents are not replayed");
      continue;
    }
    const int fd = cached_or_new(r, fd_extent_needed(msg, i), out);
    if (fd < 0) break;
    out.fds.push_back(fd);
  }
  return out;
}

void ReplayFds::adopt(const FdInfo& recorded, UniqueFd received) {
  if (recorded.inode == 0 || !received) return;
  by_inode_[recorded.inode] = std::move(received);
}

}  // namespace vhs
