// Fuzz target 3: the split and packed ring readers over hostile guest memory. Input: a memory
// table, the bytes backing it, the queue size, SET_VRING_ADDR's addresses and the acked features
// (layout in ring_input.hpp). The ring is located through the table like the proxy's sampler does,
// then sampled and read in detail once per device kind.
// Properties: a snapshot survives its RingState encoding unchanged; the reads never leave the
// bytes given (AddressSanitizer sees the fuzzer's exact-size buffer).
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "decoders/virtio/guest_memory.hpp"
#include "decoders/virtio/packed_ring.hpp"
#include "decoders/virtio/ring_detail.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "decoders/virtio/split_follower.hpp"
#include "decoders/virtio/split_ring.hpp"
#include "tests/fuzz/fuzz_check.hpp"
#include "tests/fuzz/ring_input.hpp"

namespace {

using namespace vhs;

constexpr std::array<DeviceKind, 4> kDevices = {DeviceKind::Unknown, DeviceKind::Blk,
                                                DeviceKind::Net, DeviceKind::Fs};
// Chains walked per sample besides the snapshot's own: enough to reach indirect tables and
// device headers, few enough to keep runs fast on a 32768-entry queue.
constexpr uint32_t kChainsWalked = 8;

void check_snapshot(const RingSnapshot& s) {
  fuzz::consume(describe_ring_snapshot(s));
  std::string error;
  const auto back = decode_ring_snapshot(encode_ring_snapshot(s), &error);
  VHS_FUZZ_CHECK(back.has_value());
  VHS_FUZZ_CHECK(*back == s);
}

// What `vhostscope memmap` prints for each part: the UVA's region and GPA, both directions.
void translate(const MemoryMap& map, uint64_t uva) {
  if (const auto r = map.find_uva(uva)) VHS_FUZZ_CHECK(r->region < map.regions().size());
  if (const auto gpa = map.uva_to_gpa(uva)) {
    (void)map.gpa_to_uva(*gpa);
    (void)map.find_gpa(*gpa);
    (void)map.gpa_range_mapped(*gpa, 16);
  }
}

// The device readings of one chain: the generic view plus blk, net (both sides) and fs.
void read_chain(const GuestMemoryView& mem, const Chain& chain, const DetailContext& detail) {
  fuzz::consume(describe_chain(chain));
  fuzz::consume(describe_buffer(summarize_buffer(mem, chain, detail)));
  fuzz::consume(describe_blk_request(decode_blk_request(mem, chain), true));
  for (const bool tx : {false, true})
    fuzz::consume(
        describe_net_header(decode_net_header(mem, chain, tx, net_header_size(detail.features))));
  fuzz::consume(describe_fuse_request(decode_fuse_request(mem, chain), true));
}

void read_split(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch) {
  const auto idx = read_split_indices(mem, loc);
  if (!idx) return;
  std::vector<SplitUsedElem> used;
  (void)read_split_used(mem, loc, idx->used_idx, static_cast<uint16_t>(kChainsWalked), used);
  std::vector<RingFault> faults;
  const SplitInflight inflight = split_inflight(mem, loc, *idx, scratch, &faults);
  VHS_FUZZ_CHECK(inflight.total <= loc.size);
  Chain chain;
  for (uint32_t i = 0; i < kChainsWalked && i < inflight.heads.size(); ++i) {
    walk_split_chain(mem, loc, inflight.heads[i], chain, &scratch);
    read_chain(mem, chain, loc.detail);
  }
  for (const SplitUsedElem& u : used) {  // used ids come from the device: anything goes
    walk_split_chain(mem, loc, static_cast<uint16_t>(u.id), chain);
    read_chain(mem, chain, loc.detail);
  }
}

void read_packed(const GuestMemoryView& mem, const RingLocation& loc, RingScratch& scratch) {
  const auto state = read_packed_state(mem, loc, scratch);
  if (!state) return;
  VHS_FUZZ_CHECK(state->inflight_descs <= loc.size);
  Chain chain;
  uint32_t slot = state->next_used.index;
  for (uint32_t i = 0; i < kChainsWalked && loc.size > 0; ++i) {
    walk_packed_chain(mem, loc, static_cast<uint16_t>(slot % loc.size), loc.size, chain, &scratch);
    read_chain(mem, chain, loc.detail);
    slot += chain.ring_descs > 0 ? chain.ring_descs : 1u;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::RingInput in = fuzz::parse_ring_input({data, size});
  std::vector<MemRegionValue> regions;
  for (const fuzz::RingInputRegion& r : in.regions) regions.push_back(r.region);
  const MemoryMap map(regions);
  translate(map, in.addr.desc_user_addr);
  translate(map, in.addr.avail_user_addr);
  translate(map, in.addr.used_user_addr);
  const RegionMemory mem(map, fuzz::region_backing(in));

  RingScratch scratch;
  RingSnapshot snapshot, spare;
  for (const DeviceKind device : kDevices) {
    RingLocation loc = locate_ring(map, in.queue, in.num, in.addr, in.features(), device);
    loc.vring_base = in.vring_base;
    take_ring_snapshot(mem, loc, scratch, snapshot);
    check_snapshot(snapshot);
    take_settled_ring_snapshot(mem, loc, scratch, snapshot, spare);
    check_snapshot(snapshot);
    if (!loc.readable()) break;  // the same faults for every device kind
    if (loc.type == RingType::Split)
      read_split(mem, loc, scratch);
    else
      read_packed(mem, loc, scratch);
  }
  // The follower over hostile memory: a cut, then an interval (nothing moved: no judgement).
  RingLocation loc = locate_ring(map, in.queue, in.num, in.addr, in.features(), DeviceKind::Blk);
  SplitRingFollower follower;
  std::vector<RingFault> faults;
  follower.follow(mem, loc, scratch, faults);
  follower.follow(mem, loc, scratch, faults);
  if (!faults.empty()) __builtin_trap();
  return 0;
}
