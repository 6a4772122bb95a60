// The virtio-blk workload (VIRTIO "Block Device"): GET_ID, read, write then read back and
// compare, flush, discard and write-zeroes when offered, the last sector and one past the end,
// and queue depth N on every queue. Every check verifies data or status, not just completion.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxy/exercise/check_outcome.hpp"

namespace vhs::exercise {

std::vector<CheckOutcome> run_blk_workload(WorkloadContext& ctx);
// The I/O probe of the lifecycle scenarios: a 512-byte read of sector 0, which must complete
// with status OK.
ChainRequest blk_probe_request();
std::string blk_probe_check(const ChainCompletion& completion);
// A write of `data` at `sector`, a read of `bytes` at `sector`, and a completion's status byte
// (0xff when the device wrote none), for scenarios that move data themselves.
ChainRequest blk_write_request(uint64_t sector, std::vector<uint8_t> data);
ChainRequest blk_read_request(uint64_t sector, uint32_t bytes);
uint8_t blk_status(const ChainCompletion& completion);

}  // namespace vhs::exercise
