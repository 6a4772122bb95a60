// Live virtqueue sampling (see ring_sampler.hpp).
#include "proxy/ring_sampler.hpp"

#include <cstring>

#include "decoders/vhost_user/registry.hpp"

namespace vhs {

namespace {

// Rings beyond this index are ignored: vring indices come from a u8 in KICK/CALL, and a bogus
// index in SET_VRING_NUM must not make us allocate.
constexpr uint32_t kMaxRings = 256;
constexpr size_t kRegionLen = 32;  // VhostUserMemoryRegion without XEN_MMAP

uint32_t number_of(std::string_view name) {
  const RequestInfo* info = find_request_by_name(name);
  return info != nullptr && info->channel == Channel::Frontend ? info->number : UINT32_MAX;
}

uint32_t le32(std::span<const uint8_t> p, size_t off) {
  return off + 4 <= p.size() ? load_le32(p.data() + off) : 0;
}
uint64_t le64(std::span<const uint8_t> p, size_t off) {
  return off + 8 <= p.size() ? load_le64(p.data() + off) : 0;
}

MemRegionValue region_at(std::span<const uint8_t> p, size_t off) {
  MemRegionValue r;
  r.guest_phys_addr = le64(p, off);
  r.memory_size = le64(p, off + 8);
  r.userspace_addr = le64(p, off + 16);
  r.mmap_offset = le64(p, off + 24);
  return r;
}

}  // namespace

RingSampler::RingSampler(DeviceKind device)
    : device_(device),
      device_from_user_(device != DeviceKind::Unknown),
      set_features_(number_of("SET_FEATURES")),
      set_mem_table_(number_of("SET_MEM_TABLE")),
      add_mem_reg_(number_of("ADD_MEM_REG")),
      rem_mem_reg_(number_of("REM_MEM_REG")),
      set_vring_num_(number_of("SET_VRING_NUM")),
      set_vring_addr_(number_of("SET_VRING_ADDR")),
      set_vring_base_(number_of("SET_VRING_BASE")),
      get_vring_base_(number_of("GET_VRING_BASE")),
      set_vring_kick_(number_of("SET_VRING_KICK")),
      reset_owner_(number_of("RESET_OWNER")),
      reset_device_(number_of("RESET_DEVICE")),
      get_config_(number_of("GET_CONFIG")) {}

RingSampler::Ring* RingSampler::ring(uint32_t index) {
  if (index >= kMaxRings) return nullptr;
  if (rings_.size() <= index) rings_.resize(index + 1);
  return &rings_[index];
}

void RingSampler::invalidate_all() {
  for (Ring& r : rings_) {
    r.loc_valid = false;
    r.fault_reported = false;
  }
}

bool RingSampler::on_message(Direction direction, std::span<const uint8_t> bytes,
                             std::span<const int> fds, Output& out) {
  if (bytes.size() < kHeaderSize) return false;
  const uint32_t request = load_le32(bytes.data());
  const uint32_t flags = load_le32(bytes.data() + 4);
  const bool reply = (flags & kFlagReply) != 0;
  std::span<const uint8_t> p = bytes.subspan(kHeaderSize);

  if (direction == Direction::ToFrontend) {
    if (!reply) return false;
    if (request == get_vring_base_) {
      // The ring is stopped and this is the back-end's final position: one last, exact sample.
      Ring* r = ring(le32(p, 0));
      if (r == nullptr || !r->started) return false;
      r->base = le32(p, 4);
      r->base_current = true;
      r->loc_valid = false;
      sample_ring(le32(p, 0), *r, out);
      r->started = false;
      r->have_last = false;
      return true;
    }
    if (request == get_config_ && !device_from_user_ && device_ == DeviceKind::Unknown) {
      // virtio_blk_config is at least 24 bytes; QEMU's vhost-user-fs and -net never ask for config.
      if (le32(p, 4) >= 24) {
        device_ = DeviceKind::Blk;
        invalidate_all();
      }
    }
    return false;
  }
  if (reply) return false;

  if (request == set_mem_table_) {
    const uint32_t n = le32(p, 0);
    std::vector<MemRegionValue> regions;
    for (uint32_t i = 0; i < n && 8 + (i + 1) * kRegionLen <= p.size(); ++i)
      regions.push_back(region_at(p, 8 + i * kRegionLen));
    for (const std::string& e : memory_.set_table(regions, fds))
      out.ring_error("cannot map guest memory " + e);
    invalidate_all();
    sample(out);
    return true;
  }
  if (request == add_mem_reg_) {
    for (const std::string& e : memory_.add_region(region_at(p, 8), fds.empty() ? -1 : fds[0]))
      out.ring_error("cannot map guest memory " + e);
    invalidate_all();
    sample(out);
    return true;
  }
  if (request == rem_mem_reg_) {
    memory_.remove_region(region_at(p, 8));
    invalidate_all();
    sample(out);
    return true;
  }
  if (request == set_features_) {
    features_ = le64(p, 0);
    invalidate_all();
    return true;
  }
  if (request == reset_owner_ || request == reset_device_) {
    rings_.clear();
    return true;
  }
  if (request == set_vring_num_ || request == set_vring_base_ || request == set_vring_addr_ ||
      request == set_vring_kick_ || request == get_vring_base_) {
    const uint32_t index = request == set_vring_kick_ ? (le32(p, 0) & 0xff) : le32(p, 0);
    Ring* r = ring(index);
    if (r == nullptr) return false;
    if (request == set_vring_num_) {
      r->num = le32(p, 4);
    } else if (request == set_vring_base_) {
      r->base = le32(p, 4);
      r->base_current = true;
    } else if (request == set_vring_addr_) {
      r->has_addr = true;
      r->addr.index = index;
      r->addr.flags = le32(p, 4);
      r->addr.desc_user_addr = le64(p, 8);
      r->addr.used_user_addr = le64(p, 16);
      r->addr.avail_user_addr = le64(p, 24);
      r->addr.log_guest_addr = le64(p, 32);
    } else if (request == set_vring_kick_) {
      // The ring starts with its kick fd (facts 4.3); the base set before is exact right now.
      if (!r->started) r->have_last = false;
      r->started = r->has_addr;
    } else {
      // GET_VRING_BASE request: the back-end stops the ring; the reply carries the final sample.
      // Nothing more is sampled in between (the position is in flux).
    }
    r->loc_valid = false;
    r->fault_reported = false;
    if (r->started && request != get_vring_base_) sample_ring(index, *r, out);
    if (request == get_vring_base_) r->base_current = false;
    return true;
  }
  return false;
}

bool RingSampler::any_started() const {
  for (const Ring& r : rings_)
    if (r.started) return true;
  return false;
}

void RingSampler::sample(Output& out) {
  for (uint32_t i = 0; i < rings_.size(); ++i)
    if (rings_[i].started) sample_ring(i, rings_[i], out);
}

void RingSampler::sample_ring(uint32_t index, Ring& r, Output& out) {
  if (!r.loc_valid) {
    r.loc = locate_ring(memory_.map(), index, r.num, r.addr, features_, device_);
    r.loc_valid = true;
  }
  // The base only describes the back-end's position while it cannot have moved: right at the
  // start (SET_VRING_BASE then KICK) or once stopped (GET_VRING_BASE reply).
  if (r.base_current && r.base)
    r.loc.vring_base = *r.base;
  else
    r.loc.vring_base.reset();
  if (!r.loc.faults.empty() && !r.fault_reported) {
    r.fault_reported = true;
    out.ring_error("vring " + std::to_string(index) + ": ring not readable (size " +
                   std::to_string(r.num) +
                   (memory_.region_count() == 0 ? ", no memory table" : "") +
                   "); see the RingState record's faults");
  }
  take_settled_ring_snapshot(memory_.view(), r.loc, scratch_, snap_, retake_);
  r.base_current = false;
  if (r.have_last && snap_ == r.last) return;
  r.last = snap_;
  r.have_last = true;
  encode_ring_snapshot(snap_, encoded_);
  out.ring_state(encoded_);
}

void RingSampler::reset() {
  rings_.clear();
  memory_.clear();
  features_ = 0;
  if (!device_from_user_) device_ = DeviceKind::Unknown;
}

}  // namespace vhs
