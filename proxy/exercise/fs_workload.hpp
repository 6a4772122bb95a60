// The virtio-fs workload of `vhostscope exercise`: a FUSE session driven through the device's
// queues (VIRTIO "File System Device": queue 0 is hiprio, queue 1 the first request queue), each
// step checked against the host directory the back-end shares. Steps, in order:
//   fs.init, fs.lookup, fs.getattr, fs.open, fs.read, fs.read-compare, fs.create, fs.write,
//   fs.release, fs.write-compare, fs.readdir, fs.unlink, fs.forget.
// A step whose request the back-end answers with a FUSE error fails naming the opcode and the
// errno; a step that cannot run because an earlier one failed fails saying which.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "proxy/exercise/check_outcome.hpp"
#include "proxy/exercise/fuse_messages.hpp"

namespace vhs::exercise {

struct FsWorkloadOptions {
  // Who the requests run as; unset: this process's uid, gid and pid (a guest's root when the
  // exerciser runs as root, like the guest kernel passes its caller's credentials).
  std::optional<FuseCaller> caller;
  uint32_t read_chunk = 16 * 1024;    // bytes asked per READ
  uint64_t read_limit = 1024 * 1024;  // bytes of the host file read and compared at most
  uint32_t write_bytes = 20000;       // bytes written to the created file (several WRITEs)
  std::string created_name;           // default "vhostscope-exercise-<pid>.bin"
};

std::vector<CheckOutcome> run_fs_workload(WorkloadContext& ctx);
// The I/O probe of the lifecycle scenarios, good on any queue: GETATTR of the root directory.
// Any well-formed reply to it passes (a server not yet initialised answers EIO, which still shows
// that the queue moves); no reply, or one for another request, is what the check reports.
ChainRequest fs_probe_request();
std::string fs_probe_check(const ChainCompletion& completion);
std::vector<CheckOutcome> run_fs_workload(WorkloadContext& ctx, const FsWorkloadOptions& options);

}  // namespace vhs::exercise
