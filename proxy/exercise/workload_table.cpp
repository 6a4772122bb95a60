#include "proxy/exercise/workload_table.hpp"

#include <string>

#include "proxy/exercise/blk_workload.hpp"
#include "proxy/exercise/fs_workload.hpp"
#include "proxy/exercise/net_probe.hpp"
#include "proxy/exercise/net_workload.hpp"

namespace vhs::exercise {
namespace {

std::unique_ptr<IoProbe> blk_probe(const ProbeContext& ctx) {
  return make_chain_probe(ctx, blk_probe_request, blk_probe_check);
}
std::unique_ptr<IoProbe> fs_probe(const ProbeContext& ctx) {
  return make_chain_probe(ctx, fs_probe_request, fs_probe_check);
}

// One line per device: its workload and its I/O probe.
constexpr WorkloadEntry kWorkloads[] = {
    {DeviceKind::Blk, run_blk_workload, blk_probe},
    {DeviceKind::Fs, run_fs_workload, fs_probe},
    {DeviceKind::Net, run_net_workload, make_net_probe},  // per queue pair: frames sent come back
};

}  // namespace

const WorkloadEntry* find_workload(DeviceKind device) {
  for (const WorkloadEntry& w : kWorkloads)
    if (w.device == device) return &w;
  return nullptr;
}

std::vector<CheckOutcome> run_device_workload(DeviceKind device, WorkloadContext& ctx) {
  if (const WorkloadEntry* w = find_workload(device)) return w->run(ctx);
  CheckOutcome c;
  c.id = std::string(device_kind_name(device)) + ".workload";
  c.what = "the device workload";
  c.verdict = Verdict::Unsupported;
  c.reason =
      "vhostscope has no workload for device '" + std::string(device_kind_name(device)) + "' yet";
  return {c};
}

}  // namespace vhs::exercise
