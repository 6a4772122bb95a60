#include "support/loopback_net_backend.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace vhs::test {
namespace {

// Request numbers (spec "Front-end message types").
constexpr uint32_t kGetFeatures = 1, kResetOwner = 4, kSetMemTable = 5, kSetVringNum = 8,
                   kSetVringAddr = 9, kSetVringBase = 10, kGetVringBase = 11, kSetVringKick = 12,
                   kSetVringCall = 13, kGetProtocolFeatures = 15;
constexpr uint64_t kFeatures = (uint64_t{1} << 32) | (uint64_t{1} << 30);  // VERSION_1, PROTOCOL
constexpr uint64_t kProtocolFeatures = uint64_t{1} << 3;                   // REPLY_ACK
constexpr uint32_t kHeader = 12;  // virtio_net_hdr with VERSION_1 (VIRTIO "Device Operation")
constexpr uint16_t kNext = 1, kWrite = 2;

}  // namespace

LoopbackNetBackend::LoopbackNetBackend(std::string path, NetLoopFault fault, Millis timeout)
    : path_(std::move(path)), fault_(fault), timeout_(timeout) {
  listener_ = listen_on(path_);
  thread_ = std::thread([this] { run(); });
}

void LoopbackNetBackend::join() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

LoopbackNetBackend::~LoopbackNetBackend() {
  join();
  unmap();
}

void LoopbackNetBackend::unmap() {
  for (const Region& r : regions_) ::munmap(r.host, r.size);
  regions_.clear();
}

uint8_t* LoopbackNetBackend::at_uva(uint64_t uva) const {
  for (const Region& r : regions_)
    if (uva >= r.uva && uva - r.uva < r.size) return r.host + (uva - r.uva);
  return nullptr;
}

uint8_t* LoopbackNetBackend::at_gpa(uint64_t gpa, uint64_t len) const {
  for (const Region& r : regions_)
    if (gpa >= r.gpa && gpa - r.gpa < r.size && len <= r.size - (gpa - r.gpa))
      return r.host + (gpa - r.gpa);
  return nullptr;
}

void LoopbackNetBackend::run() {
  while (!stop_) {
    sock_ = accept_from(listener_.get(), Millis(100));
    if (!sock_) continue;
    ++sessions_;
    serve();
    sock_.reset();
    for (Ring& r : rings_) r = Ring{};
    unmap();
  }
}

void LoopbackNetBackend::serve() {
  while (!stop_) {
    pollfd p[3] = {{sock_.get(), POLLIN, 0},
                   {rings_[0].kick ? rings_[0].kick.get() : -1, POLLIN, 0},
                   {rings_[1].kick ? rings_[1].kick.get() : -1, POLLIN, 0}};
    if (::poll(p, 3, 50) <= 0) continue;
    for (int q = 0; q < 2; ++q)
      if (p[1 + q].revents & POLLIN) {
        uint64_t v;
        (void)!::read(p[1 + q].fd, &v, 8);
      }
    // Frames wait in no queue here: a kick on either ring is a moment to forward.
    if ((p[1].revents | p[2].revents) & POLLIN) on_transmit();
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ReceivedMessage m;
      if (recv_message(sock_.get(), m, timeout_) != IoStatus::Ok) return;  // the peer left
      if (!on_message(m)) return;
    }
  }
}

bool LoopbackNetBackend::on_message(ReceivedMessage& m) {
  const Header h = m.header();
  const uint8_t* p = m.bytes.data() + 12;
  const uint32_t index = h.size >= 4 ? load_native<uint32_t>(p) : 0;
  Ring* ring = index < 2 ? &rings_[index] : nullptr;
  uint64_t zero = 0;
  switch (h.request) {
    case kGetFeatures:
      return send_message(sock_.get(), reply_bytes(h.request, &kFeatures, 8)) == IoStatus::Ok;
    case kGetProtocolFeatures:
      return send_message(sock_.get(), reply_bytes(h.request, &kProtocolFeatures, 8)) == IoStatus::Ok;
    case kResetOwner:
      for (Ring& r : rings_) r = Ring{};
      break;
    case kSetMemTable: {
      unmap();
      const uint32_t n = load_native<uint32_t>(p);
      for (uint32_t i = 0; i < n && i < m.fds.size(); ++i) {
        const uint8_t* r = p + 8 + 32 * i;
        Region region{load_native<uint64_t>(r), load_native<uint64_t>(r + 8), load_native<uint64_t>(r + 16), nullptr};
        void* map = ::mmap(nullptr, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[i].get(),
                           static_cast<off_t>(load_native<uint64_t>(r + 24)));
        if (map == MAP_FAILED) return false;
        region.host = static_cast<uint8_t*>(map);
        regions_.push_back(region);
      }
      break;
    }
    case kSetVringNum:
      if (ring) ring->size = static_cast<uint16_t>(load_native<uint32_t>(p + 4));
      break;
    case kSetVringBase:
      if (ring) ring->last_avail = static_cast<uint16_t>(load_native<uint32_t>(p + 4));
      break;
    case kSetVringAddr:
      if (ring) {
        ring->desc = load_native<uint64_t>(p + 8);
        ring->used = load_native<uint64_t>(p + 16);
        ring->avail = load_native<uint64_t>(p + 24);
      }
      break;
    case kSetVringKick:
    case kSetVringCall: {
      const uint64_t u = load_native<uint64_t>(p);
      Ring* r = (u & 0xff) < 2 ? &rings_[u & 0xff] : nullptr;
      if (r && !m.fds.empty())
        (h.request == kSetVringKick ? r->kick : r->call) = std::move(m.fds[0]);
      if (h.request == kSetVringKick) on_transmit();  // what was posted while it was stopped
      break;
    }
    case kGetVringBase: {
      // Spec "Ring states": the ring stops; the reply is where it would go on.
      if (!ring) return false;
      if (index == 0 && fault_ == NetLoopFault::DropReceiveBuffers)
        ring->last_avail = avail_idx(*ring);  // the fault: unfilled buffers counted as used
      ring->kick.reset();
      uint32_t state[2] = {index, ring->last_avail};
      return send_message(sock_.get(), reply_bytes(h.request, state, 8)) == IoStatus::Ok;
    }
    default: break;
  }
  if (h.needs_reply()) return send_message(sock_.get(), reply_bytes(h.request, &zero, 8)) == IoStatus::Ok;
  return true;
}

uint16_t LoopbackNetBackend::avail_idx(const Ring& r) const {
  const uint8_t* avail = at_uva(r.avail);
  return avail ? __atomic_load_n(reinterpret_cast<const uint16_t*>(avail + 2), __ATOMIC_ACQUIRE)
               : r.last_avail;
}

void LoopbackNetBackend::push_used(Ring& r, uint16_t head, uint32_t len) {
  uint8_t* used = at_uva(r.used);
  if (!used) return;
  uint16_t idx = load_native<uint16_t>(used + 2);
  const uint32_t id = head;
  std::memcpy(used + 4 + 8 * (idx % r.size), &id, 4);
  std::memcpy(used + 4 + 8 * (idx % r.size) + 4, &len, 4);
  __atomic_store_n(reinterpret_cast<uint16_t*>(used + 2), static_cast<uint16_t>(idx + 1),
                   __ATOMIC_RELEASE);
}

// Every frame made available on transmitq1 (a running ring: it has its kick fd) is used, and
// sent back into the next receive buffer of receiveq1 if that ring runs and has one.
void LoopbackNetBackend::on_transmit() {
  Ring& tx = rings_[1];
  const uint8_t* desc = at_uva(tx.desc);
  const uint8_t* avail = at_uva(tx.avail);
  if (!tx.kick || !desc || !avail || tx.size == 0) return;
  while (tx.last_avail != avail_idx(tx)) {
    const uint16_t head = load_native<uint16_t>(avail + 4 + 2 * (tx.last_avail % tx.size));
    ++tx.last_avail;
    std::vector<uint8_t> packet;
    for (uint16_t i = head, n = 0; n < tx.size; ++n) {
      const uint8_t* d = desc + 16 * (uint64_t{i} % tx.size);
      const uint32_t len = load_native<uint32_t>(d + 8);
      if (const uint8_t* b = at_gpa(load_native<uint64_t>(d), len); b && !(load_native<uint16_t>(d + 12) & kWrite))
        packet.insert(packet.end(), b, b + len);
      if (!(load_native<uint16_t>(d + 12) & kNext)) break;
      i = load_native<uint16_t>(d + 14);
    }
    push_used(tx, head, 0);
    deliver(packet);
    if (fault_ == NetLoopFault::DuplicateFrames) deliver(packet);
  }
  const uint64_t one = 1;
  for (Ring& r : rings_)
    if (r.call) (void)!::write(r.call.get(), &one, 8);
}

void LoopbackNetBackend::deliver(const std::vector<uint8_t>& packet) {
  Ring& rx = rings_[0];
  const uint8_t* desc = at_uva(rx.desc);
  const uint8_t* avail = at_uva(rx.avail);
  if (!rx.kick || !desc || !avail || rx.size == 0 || packet.size() < kHeader ||
      rx.last_avail == avail_idx(rx)) {
    ++dropped_;
    return;
  }
  const uint16_t head = load_native<uint16_t>(avail + 4 + 2 * (rx.last_avail % rx.size));
  ++rx.last_avail;
  std::vector<uint8_t> out(packet);
  std::memset(out.data(), 0, kHeader);
  out[10] = 1;  // num_buffers
  size_t at = 0;
  for (uint16_t i = head, n = 0; n < rx.size && at < out.size(); ++n) {
    const uint8_t* d = desc + 16 * (uint64_t{i} % rx.size);
    const uint32_t len = load_native<uint32_t>(d + 8);
    if (uint8_t* b = at_gpa(load_native<uint64_t>(d), len); b && (load_native<uint16_t>(d + 12) & kWrite)) {
      const size_t take = std::min<size_t>(len, out.size() - at);
      std::memcpy(b, out.data() + at, take);
      at += take;
    }
    if (!(load_native<uint16_t>(d + 12) & kNext)) break;
    i = load_native<uint16_t>(d + 14);
  }
  push_used(rx, head, static_cast<uint32_t>(at));
  ++looped_;
}

}  // namespace vhs::test
