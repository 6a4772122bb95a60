// Which workload drives which device: the one dispatch table (workload_table.cpp).
#pragma once

#include <memory>
#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "proxy/exercise/check_outcome.hpp"
#include "proxy/exercise/io_probe.hpp"

namespace vhs::exercise {

using WorkloadFn = std::vector<CheckOutcome> (*)(WorkloadContext&);
// The device's lifecycle I/O probe (io_probe.hpp), so lifecycle scenarios can see that I/O
// flows and carry I/O in flight across a ring stop.
using ProbeFactory = std::unique_ptr<IoProbe> (*)(const ProbeContext&);

struct WorkloadEntry {
  DeviceKind device;
  WorkloadFn run;
  // May be nullptr: lifecycle scenarios that need I/O are then Unsupported.
  ProbeFactory probe;
};

const WorkloadEntry* find_workload(DeviceKind device);

// The device's workload, or one Unsupported check when there is none.
std::vector<CheckOutcome> run_device_workload(DeviceKind device, WorkloadContext& ctx);

}  // namespace vhs::exercise
