#include "support/faulty_ring_backend.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace vhs::test {
namespace {

// Request numbers (spec "Front-end message types").
constexpr uint32_t kGetFeatures = 1, kSetMemTable = 5, kSetVringNum = 8, kSetVringAddr = 9,
                   kSetVringBase = 10, kGetVringBase = 11, kSetVringKick = 12, kSetVringCall = 13,
                   kGetProtocolFeatures = 15, kGetInflightFd = 31, kSetInflightFd = 32;
constexpr uint64_t kFeatures = (uint64_t{1} << 32) | (uint64_t{1} << 30);  // VERSION_1, PROTOCOL
constexpr uint64_t kRingPacked = uint64_t{1} << 34;
constexpr uint64_t kProtocolFeatures = uint64_t{1} << 3;  // REPLY_ACK

}  // namespace

FaultyRingBackend::FaultyRingBackend(std::string path, RingFault fault, Millis timeout, bool packed)
    : path_(std::move(path)),
      fault_(fault),
      timeout_(timeout),
      packed_(packed),
      inflight_(InflightReply::NotOffered) {
  listener_ = listen_on(path_);
  thread_ = std::thread([this] { run(); });
}

FaultyRingBackend::FaultyRingBackend(std::string path, RingFault fault, Millis timeout,
                                     InflightReply inflight)
    : path_(std::move(path)), fault_(fault), timeout_(timeout), inflight_(inflight) {
  listener_ = listen_on(path_);
  thread_ = std::thread([this] { run(); });
}

void FaultyRingBackend::join() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

FaultyRingBackend::~FaultyRingBackend() {
  join();
  for (const Region& r : regions_) ::munmap(r.host, r.size);
  if (inflight_map_) ::munmap(inflight_map_, inflight_map_size_);
}

uint8_t* FaultyRingBackend::at_uva(uint64_t uva) const {
  for (const Region& r : regions_)
    if (uva >= r.uva && uva - r.uva < r.size) return r.host + (uva - r.uva);
  return nullptr;
}

uint8_t* FaultyRingBackend::at_gpa(uint64_t gpa) const {
  for (const Region& r : regions_)
    if (gpa >= r.gpa && gpa - r.gpa < r.size) return r.host + (gpa - r.gpa);
  return nullptr;
}

void FaultyRingBackend::run() {
  sock_ = accept_from(listener_.get(), timeout_);
  if (!sock_) {
    errors_.push_back("no front-end connected");
    return;
  }
  while (!stop_) {
    pollfd p[2] = {{sock_.get(), POLLIN, 0}, {kick_ ? kick_.get() : -1, POLLIN, 0}};
    if (::poll(p, 2, 50) <= 0) continue;
    if (p[1].revents & POLLIN) {
      uint64_t v;
      (void)!::read(kick_.get(), &v, 8);
      on_kick();
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ReceivedMessage m;
      if (recv_message(sock_.get(), m, timeout_) != IoStatus::Ok) return;  // the peer left
      if (!on_message(m)) return;
    }
  }
}

bool FaultyRingBackend::on_message(ReceivedMessage& m) {
  const Header h = m.header();
  const uint8_t* p = m.bytes.data() + 12;
  uint64_t u64 = 0;
  requests_.push_back(h.request);
  switch (h.request) {
    case kGetFeatures: {
      const uint64_t offered = kFeatures | (packed_ ? kRingPacked : 0);
      return send_message(sock_.get(), reply_bytes(h.request, &offered, 8)) == IoStatus::Ok;
    }
    case kGetProtocolFeatures: {
      const uint64_t offered =
          kProtocolFeatures | (inflight_ != InflightReply::NotOffered ? uint64_t{1} << 12 : 0);
      return send_message(sock_.get(), reply_bytes(h.request, &offered, 8)) == IoStatus::Ok;
    }
    case kGetInflightFd: return answer_get_inflight(p);
    case kSetInflightFd: {
      SeenInflight seen{load_native<uint64_t>(p), load_native<uint64_t>(p + 8), load_native<uint16_t>(p + 16),
                        load_native<uint16_t>(p + 18), false};
      struct stat a {
      }, b{};
      if (m.fds.size() == 1 && inflight_fd_ && ::fstat(m.fds[0].get(), &a) == 0 &&
          ::fstat(inflight_fd_.get(), &b) == 0)
        seen.fd_is_ours = a.st_ino == b.st_ino && a.st_dev == b.st_dev;
      set_inflight_.push_back(seen);
      if (m.fds.size() == 1) map_inflight(m.fds[0].get(), seen.mmap_size, seen.mmap_offset);
      break;
    }
    case kSetVringBase:
      if (load_native<uint32_t>(p) == 0) {
        vring_base_ = load_native<uint32_t>(p + 4);
        last_avail_ = static_cast<uint16_t>(vring_base_);
        // Packed: bits 0-14 the next descriptor, bit 15 its wrap counter; used resumes there.
        if (packed_) {
          avail_pos_ = used_pos_ = static_cast<uint16_t>(vring_base_ & 0x7fff);
          avail_wrap_ = used_wrap_ = ((vring_base_ >> 15) & 1) != 0;
        }
      }
      break;
    case kSetMemTable: {
      const uint32_t n = load_native<uint32_t>(p);
      for (uint32_t i = 0; i < n && i < m.fds.size(); ++i) {
        const uint8_t* r = p + 8 + 32 * i;
        Region region{load_native<uint64_t>(r), load_native<uint64_t>(r + 8), load_native<uint64_t>(r + 16), nullptr};
        void* map = ::mmap(nullptr, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[i].get(),
                           static_cast<off_t>(load_native<uint64_t>(r + 24)));
        if (map == MAP_FAILED) {
          errors_.push_back("cannot map a region");
          return false;
        }
        region.host = static_cast<uint8_t*>(map);
        regions_.push_back(region);
      }
      break;
    }
    case kSetVringNum:
      if (load_native<uint32_t>(p) == 0) size_ = static_cast<uint16_t>(load_native<uint32_t>(p + 4));
      break;
    case kSetVringAddr:
      if (load_native<uint32_t>(p) == 0) {
        desc_ = load_native<uint64_t>(p + 8);
        used_ = load_native<uint64_t>(p + 16);
        avail_ = load_native<uint64_t>(p + 24);
      }
      break;
    case kSetVringKick:
      if ((load_native<uint64_t>(p) & 0xff) == 0 && !m.fds.empty()) {
        kick_ = std::move(m.fds[0]);
        resubmit_inflight();
      }
      break;
    case kSetVringCall:
      if ((load_native<uint64_t>(p) & 0xff) == 0 && !m.fds.empty()) call_ = std::move(m.fds[0]);
      break;
    case kGetVringBase: {
      const uint32_t base =
          packed_ ? uint32_t{avail_pos_} | (avail_wrap_ ? 0x8000u : 0u) : last_avail_;
      uint32_t state[2] = {load_native<uint32_t>(p), base};
      return send_message(sock_.get(), reply_bytes(h.request, state, 8)) == IoStatus::Ok;
    }
    default: break;
  }
  if (h.needs_reply()) return send_message(sock_.get(), reply_bytes(h.request, &u64, 8)) == IoStatus::Ok;
  return true;
}

// The split layout's size (16-byte header, 16 bytes per descriptor) per queue, or the fault.
bool FaultyRingBackend::answer_get_inflight(const uint8_t* p) {
  asked_queues_ = load_native<uint16_t>(p + 16);
  asked_queue_size_ = load_native<uint16_t>(p + 18);
  uint64_t size = (16 + 16 * uint64_t{asked_queue_size_}) * asked_queues_;
  uint64_t offset = 0, file = size;
  switch (inflight_) {
    case InflightReply::Declined: size = file = 0; break;
    case InflightReply::TooSmall: size = file = 16; break;
    case InflightReply::FdShort: file = size / 2; break;
    case InflightReply::OddOffset:
      offset = 100;
      file = size + 100;
      break;
    default: break;
  }
  uint8_t payload[24] = {};
  std::memcpy(payload, &size, 8);
  std::memcpy(payload + 8, &offset, 8);
  std::memcpy(payload + 16, p + 16, 4);
  std::vector<int> fds;
  if (size > 0 && inflight_ != InflightReply::NoFd) {
    inflight_fd_.reset(::memfd_create("faulty-inflight", MFD_CLOEXEC));
    if (!inflight_fd_ || ::ftruncate(inflight_fd_.get(), static_cast<off_t>(file)) != 0) {
      errors_.push_back("cannot make the inflight memfd");
      return false;
    }
    fds.push_back(inflight_fd_.get());
    if (inflight_ == InflightReply::Good) map_inflight(inflight_fd_.get(), size, 0);
  }
  return send_message(sock_.get(), reply_bytes(kGetInflightFd, payload, 24), fds) == IoStatus::Ok;
}

void FaultyRingBackend::map_inflight(int fd, uint64_t size, uint64_t offset) {
  if (inflight_map_ || size < 16) return;
  void* map =
      ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (map == MAP_FAILED) {
    errors_.push_back("cannot map the inflight buffer");
    return;
  }
  inflight_map_ = static_cast<uint8_t*>(map);
  inflight_map_size_ = size;
}

uint8_t* FaultyRingBackend::inflight_region() const {
  if (!inflight_map_ || size_ == 0 || inflight_map_size_ < 16 + 16 * uint64_t{size_})
    return nullptr;
  return inflight_map_;
}

// At SET_VRING_KICK, as libvhost-user does: a region already in use (version 1) names the chains
// the back-end before this one had taken; they are completed first, once each, and the ring
// resumes after them (the used index plus what was in flight).
void FaultyRingBackend::resubmit_inflight() {
  uint8_t* region = inflight_region();
  uint8_t* used = at_uva(used_);
  if (!region || !used) return;
  const uint16_t version = load_native<uint16_t>(region + 8);
  if (version == 0) {
    const uint16_t one = 1;
    std::memcpy(region + 8, &one, 2);
    std::memcpy(region + 10, &size_, 2);
    return;
  }
  std::vector<uint16_t> heads;
  for (uint16_t i = 0; i < size_; ++i)
    if (region[16 + 16 * i] == 1) heads.push_back(i);
  last_avail_ = static_cast<uint16_t>(load_native<uint16_t>(used + 2) + heads.size());
  for (uint16_t head : heads) {
    complete(head);
    region[16 + 16 * head] = 0;
    ++resubmitted_;
  }
  const uint64_t one = 1;
  if (call_ && !heads.empty()) (void)!::write(call_.get(), &one, 8);
}

// Status 0 into the chain's last writable byte, and a used entry with its writable length.
void FaultyRingBackend::complete(uint16_t head) {
  uint8_t* used = at_uva(used_);
  uint8_t* desc = at_uva(desc_);
  if (!used || !desc) return;
  uint32_t writable = 0;
  uint8_t* status = nullptr;
  for (uint16_t i = head, n = 0; n < size_; ++n) {
    const uint8_t* d = desc + 16 * uint64_t{i};
    const uint32_t len = load_native<uint32_t>(d + 8);
    const uint16_t flags = load_native<uint16_t>(d + 12);
    if (flags & 2) {
      writable += len;
      status = at_gpa(load_native<uint64_t>(d) + len - 1);
    }
    if (!(flags & 1)) break;
    i = load_native<uint16_t>(d + 14);
  }
  if (status) *status = 0;
  uint16_t idx = load_native<uint16_t>(used + 2);
  const uint32_t id = head;
  std::memcpy(used + 4 + 8 * (idx % size_), &id, 4);
  std::memcpy(used + 4 + 8 * (idx % size_) + 4, &writable, 4);
  ++idx;
  __atomic_store_n(reinterpret_cast<uint16_t*>(used + 2), idx, __ATOMIC_RELEASE);
}

void FaultyRingBackend::on_kick() {
  if (packed_) return on_kick_packed();
  uint8_t* avail = at_uva(avail_);
  uint8_t* used = at_uva(used_);
  uint8_t* desc = at_uva(desc_);
  if (!avail || !used || !desc || size_ == 0) return;
  const uint16_t avail_idx = load_native<uint16_t>(avail + 2);
  while (last_avail_ != avail_idx) {
    const uint16_t head = load_native<uint16_t>(avail + 4 + 2 * (last_avail_ % size_));
    ++last_avail_;
    if (fault_ == RingFault::Hold && taken_++ > 0) {
      if (uint8_t* region = inflight_region(); region && head < size_) region[16 + 16 * head] = 1;
      continue;
    }
    // Walk the chain: the writable bytes, and the last byte (the status) set to 0 (OK).
    uint32_t writable = 0;
    uint8_t* status = nullptr;
    for (uint16_t i = head, n = 0; n < size_; ++n) {
      const uint8_t* d = desc + 16 * uint64_t{i};
      const uint32_t len = load_native<uint32_t>(d + 8);
      const uint16_t flags = load_native<uint16_t>(d + 12);
      if (flags & 2) {
        writable += len;
        status = at_gpa(load_native<uint64_t>(d) + len - 1);
      }
      if (!(flags & 1)) break;
      i = load_native<uint16_t>(d + 14);
    }
    if (status) *status = 0;
    auto push = [&](uint32_t id, uint32_t len) {
      uint16_t idx = load_native<uint16_t>(used + 2);
      std::memcpy(used + 4 + 8 * (idx % size_), &id, 4);
      std::memcpy(used + 4 + 8 * (idx % size_) + 4, &len, 4);
      ++idx;
      __atomic_store_n(reinterpret_cast<uint16_t*>(used + 2), idx, __ATOMIC_RELEASE);
    };
    switch (fault_) {
      case RingFault::None: push(head, writable); break;
      case RingFault::DuplicateUsed:
        push(head, writable);
        push(head, writable);
        break;
      case RingFault::WrongLength: push(head, writable + 100); break;
      case RingFault::UnknownHead: push((head + 5u) % size_, writable); break;
      case RingFault::Hold: push(head, writable); break;
    }
  }
  const uint64_t one = 1;
  if (call_) (void)!::write(call_.get(), &one, 8);
}

// A descriptor is available when AVAIL equals the wrap counter and USED does not; a used entry
// has both equal to the used wrap counter, WRITE when its length counts.
void FaultyRingBackend::on_kick_packed() {
  uint8_t* ring = at_uva(desc_);
  if (!ring || size_ == 0) return;
  auto step = [this](uint16_t& pos, bool& wrap) {
    if (++pos == size_) {
      pos = 0;
      wrap = !wrap;
    }
  };
  while (true) {
    const uint16_t head_flags = __atomic_load_n(
        reinterpret_cast<uint16_t*>(ring + 16 * uint64_t{avail_pos_} + 14), __ATOMIC_ACQUIRE);
    if (((head_flags & 0x80) != 0) != avail_wrap_ || ((head_flags & 0x8000) != 0) == avail_wrap_)
      break;
    uint32_t writable = 0;
    uint8_t* status = nullptr;
    uint16_t id = 0, descs = 0;
    for (uint16_t n = 0; n < size_; ++n) {
      const uint8_t* d = ring + 16 * uint64_t{avail_pos_};
      const uint32_t len = load_native<uint32_t>(d + 8);
      const uint16_t flags = load_native<uint16_t>(d + 14);
      id = load_native<uint16_t>(d + 12);
      ++descs;
      step(avail_pos_, avail_wrap_);
      if (flags & 2) {
        writable += len;
        status = at_gpa(load_native<uint64_t>(d) + len - 1);
      }
      if (!(flags & 1)) break;
    }
    if (status) *status = 0;
    // Writes a used entry at the used position, its flags last unless `hold` (then the caller
    // stores the returned flags there later).
    auto push = [&](uint16_t used_id, uint32_t len, uint16_t** held = nullptr) {
      uint8_t* d = ring + 16 * uint64_t{used_pos_};
      std::memcpy(d + 8, &len, 4);
      std::memcpy(d + 12, &used_id, 2);
      const uint16_t flags = static_cast<uint16_t>((used_wrap_ ? 0x8080 : 0) | 2);
      if (held)
        *held = reinterpret_cast<uint16_t*>(d + 14);
      else
        __atomic_store_n(reinterpret_cast<uint16_t*>(d + 14), flags, __ATOMIC_RELEASE);
      for (uint16_t k = 0; k < descs; ++k) step(used_pos_, used_wrap_);
      return flags;
    };
    switch (fault_) {
      case RingFault::None:
      case RingFault::Hold:  // the inflight tests hold on split rings only
        push(id, writable);
        break;
      case RingFault::DuplicateUsed: {
        // The second entry is in place before the first is published, so the front-end sees
        // it whatever it does once the first arrives.
        uint16_t* first = nullptr;
        const uint16_t flags = push(id, writable, &first);
        push(id, writable);
        __atomic_store_n(first, flags, __ATOMIC_RELEASE);
        break;
      }
      case RingFault::WrongLength: push(id, writable + 100); break;
      case RingFault::UnknownHead: push(static_cast<uint16_t>((id + 5u) % size_), writable); break;
    }
  }
  const uint64_t one = 1;
  if (call_) (void)!::write(call_.get(), &one, 8);
}

}  // namespace vhs::test
