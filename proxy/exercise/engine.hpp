// The exercise engine: a scripted vhost-user FRONT-END that is also the virtio driver of the
// rings it sets up. It connects to (or accepts) a back-end, negotiates like QEMU 7.2 does for the
// device (masks narrow it), hands over guest memory as memfd regions, sets up every queue, and
// then runs the device workload and the lifecycle scenarios, each giving CheckOutcomes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "captures/format/record.hpp"
#include "decoders/vhost_user/features.hpp"
#include "proxy/exercise/backend_process.hpp"
#include "proxy/exercise/blk_bench.hpp"
#include "proxy/exercise/check_outcome.hpp"
#include "proxy/exercise/frontend_link.hpp"
#include "proxy/exercise/guest_ram.hpp"
#include "proxy/exercise/inflight_buffer.hpp"
#include "proxy/exercise/net_bench.hpp"
#include "proxy/exercise/ring_driver.hpp"

namespace vhs::exercise {

struct ExerciseOptions {
  std::string backend_connect;  // connect to a listening back-end here
  std::string backend_listen;   // or listen here for a back-end that connects
  // Non-empty: the engine starts the back-end itself (/bin/sh -c), and may kill and restart it
  // (lifecycle.backend-crash).
  std::string backend_command;
  DeviceKind device = DeviceKind::Blk;
  // ANDed with what the back-end offers; nullopt: what QEMU 7.2 acks for the device.
  std::optional<uint64_t> features_mask;
  std::optional<uint64_t> protocol_features_mask;
  unsigned queues = 0;  // 0: the device's default (blk: what GET_QUEUE_NUM says, at most 4)
  uint16_t queue_size = 128;
  unsigned queue_depth = 8;
  std::chrono::milliseconds timeout{5000};          // per reply and per completion
  std::chrono::milliseconds connect_timeout{5000};  // for the back-end to be there
  std::chrono::milliseconds duration{0};            // workload repetitions for this long
  bool run_workload = true;
  // Chains of two or more buffers go in indirect descriptor tables (needs INDIRECT_DESC).
  bool indirect = false;
  // VIRTIO_F_RING_PACKED is acked and every queue is a packed ring (else split rings).
  bool packed_ring = false;
  std::vector<std::string> scenarios;  // lifecycle scenario names ("all" expanded by the caller)
  bool bench = false;  // measure: blk IOPS and latency per queue, net packets/s per queue pair
  std::chrono::milliseconds bench_each{1000};  // per queue depth / block size / queue
  std::filesystem::path shared_dir;
  RecordSink* capture = nullptr;
};

struct ExerciseResult {
  bool ran = false;   // false: could not run at all (no back-end); `error` says why
  std::string error;  // set with ran == false
  std::vector<CheckOutcome> checks;
  uint64_t records = 0;
  uint64_t acked_features = 0, acked_protocol_features = 0;
  unsigned queues = 0;
  std::vector<BenchFigure> bench;         // blk
  std::vector<NetBenchFigure> net_bench;  // net
};

// The virtio feature bits QEMU 7.2 acks for `device` (its vhost-user feature lists) that this
// engine can drive: event idx, indirect descriptors allowed (RING_PACKED is acked apart, by
// ExerciseOptions::packed_ring).
uint64_t default_feature_mask(DeviceKind device, unsigned queues);
// The protocol features QEMU 7.2 acks that this engine implements.
uint64_t default_protocol_feature_mask();

class Engine {
 public:
  explicit Engine(const ExerciseOptions& options);
  ~Engine();

  bool connect(std::string& error);
  // GET/SET_FEATURES, protocol features, queue count, memory slots, back-end channel, SET_OWNER,
  // GET_CONFIG, SET_MEM_TABLE and every queue. Fails with the reason and the record number.
  Outcome<bool> set_up();

  // One queue: SET_VRING_NUM, SET_VRING_BASE at `base` (the low 16 bits of the vring base
  // encoding; the driver adds what its ring layout needs), SET_VRING_ADDR, SET_VRING_KICK,
  // SET_VRING_CALL, and SET_VRING_ENABLE 1 when protocol features were negotiated.
  Outcome<bool> start_queue(unsigned queue, uint16_t base);
  // GET_VRING_BASE (spec "Ring states": stops the ring); the back-end's next avail index.
  Outcome<uint32_t> stop_queue(unsigned queue);
  Outcome<bool> enable_queue(unsigned queue, bool enable);
  Outcome<std::vector<uint8_t>> read_config();

  FrontendLink& link() { return link_; }
  GuestRam& ram() { return ram_; }
  RingDriver& driver() { return *driver_; }
  const ExerciseOptions& options() const { return options_; }
  uint64_t offered_features() const { return offered_features_; }
  uint64_t acked_features() const { return acked_features_; }
  uint64_t offered_protocol_features() const { return offered_protocol_; }
  uint64_t acked_protocol_features() const { return link_.acked_protocol_features(); }
  bool protocol_features_negotiated() const;
  const std::string& unsupported() const { return unsupported_; }
  const std::vector<uint8_t>& config() const { return config_; }
  // The driver's queues once it laid them out; before that, what negotiation chose.
  unsigned queue_count() const { return driver_ ? driver_->queue_count() : queues_; }

  // The rest of the session after a reconnect or a reset: negotiation, memory and rings again
  // (the rings start over, empty).
  Outcome<bool> set_up_again();

  // After the back-end died and a new one is connected (spec "Inflight I/O tracking"): the set-up
  // again with the rings as they are (nothing reset, chains stay in flight), the inflight buffer
  // given back (SET_INFLIGHT_FD) before the rings, and each ring started at the used index in
  // guest memory: GET_VRING_BASE cannot be asked of a dead back-end, so QEMU 7.2 does the same
  // (vhost_virtqueue_stop: virtio_queue_restore_last_avail_idx).
  Outcome<bool> resume_after_crash();

  // The back-end the engine started (--backend-command), or nullptr.
  BackendProcess* backend_process() { return backend_.get(); }
  // The buffer GET_INFLIGHT_FD gave, or nullptr (not negotiated, not blk, declined).
  const InflightBuffer* inflight() const {
    return inflight_ && !inflight_->declined() ? &*inflight_ : nullptr;
  }
  // INFLIGHT_SHMFD is acked and this device uses it (QEMU 7.2: vhost-user-blk).
  bool tracks_inflight() const;

 private:
  Outcome<bool> negotiate();
  Outcome<bool> send_memory();
  bool lay_out_memory(std::string& error);
  // GET_INFLIGHT_FD the first time, SET_INFLIGHT_FD every time, before the rings start.
  Outcome<bool> share_inflight_buffer();

  ExerciseOptions options_;
  FrontendLink link_;
  GuestRam ram_;
  std::unique_ptr<RingDriver> driver_;
  // Set when the back-end lacks what the options need (a feature it does not offer): set-up
  // stops there and reports this as unsupported rather than failed.
  std::string unsupported_;
  uint64_t offered_features_ = 0, acked_features_ = 0, offered_protocol_ = 0;
  unsigned queues_ = 1;  // chosen by negotiation; the driver's count once it exists
  std::vector<uint8_t> config_;
  std::unique_ptr<BackendProcess> backend_;
  std::optional<InflightBuffer> inflight_;
};

// Runs everything the options ask for and closes the session.
ExerciseResult run_exercise(const ExerciseOptions& options);

}  // namespace vhs::exercise
