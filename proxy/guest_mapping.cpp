// Read-only mappings of guest memory regions (see guest_mapping.hpp).
#include "proxy/guest_mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "proxy/fault_guard.hpp"
#include "proxy/sys_error.hpp"

namespace vhs {

namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;

uint64_t page_size_for(int fd) {
  // hugetlbfs mappings must start and end on huge-page boundaries (mmap(2) on hugetlbfs).
  struct statfs fs {};
  if (::fstatfs(fd, &fs) == 0 && static_cast<long>(fs.f_type) == kHugetlbfsMagic && fs.f_bsize > 0)
    return static_cast<uint64_t>(fs.f_bsize);
  long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<uint64_t>(page) : 4096;
}

}  // namespace

std::unique_ptr<RegionMapping> RegionMapping::map(int fd, uint64_t offset, uint64_t size,
                                                  std::string& error) {
  if (fd < 0) {
    error = "no fd";
    return nullptr;
  }
  if (size == 0) {
    error = "size 0";
    return nullptr;
  }
  const uint64_t page = page_size_for(fd);
  const uint64_t skip = offset % page;
  const uint64_t start = offset - skip;
  if (size > UINT64_MAX - skip - page) {
    error = "size too large";
    return nullptr;
  }
  uint64_t length = skip + size;
  length = (length + page - 1) / page * page;
  if (length > static_cast<uint64_t>(SIZE_MAX) || start > static_cast<uint64_t>(INT64_MAX)) {
    error = "size or offset too large";
    return nullptr;
  }
  // PROT_READ + MAP_SHARED: we see the guest's writes and can never write back.
  void* p = ::mmap(nullptr, static_cast<size_t>(length), PROT_READ, MAP_SHARED, fd,
                   static_cast<off_t>(start));
  if (p == MAP_FAILED) {
    error = "mmap failed: " + errno_text(errno);
    return nullptr;
  }
  // Copies out of the mapping must survive the file shrinking later (fault_guard.hpp).
  install_fault_guard();
  std::unique_ptr<RegionMapping> m(new RegionMapping());
  m->base_ = static_cast<const uint8_t*>(p);
  m->length_ = length;
  m->skip_ = skip;
  m->offset_ = offset;
  m->size_ = size;
  m->backed_ = size;
  // Kept to look at the file's size again when a read faults. Without it (fd limit reached)
  // reads stay guarded; only the shrink goes unreported.
  m->fd_.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  // Touching a shared mapping past the end of its file raises SIGBUS: a region larger than its
  // file (a buggy or hostile front-end) only gets the bytes the file has; the rest is unbacked.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
    m->backed_from_file_size(static_cast<uint64_t>(st.st_size));
  return m;
}

void RegionMapping::backed_from_file_size(uint64_t file_size) {
  file_size_ = file_size;
  backed_ = file_size <= offset_ ? 0 : std::min(size_, file_size - offset_);
}

bool RegionMapping::recheck_file_size() {
  struct stat st {};
  if (!fd_ || ::fstat(fd_.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const uint64_t before = backed_;
  backed_from_file_size(static_cast<uint64_t>(st.st_size));
  return backed_ != before;
}

RegionMapping::~RegionMapping() {
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), static_cast<size_t>(length_));
}

std::vector<std::string> GuestMapping::set_table(std::span<const MemRegionValue> regions,
                                                 std::span<const int> fds) {
  std::vector<std::string> errors;
  regions_.assign(regions.begin(), regions.end());
  mappings_.clear();
  for (size_t i = 0; i < regions_.size(); ++i) {
    std::string why = "no fd";
    std::unique_ptr<RegionMapping> m;
    if (i < fds.size() && fds[i] >= 0)
      m = RegionMapping::map(fds[i], regions_[i].mmap_offset, regions_[i].memory_size, why);
    if (!m) errors.push_back("region " + std::to_string(i) + ": " + why);
    mappings_.push_back(std::move(m));
  }
  rebuild();
  return errors;
}

std::vector<std::string> GuestMapping::add_region(const MemRegionValue& region, int fd) {
  std::vector<std::string> errors;
  std::string why;
  std::unique_ptr<RegionMapping> m =
      RegionMapping::map(fd, region.mmap_offset, region.memory_size, why);
  if (!m) errors.push_back("added region: " + why);
  regions_.push_back(region);
  mappings_.push_back(std::move(m));
  rebuild();
  return errors;
}

void GuestMapping::remove_region_at(size_t index) {
  if (index >= regions_.size()) return;
  regions_.erase(regions_.begin() + static_cast<std::ptrdiff_t>(index));
  mappings_.erase(mappings_.begin() + static_cast<std::ptrdiff_t>(index));
  rebuild();
}

void GuestMapping::clear() {
  regions_.clear();
  mappings_.clear();
  rebuild();
}

std::vector<BackingChange> GuestMapping::recheck_backing() {
  std::vector<BackingChange> changes;
  for (size_t i = 0; i < mappings_.size(); ++i) {
    RegionMapping* m = mappings_[i].get();
    if (m == nullptr) continue;
    const uint64_t before = m->backed_size();
    if (m->recheck_file_size())
      changes.push_back({i, regions_[i], before, m->backed_size(), m->file_size()});
  }
  if (!changes.empty()) rebuild();
  return changes;
}

bool GuestMapping::any_short() const {
  return std::any_of(mappings_.begin(), mappings_.end(),
                     [](const auto& m) { return m && m->backed_size() < m->region_size(); });
}

size_t GuestMapping::mapped_count() const {
  size_t n = 0;
  for (const auto& m : mappings_) n += m ? 1 : 0;
  return n;
}

void GuestMapping::rebuild() {
  std::vector<std::span<const uint8_t>> backing;
  backing.reserve(mappings_.size());
  for (const auto& m : mappings_) backing.push_back(m ? m->bytes() : std::span<const uint8_t>{});
  view_ = std::make_unique<RegionMemory>(MemoryMap(regions_), std::move(backing), guarded_copy);
}

}  // namespace vhs
