// Which workload drives which device: the one dispatch table (workload_table.cpp).
#pragma once

#include <vector>

#include "decoders/vhost_user/features.hpp"
#include "proxy/exercise/check_outcome.hpp"

namespace vhs::exercise {

using WorkloadFn = std::vector<CheckOutcome> (*)(WorkloadContext&);
// One small request that any healthy device of the kind completes on any queue, so lifecycle
// scenarios can see that I/O flows, and the check of its completion ("" or what is wrong).
using ProbeRequestFn = ChainRequest (*)();
using ProbeCheckFn = std::string (*)(const ChainCompletion&);

struct WorkloadEntry {
  DeviceKind device;
  WorkloadFn run;
  // May be nullptr: lifecycle scenarios that need I/O are then Unsupported.
  ProbeRequestFn probe_request;
  ProbeCheckFn probe_check;
};

const WorkloadEntry* find_workload(DeviceKind device);

// The device's workload, or one Unsupported check when there is none.
std::vector<CheckOutcome> run_device_workload(DeviceKind device, WorkloadContext& ctx);

}  // namespace vhs::exercise
