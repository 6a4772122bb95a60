#include "proxy/exercise/lifecycle_scenarios.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "decoders/vhost_user/payload_layout.hpp"
#include "decoders/virtio/device_config.hpp"
#include "proxy/exercise/backend_process.hpp"
#include "proxy/exercise/crash_scenario.hpp"
#include "proxy/exercise/engine.hpp"
#include "proxy/exercise/workload_table.hpp"
#include "proxy/sys_error.hpp"

namespace vhs::exercise {
namespace {

using R = Outcome<bool>;

// The device's I/O probe (the workload table's), working on the engine's rings.
std::unique_ptr<IoProbe> make_probe(Engine& e) {
  return find_workload(e.options().device)
      ->probe(ProbeContext{e.driver(), e.acked_features(), e.options().timeout});
}

// How many requests a scenario leaves in flight on a probe unit: up to 8, at most half its ring,
// so the ring never fills and what answers them still has room.
size_t in_flight_depth(const RingDriver& d, const std::vector<unsigned>& queues) {
  return std::min<size_t>(8, d.queue_size(queues.front()) / 2);
}

R probe_all(Engine& e) {
  auto probe = make_probe(e);
  for (unsigned u = 0; u < probe->unit_count(); ++u)
    if (std::string why = probe->round_trip(u); !why.empty()) return R::fail(why);
  return R::ok(true);
}

// Per probe unit (a queue; a net queue pair), so requests and what answers them are in flight on
// its rings together: post, stop each ring, start each again at the base it returned.
R stop_restart(Engine& e) {
  auto probe = make_probe(e);
  RingDriver& d = e.driver();
  // What each ring had in flight when it stopped (as the driver sees it: posted, not yet read back
  // as used) and where it resumed: the pass says it.
  std::string summary;
  for (unsigned u = 0; u < probe->unit_count(); ++u) {
    const std::vector<unsigned> queues = probe->queues(u);
    const size_t n = in_flight_depth(d, queues);
    if (std::string why = probe->put_in_flight(u, n); !why.empty()) return R::fail(why);
    std::vector<uint32_t> bases;
    for (unsigned q : queues) {
      auto base = e.stop_queue(q);
      if (!base) return R::fail(base.error);
      // Spec "Ring states": the back-end resumes between what it used and what was made available.
      const std::string fault = d.vring_base_fault(q, *base.value);
      if (!fault.empty()) return R::fail(fault);
      bases.push_back(*base.value);
      summary += fmt::format("{}queue {}: {} in flight, base {}", summary.empty() ? "" : "; ", q,
                             d.in_flight(q), *base.value);
    }
    for (size_t i = 0; i < queues.size(); ++i) {
      auto s = e.start_queue(queues[i], static_cast<uint16_t>(bases[i]));
      if (!s) return s;
    }
    if (std::string why = probe->settle_in_flight(u); !why.empty()) return R::fail(why);
    for (unsigned q : queues)
      if (d.in_flight(q) != 0)
        return R::fail(fmt::format("queue {}: {} chains still in flight after the restart", q,
                                   d.in_flight(q)));
    if (std::string why = probe->round_trip(u); !why.empty()) return R::fail(why);
  }
  // A pass that says what happened: run_lifecycle_scenario reports it as the reason.
  return R{true, "at GET_VRING_BASE " + summary + "; each completed once after the restart"};
}

R enable_toggle(Engine& e) {
  auto probe = make_probe(e);
  for (unsigned u = 0; u < probe->unit_count(); ++u) {
    for (unsigned q : probe->queues(u)) {
      auto off = e.enable_queue(q, false);
      if (!off) return off;
      auto on = e.enable_queue(q, true);
      if (!on) return on;
    }
    if (std::string why = probe->round_trip(u); !why.empty()) return R::fail(why);
  }
  return R::ok(true);
}

// The config bytes that must not change while nothing changes the device: all but virtio-net's
// status, whose LINK_UP a back-end may flip at any time (VIRTIO "Device configuration layout"
// of the network device; it signals that with a config change, spec "Back-end message types").
std::vector<uint8_t> stable_config(DeviceKind device, std::vector<uint8_t> config) {
  if (device != DeviceKind::Net) return config;
  for (const ConfigField& f : device_config_fields(device))
    if (f.name == "status")
      for (size_t i = f.offset; i < size_t{f.offset} + f.size && i < config.size(); ++i)
        config[i] = 0;
  return config;
}

R get_config(Engine& e) {
  auto c = e.read_config();
  if (!c) return R::fail(c.error);
  const DeviceKind device = e.options().device;
  if (stable_config(device, *c.value) != stable_config(device, e.config()))
    return R::fail("the second GET_CONFIG gave other bytes than the first (nothing changed)");
  return R::ok(true);
}

// virtio-blk's one field the driver may write (VIRTIO "Block Device", "Device configuration
// layout": writeback, with VIRTIO_BLK_F_CONFIG_WCE). Its offset comes from the config field table.
std::optional<ConfigField> writable_config_field(DeviceKind device) {
  if (device != DeviceKind::Blk) return std::nullopt;
  for (const ConfigField& f : device_config_fields(device))
    if (f.name == "wce") return f;
  return std::nullopt;
}

// SET_CONFIG (spec "Front-end message types": flags 0, a front-end write) of the writable field to
// the other cache mode, GET_CONFIG shows it, then back, and GET_CONFIG shows the original.
R set_config(Engine& e) {
  const auto field = writable_config_field(e.options().device);
  if (!field) return R::fail("no writable config field known for this device");
  const std::vector<uint8_t> before = e.config();
  if (before.size() < size_t{field->offset} + 1)
    return R::fail(fmt::format("the config space ({} bytes) has no byte {} ({})", before.size(),
                               field->offset, field->name));
  const uint8_t original = before[field->offset];
  for (const uint8_t value : {static_cast<uint8_t>(original ? 0 : 1), original}) {
    const uint8_t data[1] = {value};
    auto set = e.link().call(FrontendRequest::SET_CONFIG, encode_config(field->offset, 1, 0, data));
    if (!set) return R::fail(set.error);
    auto got = e.read_config();
    if (!got) return R::fail(got.error);
    if ((*got.value)[field->offset] != value)
      return R::fail(fmt::format("SET_CONFIG {} = {} (offset {}), but GET_CONFIG then says {}",
                                 field->name, value, field->offset, (*got.value)[field->offset]));
  }
  return R::ok(true);
}

R stop_all(Engine& e) {
  for (unsigned q = 0; q < e.queue_count(); ++q) {
    auto b = e.stop_queue(q);
    if (!b) return R::fail(b.error);
  }
  return R::ok(true);
}

R reset(Engine& e) {
  auto s = stop_all(e);
  if (!s) return s;
  const bool device_reset = has_feature(e.acked_protocol_features(), ProtocolFeature::RESET_DEVICE);
  auto r = e.link().call(
      device_reset ? FrontendRequest::RESET_DEVICE : FrontendRequest::RESET_OWNER, {});
  if (!r) return R::fail(r.error);
  auto again = e.set_up_again();
  if (!again) return again;
  return probe_all(e);
}

R reconnect(Engine& e) {
  // With writes in flight where the engine can resume them (crash_scenario.hpp); otherwise the
  // rings are stopped first and nothing is in flight.
  if (writes_in_flight_unsupported(e).empty()) return run_reconnect_in_flight(e);
  auto s = stop_all(e);
  if (!s) return s;
  e.link().disconnect("vhostscope exercise: reconnect scenario");
  std::string error;
  if (!e.connect(error)) return reconnect_refused(e, error);
  auto again = e.set_up_again();
  if (!again) return again;
  return probe_all(e);
}

// lifecycle.backend-crash where the engine cannot resume writes in flight (net, fs, packed
// rings): I/O is left in flight on every probe unit, the back-end is SIGKILLed and started again,
// and the engine reconnects. The spec promises nothing for what was in flight without
// INFLIGHT_SHMFD ("Inflight I/O tracking"), so the rings start over, as after a device reset,
// and the restarted back-end must serve every unit.
R crash_with_io_in_flight(Engine& e) {
  BackendProcess* backend = e.backend_process();
  if (!backend) return R::fail("needs --backend-command to restart the back-end");
  auto probe = make_probe(e);
  RingDriver& d = e.driver();
  std::string in_flight;
  for (unsigned u = 0; u < probe->unit_count(); ++u) {
    const std::vector<unsigned> queues = probe->queues(u);
    const size_t n = in_flight_depth(d, queues);
    if (std::string why = probe->put_in_flight(u, n); !why.empty()) return R::fail(why);
    for (unsigned q : queues)
      in_flight += fmt::format("{}queue {}: {}", in_flight.empty() ? "" : ", ", q, d.in_flight(q));
  }
  std::string error;
  if (!backend->kill_and_reap(e.options().timeout, error)) return R::fail(error);
  e.link().disconnect("vhostscope exercise: the back-end was killed (SIGKILL)");
  if (!backend->start(error)) return R::fail("restarting the back-end: " + error);
  if (!e.connect(error)) return R::fail("reconnecting after the restart: " + error);
  auto again = e.set_up_again();
  if (!again) return R::fail("setting up again after the SIGKILL: " + again.error);
  auto io = probe_all(e);
  if (!io) return R::fail("after the restart: " + io.error);
  return R{true, fmt::format("in flight at the SIGKILL ({}); the engine resumes writes in flight "
                             "on blk split rings only, so the rings were reset; after the restart "
                             "I/O goes on",
                             in_flight)};
}

R backend_crash(Engine& e) {
  if (writes_in_flight_unsupported(e).empty()) return run_backend_crash(e);
  return crash_with_io_in_flight(e);
}

R mem_hotplug(Engine& e) {
  constexpr uint64_t kGpa = uint64_t{2} << 30, kSize = uint64_t{2} << 20;
  std::string error;
  auto index = e.ram().add_region(kGpa, kSize, "vhostscope-hotplug", error);
  if (!index) return R::fail(error);
  const MemRegionValue region = e.ram().region(*index)->value();
  const int fd = e.ram().region(*index)->fd.get();
  auto add = e.link().call(FrontendRequest::ADD_MEM_REG, encode_single_region(region),
                           std::span<const int>(&fd, 1));
  if (!add) return R::fail(add.error);
  // I/O of the first probe unit whose buffers live only in the new region, split between its
  // queues.
  auto probe = make_probe(e);
  const std::vector<unsigned> queues = probe->queues(0);
  const uint64_t slice = kSize / queues.size();
  std::vector<Arena> old;
  for (size_t i = 0; i < queues.size(); ++i)
    old.push_back(e.driver().swap_data_arena(queues[i], Arena(kGpa + i * slice, slice)));
  const std::string why = probe->round_trip(0);
  for (size_t i = 0; i < queues.size(); ++i)
    e.driver().swap_data_arena(queues[i], std::move(old[i]));
  if (!why.empty()) return R::fail("through the added region: " + why);
  // QEMU passes the region's fd with REM_MEM_REG too, for the back-end to match it.
  auto rem = e.link().call(FrontendRequest::REM_MEM_REG, encode_single_region(region),
                           std::span<const int>(&fd, 1));
  if (!rem) return R::fail(rem.error);
  e.ram().remove_region(*index);
  return probe_all(e);
}

R dirty_log(Engine& e) {
  // One bit per 4 KiB page of guest-physical memory (spec "Migration", "Dirty pages log").
  uint64_t top = 0;
  for (const MemRegionValue& r : e.ram().table())
    top = std::max(top, r.guest_phys_addr + r.memory_size);
  const uint64_t log_size = ((top / 4096 + 7) / 8 + 4095) / 4096 * 4096;
  UniqueFd log(::memfd_create("vhostscope-log", MFD_CLOEXEC));
  if (!log || ::ftruncate(log.get(), static_cast<off_t>(log_size)) != 0)
    return R::fail(sys_error("create", "the log memfd", errno));
  void* map = ::mmap(nullptr, log_size, PROT_READ | PROT_WRITE, MAP_SHARED, log.get(), 0);
  if (map == MAP_FAILED) return R::fail(sys_error("map", "the log memfd", errno));
  struct Unmap {
    void* p;
    uint64_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, log_size};
  const auto* bitmap = static_cast<const uint8_t*>(map);

  const uint64_t logging = e.acked_features() | feature_bit(kFeatureLogAll);
  auto f = e.link().call(FrontendRequest::SET_FEATURES, encode_u64(logging));
  if (!f) return R::fail(f.error);
  const int fd = log.get();
  auto b = e.link().call(FrontendRequest::SET_LOG_BASE, encode_log(log_size, 0),
                         std::span<const int>(&fd, 1));
  if (!b) return R::fail(b.error);
  // Used-ring writes are logged too once the ring says so (VHOST_VRING_F_LOG, log_guest_addr).
  VringAddrValue addr = e.driver().setup(0).addr;
  addr.flags = kVringAddrFlagLog;
  addr.log_guest_addr = e.driver().used_ring_gpa(0);
  auto a = e.link().call(FrontendRequest::SET_VRING_ADDR, encode_vring_addr(addr));
  if (!a) return R::fail(a.error);

  // The first probe unit holds queue 0 (net: receiveq1, the queue the device writes frames to).
  if (std::string why = make_probe(e)->round_trip(0); !why.empty()) return R::fail(why);
  auto marked = [&](uint64_t gpa) {
    const auto* byte = reinterpret_cast<const volatile uint8_t*>(bitmap + gpa / 4096 / 8);
    return ((*byte >> ((gpa / 4096) % 8)) & 1) != 0;
  };
  const Arena& data = e.driver().data_arena(0);
  auto data_marked = [&] {
    for (uint64_t gpa = data.base(); gpa < data.base() + data.size(); gpa += 4096)
      if (marked(gpa)) return true;
    return false;
  };
  // The spec orders no mark before the used entry that the driver sees: a back-end may write
  // its marks a little later (DPDK flushes a log cache after a burst), and QEMU reads the log
  // only later still (each migration round, and after GET_VRING_BASE). So the marks get a
  // moment to arrive.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (!(marked(e.driver().used_ring_gpa(0)) && data_marked()) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string why;
  if (!marked(e.driver().used_ring_gpa(0)))
    why = fmt::format("the page of queue 0's used ring (gpa 0x{:x}) is not marked in the log",
                      e.driver().used_ring_gpa(0));
  if (why.empty() && !data_marked())
    why = "no page of queue 0's data buffers is marked in the log after the device wrote one";

  // Logging off again: the ring without LOG, the features without LOG_ALL.
  addr.flags = 0;
  addr.log_guest_addr = 0;
  auto a2 = e.link().call(FrontendRequest::SET_VRING_ADDR, encode_vring_addr(addr));
  if (!a2 && why.empty()) why = a2.error;
  auto f2 = e.link().call(FrontendRequest::SET_FEATURES, encode_u64(e.acked_features()));
  if (!f2 && why.empty()) why = f2.error;
  if (!why.empty()) return R::fail(why);
  return R::ok(true);
}

// In the order `--scenario all` runs them: those that can end the connection (a back-end that
// serves one connection, a crash) last, so they cannot keep the others from running.
constexpr ScenarioInfo kScenarios[] = {
    {"stop-restart",
     "stop every ring with I/O in flight (GET_VRING_BASE) and restart it at the returned index: "
     "no completion lost or repeated (spec \"Ring states\")",
     stop_restart},
    {"enable-toggle", "SET_VRING_ENABLE 0 then 1 on every ring, I/O resumes (spec \"Ring states\")",
     enable_toggle},
    {"get-config",
     "GET_CONFIG again gives the same config space (spec \"Front-end message types\")", get_config},
    {"set-config",
     "SET_CONFIG of virtio-blk's writeback byte to the other cache mode, GET_CONFIG shows it, "
     "and back (spec \"Front-end message types\", VIRTIO_BLK_F_CONFIG_WCE)",
     set_config},
    {"reset",
     "RESET_DEVICE (or RESET_OWNER), then the whole set-up again and I/O "
     "(spec \"Front-end message types\")",
     reset},
    {"mem-hotplug",
     "ADD_MEM_REG a region, I/O through it, REM_MEM_REG it, I/O "
     "(spec \"Memory region description\", CONFIGURE_MEM_SLOTS)",
     mem_hotplug},
    {"dirty-log",
     "LOG_ALL + SET_LOG_BASE, then the log bitmap marks the pages the back-end "
     "wrote (spec \"Migration\")",
     dirty_log},
    {"reconnect",
     "disconnect, connect again, set up again and I/O; blk on split rings disconnects with writes "
     "in flight: with INFLIGHT_SHMFD the back-end resubmits each once, without, the engine resets "
     "the rings and resubmits (spec \"Ring states\", \"Inflight I/O tracking\")",
     reconnect},
    {"backend-crash",
     "SIGKILL the back-end with I/O in flight, start it again, reconnect and I/O; blk on split "
     "rings: with INFLIGHT_SHMFD (SET_INFLIGHT_FD, SET_VRING_BASE = used idx) it resubmits each "
     "write once, without, the engine resets the rings and resubmits; other devices: the rings "
     "start over (spec \"Inflight I/O tracking\")",
     backend_crash},
};

// Why the scenario cannot run on this back-end, or "".
std::string unsupported(std::string_view name, Engine& e) {
  const uint64_t proto = e.acked_protocol_features();
  const bool io =
      find_workload(e.options().device) && find_workload(e.options().device)->probe != nullptr;
  if (name != "get-config" && name != "set-config" && !io)
    return fmt::format("vhostscope has no I/O probe for device '{}' yet",
                       device_kind_name(e.options().device));
  if (name == "enable-toggle" && !e.protocol_features_negotiated())
    return "the back-end does not offer VHOST_USER_F_PROTOCOL_FEATURES: rings cannot be disabled";
  if (name == "get-config" && !has_feature(proto, ProtocolFeature::CONFIG))
    return "the back-end does not offer the CONFIG protocol feature";
  if (name == "set-config") {
    if (!has_feature(proto, ProtocolFeature::CONFIG))
      return "the back-end does not offer the CONFIG protocol feature";
    if (!writable_config_field(e.options().device))
      return fmt::format("device '{}' has no config field the driver may write",
                         device_kind_name(e.options().device));
    if (!(e.acked_features() & feature_bit(blk_feature::kConfigWce)))
      return "the back-end does not offer VIRTIO_BLK_F_CONFIG_WCE (the writeback field is "
             "read-only)";
  }
  if (name == "mem-hotplug" && !has_feature(proto, ProtocolFeature::CONFIGURE_MEM_SLOTS))
    return "the back-end does not offer the CONFIGURE_MEM_SLOTS protocol feature";
  if (name == "backend-crash") {
    if (!e.backend_process())
      return "needs --backend-command to restart the back-end (the engine must own its process)";
  }
  if (name == "dirty-log") {
    if (!(e.offered_features() & feature_bit(kFeatureLogAll)))
      return "the back-end does not offer VHOST_F_LOG_ALL";
    if (!has_feature(proto, ProtocolFeature::LOG_SHMFD))
      return "the back-end does not offer the LOG_SHMFD protocol feature";
  }
  return "";
}

// nullopt when the engine started its back-end process again and set the device up on a new
// connection; otherwise why not, as a continuation of "not run: ..." (empty: the engine does not
// own a back-end that ended).
std::optional<std::string> restart_ended_backend(Engine& e) {
  BackendProcess* backend = e.backend_process();
  if (!backend || backend->running()) return "";
  std::string error;
  if (!backend->start(error)) return "; starting the back-end again: " + error;
  if (!e.connect(error)) return "; connecting to the restarted back-end: " + error;
  auto again = e.set_up_again();
  if (!again) return "; setting the restarted back-end up: " + again.error;
  return std::nullopt;
}

}  // namespace

std::span<const ScenarioInfo> lifecycle_scenarios() { return kScenarios; }

bool is_lifecycle_scenario(std::string_view name) {
  return std::any_of(std::begin(kScenarios), std::end(kScenarios),
                     [&](const ScenarioInfo& s) { return s.name == name; });
}

CheckOutcome run_lifecycle_scenario(std::string_view name, Engine& e) {
  CheckOutcome c;
  c.id = "lifecycle." + std::string(name);
  const ScenarioInfo* info = nullptr;
  for (const ScenarioInfo& s : kScenarios)
    if (s.name == name) info = &s;
  if (!info) {
    c.verdict = Verdict::Fail;
    c.reason = "no such scenario";
    return c;
  }
  c.what = std::string(info->what);
  std::string restarted;
  if (!e.link().connected()) {
    // A back-end the engine owns that ended with the connection (virtiofsd serves one front-end)
    // is started again, so the scenarios after it still run against a fresh process.
    if (auto why = restart_ended_backend(e)) {
      c.verdict = Verdict::Fail;
      c.reason = "not run: the connection was lost in an earlier scenario" + *why;
      return c;
    }
    restarted = "the back-end, ended by an earlier scenario, was started again";
  }
  if (std::string why = unsupported(name, e); !why.empty()) {
    c.verdict = Verdict::Unsupported;
    c.reason = why;
    return c;
  }
  c.first_record = e.link().records() + 1;
  const R result = info->run(e);
  c.last_record = e.link().records();
  c.verdict = result               ? Verdict::Pass
              : result.unsupported() ? Verdict::Unsupported
                                   : Verdict::Fail;
  c.reason = restarted.empty() || result.error.empty() ? restarted + result.error
                                                       : restarted + "; " + result.error;
  return c;
}

}  // namespace vhs::exercise
