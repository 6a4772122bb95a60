// One line of an exercise report: a named check (a workload step or a lifecycle scenario), its
// verdict and why. "Unsupported" names what the back-end lacks (a feature it did not offer), so a
// check is never skipped silently.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "proxy/exercise/driver_io.hpp"

namespace vhs::exercise {

enum class Verdict { Pass, Fail, Unsupported };

struct CheckOutcome {
  std::string id;    // stable: "blk.read", "fs.read-compare", "net.tx-rx", "lifecycle.stop-restart"
  std::string what;  // one line: what the check exercises (and the spec/VIRTIO section)
  Verdict verdict = Verdict::Pass;
  std::string reason;  // why it failed / what is missing; empty on a pass
  // The capture records the check spans (#N as `dump` numbers them); 0 when not known.
  uint64_t first_record = 0;
  uint64_t last_record = 0;
};

// What a device workload knows about the device it drives.
struct WorkloadContext {
  DriverIo& io;
  uint64_t virtio_features = 0;      // the features the engine acked (SET_FEATURES)
  std::vector<uint8_t> config;       // GET_CONFIG bytes; empty when CONFIG was not negotiated
  std::filesystem::path shared_dir;  // fs: the host directory the back-end shares; may be empty
  std::chrono::milliseconds timeout{5000};  // per request
  unsigned queue_depth = 1;                 // chains a workload keeps in flight per queue
  std::chrono::milliseconds duration{0};    // > 0: repeat the data checks for this long
};

}  // namespace vhs::exercise
