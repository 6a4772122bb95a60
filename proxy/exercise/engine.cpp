#include "proxy/exercise/engine.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/virtio/device_config.hpp"
#include "proxy/exercise/lifecycle_scenarios.hpp"
#include "proxy/exercise/packed_driver.hpp"
#include "proxy/exercise/split_driver.hpp"
#include "proxy/exercise/workload_table.hpp"

namespace vhs::exercise {
namespace {

// Guest-physical layout: region 0 holds the rings, region 1 (not adjacent) the data buffers,
// so every back-end has to translate through more than one region.
constexpr uint64_t kRingRegionGpa = 0;
// The rings start one page in, as in a real guest, whose page 0 holds firmware data: DPDK takes a
// log_guest_addr of 0 for "not translated" and stops the ring when dirty logging turns on for
// a packed ring whose descriptors sit at guest address 0.
constexpr uint64_t kFirstRingOffset = 4096;
constexpr uint64_t kDataRegionGpa = uint64_t{1} << 30;
constexpr uint64_t kDataPerQueue = uint64_t{4} << 20;
constexpr uint64_t kRegionGranule = uint64_t{2} << 20;

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// Where the named config field ends (0 when the device has no such field).
uint32_t config_end_of(DeviceKind device, std::string_view field) {
  for (const ConfigField& f : device_config_fields(device))
    if (f.name == field) return uint32_t{f.offset} + f.size;
  return 0;
}

// How many config bytes GET_CONFIG asks for. virtio-blk as QEMU 7.2 sizes it from the offered
// features (VIRTIO "Device configuration layout": the discard fields exist with DISCARD, the
// write-zeroes fields with WRITE_ZEROES); back-ends of that age reject larger requests. Other
// devices: their whole layout.
uint32_t config_size(DeviceKind device, uint64_t offered) {
  if (device == DeviceKind::Blk) {
    if (offered & feature_bit(blk_feature::kWriteZeroes))
      return config_end_of(device, "write_zeroes_may_unmap");
    if (offered & feature_bit(blk_feature::kDiscard))
      return config_end_of(device, "discard_sector_alignment");
    return config_end_of(device, "num_queues");
  }
  uint32_t end = 0;
  for (const ConfigField& f : device_config_fields(device))
    end = std::max<uint32_t>(end, uint32_t{f.offset} + f.size);
  return end;
}

}  // namespace

uint64_t default_feature_mask(DeviceKind device, unsigned queues) {
  // Ring bits QEMU 7.2 keeps for every vhost-user device and this engine drives: indirect
  // descriptors (allowed; the engine places direct chains), event idx, VERSION_1.
  // PROTOCOL_FEATURES is added when offered; RING_PACKED when packed rings are asked for.
  const uint64_t ring = feature_bit(kFeatureIndirectDesc) | feature_bit(kFeatureEventIdx) |
                        feature_bit(kFeatureVersion1);
  switch (device) {
    case DeviceKind::Blk: {
      // MQ only with more than one queue (VIRTIO "Block Device", "Feature bits").
      using namespace blk_feature;
      uint64_t m = ring;
      for (unsigned b : {kSizeMax, kSegMax, kGeometry, kRo, kBlkSize, kFlush, kTopology, kConfigWce,
                         kDiscard, kWriteZeroes})
        m |= feature_bit(b);
      return m | (queues > 1 ? feature_bit(kMq) : 0);
    }
    case DeviceKind::Net: {
      // MQ only with more than one queue pair. No offloads (VIRTIO "Network Device").
      using namespace net_feature;
      uint64_t m = ring;
      for (unsigned b : {kMtu, kMac, kMrgRxbuf, kStatus}) m |= feature_bit(b);
      return m | (queues > 2 ? feature_bit(kMq) : 0);
    }
    default: return ring;
  }
}

uint64_t default_protocol_feature_mask() {
  uint64_t m = 0;
  for (ProtocolFeature f :
       {ProtocolFeature::MQ, ProtocolFeature::LOG_SHMFD, ProtocolFeature::RARP,
        ProtocolFeature::REPLY_ACK, ProtocolFeature::NET_MTU, ProtocolFeature::BACKEND_REQ,
        ProtocolFeature::PAGEFAULT, ProtocolFeature::CONFIG, ProtocolFeature::BACKEND_SEND_FD,
        ProtocolFeature::HOST_NOTIFIER, ProtocolFeature::RESET_DEVICE,
        ProtocolFeature::CONFIGURE_MEM_SLOTS})
    m |= feature_mask(f);
  return m;
}

Engine::Engine(const ExerciseOptions& options)
    : options_(options), link_(options.capture, options.timeout) {}

Engine::~Engine() = default;

bool Engine::connect(std::string& error) {
  if (!options_.backend_command.empty() && !backend_) {
    backend_ = std::make_unique<BackendProcess>(options_.backend_command);
    if (!backend_->start(error)) return false;
  }
  const bool ok = !options_.backend_listen.empty()
                      ? link_.accept(options_.backend_listen, options_.connect_timeout, error)
                      : link_.connect(options_.backend_connect, options_.connect_timeout, error);
  // A back-end command that could not start says so instead of only "connection refused".
  std::string how;
  if (!ok && backend_ && !backend_->running(&how))
    error += fmt::format("; the back-end command ended ({})", how);
  return ok;
}

bool Engine::protocol_features_negotiated() const {
  return (acked_features_ & feature_bit(kFeatureProtocolFeatures)) != 0;
}

Outcome<bool> Engine::negotiate() {
  using R = Outcome<bool>;
  link_.set_acked_protocol_features(0);
  auto features = link_.call(FrontendRequest::GET_FEATURES, {});
  if (!features) return R::fail(features.error);
  offered_features_ = features.value->u64();
  const uint64_t packed = feature_bit(kFeatureRingPacked);
  unsupported_.clear();
  if (options_.packed_ring && !(offered_features_ & packed)) {
    unsupported_ = "the back-end does not offer VIRTIO_F_RING_PACKED (bit 34)";
    return R::fail(unsupported_);
  }
  const bool protocol = (offered_features_ & feature_bit(kFeatureProtocolFeatures)) != 0;
  if (protocol) {
    auto offered = link_.call(FrontendRequest::GET_PROTOCOL_FEATURES, {});
    if (!offered) return R::fail(offered.error);
    offered_protocol_ = offered.value->u64();
    // INFLIGHT_SHMFD for blk, the device QEMU 7.2 uses it for (vhost-user-blk).
    const uint64_t inflight =
        options_.device == DeviceKind::Blk ? feature_mask(ProtocolFeature::INFLIGHT_SHMFD) : 0;
    const uint64_t acked = offered_protocol_ & options_.protocol_features_mask.value_or(
                                                   default_protocol_feature_mask() | inflight);
    auto set = link_.call(FrontendRequest::SET_PROTOCOL_FEATURES, encode_u64(acked));
    if (!set) return R::fail(set.error);
    link_.set_acked_protocol_features(acked);
  }
  const uint64_t proto = link_.acked_protocol_features();
  unsigned backend_queues = 1;
  if (has_feature(proto, ProtocolFeature::MQ)) {
    auto n = link_.call(FrontendRequest::GET_QUEUE_NUM, {});
    if (!n) return R::fail(n.error);
    backend_queues = static_cast<unsigned>(std::min<uint64_t>(n.value->u64(), 64));
  }
  const unsigned device_minimum = options_.device == DeviceKind::Blk ? 1 : 2;
  if (driver_) {
    // A reconnect or a reset: the rings laid out at the first set-up are set up again.
    queues_ = driver_->queue_count();
  } else if (options_.queues > 0) {
    queues_ = options_.queues;
  } else {
    queues_ = options_.device == DeviceKind::Blk ? std::min(backend_queues, 4u) : device_minimum;
  }
  if (has_feature(proto, ProtocolFeature::MQ) && queues_ > std::max(backend_queues, 1u)) {
    if (driver_)
      return R::fail(
          fmt::format("the back-end now has {} queues (GET_QUEUE_NUM); {} were set up before",
                      backend_queues, queues_));
    return R::fail(fmt::format("{} queues asked for; the back-end has {} (GET_QUEUE_NUM)", queues_,
                               backend_queues));
  }
  if (has_feature(proto, ProtocolFeature::CONFIGURE_MEM_SLOTS)) {
    auto slots = link_.call(FrontendRequest::GET_MAX_MEM_SLOTS, {});
    if (!slots) return R::fail(slots.error);
  }
  if (has_feature(proto, ProtocolFeature::BACKEND_REQ)) {
    auto chan = link_.open_backend_channel();
    if (!chan) return R::fail(chan.error);
  }
  auto owner = link_.call(FrontendRequest::SET_OWNER, {});
  if (!owner) return R::fail(owner.error);

  acked_features_ = offered_features_ &
                    options_.features_mask.value_or(default_feature_mask(options_.device, queues_));
  if (protocol) acked_features_ |= feature_bit(kFeatureProtocolFeatures);
  // The ring layout is the option's, whatever a --features mask lets through (VIRTIO "Packed
  // Virtqueues": the layout is fixed by this bit at FEATURES_OK).
  acked_features_ = options_.packed_ring ? acked_features_ | packed : acked_features_ & ~packed;
  config_.clear();
  if (has_feature(proto, ProtocolFeature::CONFIG) &&
      config_size(options_.device, offered_features_) > 0) {
    auto config = read_config();
    if (!config) return R::fail(config.error);
    config_ = std::move(*config.value);
  }
  auto set = link_.call(FrontendRequest::SET_FEATURES, encode_u64(acked_features_));
  if (!set) return R::fail(set.error);
  return R::ok(true);
}

Outcome<std::vector<uint8_t>> Engine::read_config() {
  using R = Outcome<std::vector<uint8_t>>;
  const uint32_t size = config_size(options_.device, offered_features_);
  auto reply = link_.call(FrontendRequest::GET_CONFIG, encode_config(0, size, 0));
  if (!reply) return R::fail(reply.error);
  const Bytes& p = reply.value->payload;
  const size_t data_size = p.size() - std::min<size_t>(p.size(), kConfigHeaderSize);
  // Spec "Front-end message types", GET_CONFIG: the reply has the size that was asked for, in
  // its size field and in the config bytes that follow.
  if (data_size != size)
    return R::fail(fmt::format("#{} GET_CONFIG reply: {} bytes of config, {} asked for",
                               reply.value->record, data_size, size));
  const auto got_size = read_slot_as<uint32_t>(ByteReader(p), layout::kConfigSize);
  if (got_size != size)
    return R::fail(
        fmt::format("#{} GET_CONFIG reply: size field {}, {} asked for (with {} bytes of "
                    "config)",
                    reply.value->record, got_size, size, data_size));
  return R::ok(std::vector<uint8_t>(p.begin() + kConfigHeaderSize, p.end()));
}

bool Engine::lay_out_memory(std::string& error) {
  uint64_t rings = 64 * 1024;
  for (unsigned q = 0; q < queues_; ++q) rings += 16 * uint64_t{options_.queue_size} * 2 + 4096;
  if (!ram_.add_region(kRingRegionGpa, round_up(rings, kRegionGranule), "vhostscope-rings", error))
    return false;
  if (!ram_.add_region(kDataRegionGpa, round_up(kDataPerQueue * queues_, kRegionGranule),
                       "vhostscope-data", error))
    return false;
  const bool indirect_acked = (acked_features_ >> kFeatureIndirectDesc) & 1u;
  if (options_.indirect && !indirect_acked) {
    error = "--indirect: VIRTIO_RING_F_INDIRECT_DESC (bit 28) was not negotiated";
    return false;
  }
  if (options_.packed_ring)
    driver_ = std::make_unique<PackedDriver>(ram_, link_, options_.device, acked_features_,
                                             options_.indirect);
  else
    driver_ = std::make_unique<SplitDriver>(ram_, link_, options_.device, acked_features_,
                                            options_.indirect);
  Arena ring_arena(kRingRegionGpa + kFirstRingOffset, ram_.region(0)->size - kFirstRingOffset);
  for (unsigned q = 0; q < queues_; ++q) {
    Arena data(kDataRegionGpa + kDataPerQueue * q, kDataPerQueue);
    if (!driver_->add_queue(options_.queue_size, ring_arena, std::move(data), error)) return false;
  }
  return true;
}

Outcome<bool> Engine::send_memory() {
  const auto table = ram_.table();
  const auto fds = ram_.fds();
  auto r = link_.call(FrontendRequest::SET_MEM_TABLE, encode_mem_table(table), fds);
  if (!r) return Outcome<bool>::fail(r.error);
  return Outcome<bool>::ok(true);
}

Outcome<bool> Engine::start_queue(unsigned queue, uint16_t base) {
  using R = Outcome<bool>;
  const QueueSetup& s = driver_->setup(queue);
  const uint32_t vring_base = driver_->resume_vring_base(base);
  const std::pair<FrontendRequest, Bytes> steps[] = {
      {FrontendRequest::SET_VRING_NUM, encode_vring_state(queue, s.size)},
      {FrontendRequest::SET_VRING_BASE, encode_vring_state(queue, vring_base)},
      {FrontendRequest::SET_VRING_ADDR, encode_vring_addr(s.addr)},
  };
  for (const auto& [request, payload] : steps) {
    auto r = link_.call(request, payload);
    if (!r) return R::fail(r.error);
  }
  // The call notifier goes first: a back-end may use buffers as soon as the ring starts, and
  // an interrupt it raises before it knows the call fd would be lost.
  const int kick = s.kick_fd, call = s.call_fd;
  auto c = link_.call(FrontendRequest::SET_VRING_CALL,
                      encode_vring_index_fd(static_cast<uint8_t>(queue), false),
                      std::span<const int>(&call, 1));
  if (!c) return R::fail(c.error);
  auto k = link_.call(FrontendRequest::SET_VRING_KICK,
                      encode_vring_index_fd(static_cast<uint8_t>(queue), false),
                      std::span<const int>(&kick, 1));
  if (!k) return R::fail(k.error);
  // Spec "Ring states": with PROTOCOL_FEATURES a started ring stays disabled until enabled.
  if (protocol_features_negotiated()) {
    auto e = enable_queue(queue, true);
    if (!e) return e;
  }
  // The base is the back-end's position only while nothing moved: a ring started again with
  // chains pending is kicked (the device may already be past `base` when the sample is taken).
  if (driver_->in_flight(queue) > 0) {
    driver_->kick(queue);
    driver_->record_snapshot(queue);
  } else {
    driver_->record_snapshot(queue, vring_base);
  }
  return R::ok(true);
}

Outcome<uint32_t> Engine::stop_queue(unsigned queue) {
  // QEMU sends GET_VRING_BASE without NEED_REPLY: it has an intrinsic reply.
  auto r = link_.call(FrontendRequest::GET_VRING_BASE, encode_vring_state(queue, 0));
  if (!r) return Outcome<uint32_t>::fail(r.error);
  const ByteReader reply(r.value->payload);
  const auto index = read_slot_as<uint32_t>(reply, layout::kVringStateIndex);
  const auto num = read_slot_as<uint32_t>(reply, layout::kVringStateNum);
  if (index != queue)
    return Outcome<uint32_t>::fail(fmt::format("#{} GET_VRING_BASE reply: vring index {}, not {}",
                                               r.value->record, index, queue));
  driver_->record_snapshot(queue, num);
  return Outcome<uint32_t>::ok(num);
}

Outcome<bool> Engine::enable_queue(unsigned queue, bool enable) {
  auto r = link_.call(FrontendRequest::SET_VRING_ENABLE, encode_vring_state(queue, enable ? 1 : 0));
  if (!r) return Outcome<bool>::fail(r.error);
  return Outcome<bool>::ok(true);
}

bool Engine::tracks_inflight() const {
  return options_.device == DeviceKind::Blk &&
         has_feature(link_.acked_protocol_features(), ProtocolFeature::INFLIGHT_SHMFD);
}

// Spec "Inflight I/O tracking": the front-end asks once for the buffer (the queue count and size)
// and hands it back with SET_INFLIGHT_FD at every start, before the rings, as QEMU 7.2's
// vhost_user_blk_start does; a back-end that restarts finds there what it had taken.
Outcome<bool> Engine::share_inflight_buffer() {
  using R = Outcome<bool>;
  if (!tracks_inflight()) return R::ok(true);
  const auto queues = static_cast<uint16_t>(queues_);
  if (!inflight_) {
    InflightValue ask;
    ask.num_queues = queues;
    ask.queue_size = options_.queue_size;
    auto r = link_.call(FrontendRequest::GET_INFLIGHT_FD, encode_inflight(ask));
    if (!r) return R::fail(r.error);
    auto b = take_inflight_reply(*r.value, queues, options_.queue_size);
    if (!b) return R::fail(b.error);
    inflight_ = std::move(*b.value);
  }
  // mmap_size 0: the back-end tracks nothing; QEMU then sends no SET_INFLIGHT_FD either.
  if (inflight_->declined()) return R::ok(true);
  const int fd = inflight_->fd.get();
  auto s = link_.call(FrontendRequest::SET_INFLIGHT_FD, encode_inflight(inflight_->value),
                      std::span<const int>(&fd, 1));
  if (!s) return R::fail(s.error);
  return R::ok(true);
}

Outcome<bool> Engine::set_up() {
  auto n = negotiate();
  if (!n) return n;
  std::string error;
  if (!driver_ && !lay_out_memory(error)) return Outcome<bool>::fail(error);
  auto i = share_inflight_buffer();
  if (!i) return i;
  auto m = send_memory();
  if (!m) return m;
  for (unsigned q = 0; q < queue_count(); ++q) {
    auto s = start_queue(q, driver_->fresh_vring_base());
    if (!s) return s;
  }
  return Outcome<bool>::ok(true);
}

Outcome<bool> Engine::set_up_again() {
  std::string error;
  if (driver_ && !driver_->reset_queues(error)) return Outcome<bool>::fail(error);
  // The rings start over, as after a device reset: the old buffer would describe chains of rings
  // that no longer exist. QEMU 7.2 frees it on reset too (vhost_dev_free_inflight).
  inflight_.reset();
  return set_up();
}

Outcome<bool> Engine::resume_after_crash() {
  auto n = negotiate();
  if (!n) return n;
  if (!driver_) return Outcome<bool>::fail("no rings were set up before the crash");
  // The restart point is the used index in the split used ring (lifecycle.backend-crash is
  // unsupported on packed rings).
  auto* split = dynamic_cast<SplitDriver*>(driver_.get());
  if (!split) return Outcome<bool>::fail("resuming after a crash needs split rings");
  auto i = share_inflight_buffer();
  if (!i) return i;
  auto m = send_memory();
  if (!m) return m;
  for (unsigned q = 0; q < queue_count(); ++q) {
    auto s = start_queue(q, split->used_idx_in_ring(q));
    if (!s) return s;
  }
  return Outcome<bool>::ok(true);
}

namespace {

CheckOutcome setup_check(const Outcome<bool>& result, const std::string& unsupported,
                         uint64_t first, uint64_t last) {
  CheckOutcome c;
  c.id = "protocol.setup";
  c.what =
      "negotiation, back-end channel, memory table and rings (spec \"Front-end message types\", "
      "\"Ring states\")";
  c.verdict = result ? Verdict::Pass : Verdict::Fail;
  c.reason = result.error;
  if (!unsupported.empty()) {
    c.verdict = Verdict::Unsupported;
    c.reason = unsupported;
  }
  c.first_record = first;
  c.last_record = last;
  return c;
}

CheckOutcome run_net_bench_check(Engine& engine, ExerciseResult& result) {
  CheckOutcome c;
  c.id = "bench";
  c.what = "frames of 64, 512 and 1518 bytes sent and received back, on every queue pair";
  const ExerciseOptions& o = engine.options();
  WorkloadContext ctx{engine.driver(), engine.acked_features(), engine.config(), o.shared_dir,
                      o.timeout,       o.queue_depth,           o.duration};
  c.first_record = engine.link().records() + 1;
  result.net_bench = run_net_bench(ctx, o.bench_each);
  c.last_record = engine.link().records();
  for (const NetBenchFigure& f : result.net_bench)
    if (std::string fault = net_bench_figure_fault(f); !fault.empty() && c.reason.empty()) {
      c.verdict = Verdict::Fail;
      c.reason = fault;
    }
  return c;
}

CheckOutcome run_bench(Engine& engine, ExerciseResult& result) {
  if (engine.options().device == DeviceKind::Net) return run_net_bench_check(engine, result);
  CheckOutcome c;
  c.id = "bench";
  c.what = "reads at queue depth 1 and 32, 4 KiB and 64 KiB, on every queue";
  if (engine.options().device != DeviceKind::Blk) {
    c.verdict = Verdict::Unsupported;
    c.reason = fmt::format("vhostscope has no benchmark for device '{}' yet",
                           device_kind_name(engine.options().device));
    return c;
  }
  const ExerciseOptions& o = engine.options();
  WorkloadContext ctx{engine.driver(), engine.acked_features(), engine.config(), o.shared_dir,
                      o.timeout,       o.queue_depth,           o.duration};
  c.first_record = engine.link().records() + 1;
  result.bench = run_blk_bench(ctx, o.bench_each);
  c.last_record = engine.link().records();
  for (const BenchFigure& f : result.bench)
    if (!f.error.empty()) {
      c.verdict = Verdict::Fail;
      c.reason = f.error;
    }
  return c;
}

}  // namespace

ExerciseResult run_exercise(const ExerciseOptions& options) {
  ExerciseResult result;
  Engine engine(options);
  std::string error;
  if (!engine.connect(error)) {
    result.error = error;
    return result;
  }
  result.ran = true;
  const uint64_t first = engine.link().records() + 1;
  const auto setup = engine.set_up();
  result.checks.push_back(setup_check(setup, engine.unsupported(), first, engine.link().records()));
  if (setup) {
    if (options.run_workload) {
      WorkloadContext ctx{engine.driver(),    engine.acked_features(), engine.config(),
                          options.shared_dir, options.timeout,         options.queue_depth,
                          options.duration};
      for (CheckOutcome& c : run_device_workload(options.device, ctx))
        result.checks.push_back(std::move(c));
    }
    if (options.bench) result.checks.push_back(run_bench(engine, result));
    for (const std::string& name : options.scenarios)
      result.checks.push_back(run_lifecycle_scenario(name, engine));
  }
  result.acked_features = engine.acked_features();
  result.acked_protocol_features = engine.acked_protocol_features();
  result.queues = engine.queue_count();
  engine.link().disconnect("vhostscope exercise finished");
  result.records = engine.link().records();
  return result;
}

}  // namespace vhs::exercise
