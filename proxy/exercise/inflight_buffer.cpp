#include "proxy/exercise/inflight_buffer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "decoders/vhost_user/payload_layout.hpp"
#include "proxy/sys_error.hpp"

namespace vhs::exercise {
namespace {

// Split queue region (spec "Inflight I/O tracking"): features u64, version u16, desc_num u16,
// last_batch_head u16, used_idx u16, then desc_num entries of {inflight u8, padding[5], next u16,
// counter u64}.
constexpr uint64_t kRegionHeaderBytes = 16;
constexpr uint64_t kDescStateBytes = 16;
constexpr uint64_t kVersionAt = 8, kDescNumAt = 10;
// Far above what 64 queues of 32768 descriptors need (32 MiB): a size beyond is not a buffer.
constexpr uint64_t kMaxInflightBytes = uint64_t{256} << 20;

struct Mapping {
  void* p = MAP_FAILED;
  uint64_t n = 0;
  ~Mapping() {
    if (p != MAP_FAILED) ::munmap(p, n);
  }
};

// The fd must hold offset + size bytes: mapping past the end of a memfd maps, and faults on use.
std::string fd_too_small(int fd, uint64_t offset, uint64_t size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error("fstat", "the inflight fd", errno);
  if (!S_ISREG(st.st_mode)) return "the fd is not a file or memfd that can be mapped";
  if (static_cast<uint64_t>(st.st_size) < offset + size)
    return fmt::format("the fd holds {} bytes, mmap_offset + mmap_size need {}", st.st_size,
                       offset + size);
  return "";
}

}  // namespace

uint64_t inflight_split_queue_bytes(uint16_t queue_size) {
  return kRegionHeaderBytes + kDescStateBytes * queue_size;
}

Outcome<InflightBuffer> take_inflight_reply(Reply& reply, uint16_t num_queues,
                                            uint16_t queue_size) {
  using R = Outcome<InflightBuffer>;
  const ByteReader p(reply.payload);
  InflightBuffer b;
  b.value.mmap_size = read_slot(p, layout::kInflightMmapSize);
  b.value.mmap_offset = read_slot(p, layout::kInflightMmapOffset);
  b.value.num_queues = num_queues;
  b.value.queue_size = queue_size;
  const std::string at = fmt::format("#{} GET_INFLIGHT_FD reply", reply.record);
  // QEMU 7.2 (vhost_user_get_inflight_fd) takes mmap_size 0 as "no buffer" and goes on without.
  if (b.value.mmap_size == 0) return R::ok(std::move(b));
  if (reply.fds.size() != 1)
    return R::fail(fmt::format("{}: mmap_size {} with {} fds; the buffer comes as one fd", at,
                               b.value.mmap_size, reply.fds.size()));
  const uint64_t need = inflight_split_queue_bytes(queue_size) * num_queues;
  if (b.value.mmap_size < need)
    return R::fail(fmt::format(
        "{}: mmap_size {} does not hold {} queue regions of {} descriptors ({} bytes: a 16-byte "
        "header and 16 bytes per descriptor, spec \"Inflight I/O tracking\")",
        at, b.value.mmap_size, num_queues, queue_size, need));
  if (b.value.mmap_size > kMaxInflightBytes)
    return R::fail(fmt::format("{}: mmap_size {} is beyond any inflight buffer ({} queues of {})",
                               at, b.value.mmap_size, num_queues, queue_size));
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (b.value.mmap_offset % page != 0 || b.value.mmap_offset > kMaxInflightBytes)
    return R::fail(fmt::format("{}: mmap_offset 0x{:x} cannot be mapped (not a page multiple, or "
                               "far beyond the buffer)",
                               at, b.value.mmap_offset));
  b.fd = std::move(reply.fds[0]);
  if (std::string why = fd_too_small(b.fd.get(), b.value.mmap_offset, b.value.mmap_size);
      !why.empty())
    return R::fail(fmt::format("{}: {}", at, why));
  Mapping m;
  m.n = b.value.mmap_size;
  m.p = ::mmap(nullptr, m.n, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd.get(),
               static_cast<off_t>(b.value.mmap_offset));
  if (m.p == MAP_FAILED)
    return R::fail(fmt::format("{}: {}", at, sys_error("map", "the inflight buffer", errno)));
  return R::ok(std::move(b));
}

bool inflight_fd_sealed(const InflightBuffer& buffer) {
  if (buffer.declined()) return false;
  const int seals = ::fcntl(buffer.fd.get(), F_GET_SEALS);
  return seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
}

Outcome<std::vector<std::vector<uint16_t>>> inflight_marked_heads(const InflightBuffer& buffer) {
  using R = Outcome<std::vector<std::vector<uint16_t>>>;
  const InflightValue& v = buffer.value;
  if (buffer.declined() || v.num_queues == 0) return R::ok({});
  if (std::string why = fd_too_small(buffer.fd.get(), v.mmap_offset, v.mmap_size); !why.empty())
    return R::fail("the inflight buffer: " + why);
  Mapping m;
  m.n = v.mmap_size;
  m.p = ::mmap(nullptr, m.n, PROT_READ, MAP_SHARED, buffer.fd.get(),
               static_cast<off_t>(v.mmap_offset));
  if (m.p == MAP_FAILED) return R::fail(sys_error("map", "the inflight buffer", errno));
  const auto* base = static_cast<const uint8_t*>(m.p);
  const uint64_t stride = v.mmap_size / v.num_queues;
  std::vector<std::vector<uint16_t>> out(v.num_queues);
  for (uint16_t q = 0; q < v.num_queues; ++q) {
    const uint8_t* region = base + stride * q;
    uint16_t version = 0, desc_num = 0;
    std::memcpy(&version, region + kVersionAt, 2);
    std::memcpy(&desc_num, region + kDescNumAt, 2);
    if (version == 0) continue;
    // desc_num is the back-end's word; never read past the region.
    const uint64_t fits = (stride - kRegionHeaderBytes) / kDescStateBytes;
    const uint64_t n = std::min<uint64_t>({desc_num, fits, v.queue_size});
    for (uint64_t i = 0; i < n; ++i)
      if (region[kRegionHeaderBytes + kDescStateBytes * i] == 1)
        out[q].push_back(static_cast<uint16_t>(i));
  }
  return R::ok(std::move(out));
}

}  // namespace vhs::exercise
