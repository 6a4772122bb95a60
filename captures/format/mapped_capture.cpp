// The memory-mapped capture reader: the classic pcap framing (file header, 16-byte packet
// headers) read straight from the mapping, each packet's pseudo-header by decode_packet_view.
#include "captures/format/mapped_capture.hpp"

#include "captures/format/mapping_fault.hpp"
#include "captures/format/page_warmer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "captures/format/capture_file.hpp"
#include "captures/format/pseudo_header.hpp"

namespace vhs {
namespace {

constexpr size_t kFileHeaderSize = 24;
constexpr size_t kPacketHeaderSize = 16;
constexpr uint32_t kMagicMicroseconds = 0xa1b2c3d4;
constexpr uint32_t kMagicNanoseconds = 0xa1b23c4d;
constexpr size_t kVersionOffset = 4;  // u16 major, u16 minor
constexpr size_t kLinkTypeOffset = 20;
// The classic pcap versions libpcap reads (2.0 to 2.4); anything else it refuses, and explains.
constexpr uint16_t kPcapVersionMajor = 2;
constexpr uint16_t kPcapVersionMinorMax = 4;
// Read pages are handed back in steps of this size (a multiple of any page size).
constexpr size_t kReleaseStep = size_t{16} << 20;
// note_access maps a step in by windows of this size: 64 of them, one bit each.
constexpr size_t kAccessWindow = kReleaseStep / 64;
static_assert(kReleaseStep % kAccessWindow == 0 && kReleaseStep / kAccessWindow <= 64);

uint16_t get_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint32_t get_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;  // the formats this reader takes are little endian, like the hosts it runs on
}

}  // namespace

std::shared_ptr<MappedCapture> MappedCapture::open(const std::string& path,
                                                   const std::string& label) {
  if (path == kStandardStream) return nullptr;
  // stat() before open(): opening a named pipe blocks until a writer comes, and what that writer
  // sends would be lost to the stream reader that opens it next. O_NONBLOCK guards the window in
  // which the path is replaced by something else; the fstat() below checks the file opened.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return nullptr;
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const auto size = static_cast<size_t>(st.st_size);
  if (!regular || size < kFileHeaderSize) {
    ::close(fd);
    return nullptr;
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED) return nullptr;
  watch_mapped_capture(map, size, path, label);
  const auto* base = static_cast<const uint8_t*>(map);
  const uint32_t magic = get_u32(base);
  // A version libpcap would refuse is left to the stream reader, which says why.
  const bool ours = (magic == kMagicMicroseconds || magic == kMagicNanoseconds) &&
                    get_u16(base + kVersionOffset) == kPcapVersionMajor &&
                    get_u16(base + kVersionOffset + 2) <= kPcapVersionMinorMax &&
                    get_u32(base + kLinkTypeOffset) == static_cast<uint32_t>(kCaptureLinkType);
  if (!ours) {
    unwatch_mapped_capture(map);
    ::munmap(map, size);
    return nullptr;
  }
  ::madvise(map, size, MADV_SEQUENTIAL);
  return std::shared_ptr<MappedCapture>(new MappedCapture(base, size, magic == kMagicNanoseconds));
}

MappedCapture::MappedCapture(const uint8_t* base, size_t size, bool nanosecond)
    : base_(base), size_(size), nanosecond_(nanosecond), pos_(kFileHeaderSize) {}

MappedCapture::~MappedCapture() {
  forget_warm_pages(base_, size_);
  unwatch_mapped_capture(base_);
  ::munmap(const_cast<uint8_t*>(base_), size_);
}

namespace {

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif

// Maps the file's pages of [at, at + length) in one call. Each page fault costs an exception (on
// a virtual machine an exit to the hypervisor, microseconds each); a step read record by record
// would take one per few pages. Best effort: an older kernel refuses (EINVAL) and the reads
// fault the pages in as before; a file cut under the mapping reports EFAULT here, and the
// read itself then meets the SIGBUS that mapping_fault.hpp handles.
void populate(const uint8_t* at, size_t length) {
  if (length > 0) ::madvise(const_cast<uint8_t*>(at), length, MADV_POPULATE_READ);
}

}  // namespace

bool MappedCapture::next(RecordView& out) {
  CaptureProgress& p = progress_;
  // Entering a step: its pages are mapped in at once (usually already done: the page warmer
  // maps the next step in on the other core meanwhile; one step ahead, so what is resident
  // stays bounded as release_read_pages keeps it).
  if (populated_ <= pos_ && pos_ < size_) {
    const size_t from = pos_ & ~(kReleaseStep - 1);
    const size_t to = std::min(size_, from + kReleaseStep);
    populate(base_ + from, to - from);
    populated_ = to;
    warm_pages(base_ + to, std::min(size_, to + kReleaseStep) - to, WarmFor::Reading);
  }
  while (!p.done) {
    const size_t left = size_ - pos_;
    if (left == 0) break;  // clean end of file
    // libpcap's words for a cut-off or oversized packet, so both readers warn alike.
    if (left < kPacketHeaderSize) {
      p.truncated(fmt::format("truncated dump file; tried to read {} header bytes, only got {}",
                              kPacketHeaderSize, left));
      break;
    }
    const uint8_t* h = base_ + pos_;
    const uint32_t caplen = get_u32(h + 8);
    const uint32_t len = get_u32(h + 12);
    if (caplen > kCaptureSnapLen) {
      p.truncated(fmt::format("invalid packet capture length {}, bigger than maximum of {}", caplen,
                              kCaptureSnapLen));
      break;
    }
    if (left - kPacketHeaderSize < caplen) {
      p.truncated(fmt::format("truncated dump file; tried to read {} captured bytes, only got {}",
                              caplen, left - kPacketHeaderSize));
      break;
    }
    pos_ += kPacketHeaderSize + caplen;
    if (p.accept(
            decode_packet_view({h + kPacketHeaderSize, caplen}, caplen < len, out, fds_, p.why))) {
      const uint64_t fraction = get_u32(h + 4);
      out.timestamp_ns = uint64_t{get_u32(h)} * kCaptureNanosPerSecond +
                         (nanosecond_ ? fraction : fraction * 1000);
      return true;
    }
  }
  p.done = true;
  return false;
}

void MappedCapture::release_read_pages() {
  // The steps before the one being read: the current step stays resident (next() mapped it in
  // whole), so the record just read and the last few before it, which a caller may still be
  // looking at, are there; one that began in the previous step comes back from the page cache
  // if it is read again.
  const size_t keep_from = pos_ & ~(kReleaseStep - 1);
  if (keep_from <= released_) return;
  ::madvise(const_cast<uint8_t*>(base_) + released_, keep_from - released_, MADV_DONTNEED);
  released_ = keep_from;
}

void MappedCapture::release_pages_before(const uint8_t* at) {
  if (at < base_ || at >= base_ + size_) return;
  const size_t keep_from = static_cast<size_t>(at - base_) & ~(kReleaseStep - 1);
  if (keep_from <= released_) return;
  ::madvise(const_cast<uint8_t*>(base_) + released_, keep_from - released_, MADV_DONTNEED);
  released_ = keep_from;
}

void MappedCapture::note_access(const uint8_t* at) const {
  // Moves between steps are counted, not distances: random reads (a viewer jumping around) get
  // the same bound as a sequential pass. On every move the step this method mapped in last is
  // handed back, so one step of these reads stays resident (a summary's reads peaked 48 MiB
  // higher when four were kept). Only that step: the pages a loader is reading meanwhile (the
  // GUI ingests while the rows on screen are read) stay where they are, and the page tables of
  // the rest of the mapping are not walked on every move.
  // Within the step only the window holding `at` is mapped in, at its first read: a summary reads
  // a few hundred listed messages spread over the file, and mapping a whole step for each took a
  // tenth of a 10M-record summary. A sequential pass maps the windows one after another.
  if (at < base_ || at >= base_ + size_) return;
  const auto offset = static_cast<size_t>(at - base_);
  const size_t step = offset / kReleaseStep;
  auto* base = const_cast<uint8_t*>(base_);
  if (step != access_step_ || !access_populated_) {
    if (access_populated_) {
      const size_t from = access_step_ * kReleaseStep;
      ::madvise(base + from, std::min(size_, from + kReleaseStep) - from, MADV_DONTNEED);
    }
    access_step_ = step;
    access_populated_ = true;
    access_windows_ = 0;
  }
  const size_t window = (offset % kReleaseStep) / kAccessWindow;
  if (access_windows_ & (uint64_t{1} << window)) return;
  access_windows_ |= uint64_t{1} << window;
  const size_t window_from = step * kReleaseStep + window * kAccessWindow;
  populate(base_ + window_from, std::min(size_, window_from + kAccessWindow) - window_from);
}

}  // namespace vhs
