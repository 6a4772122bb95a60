#include "proxy/exercise/crash_scenario.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "proxy/exercise/blk_workload.hpp"
#include "proxy/exercise/engine.hpp"
#include "proxy/exercise/split_driver.hpp"

namespace vhs::exercise {
namespace {

using R = Outcome<bool>;
using Clock = std::chrono::steady_clock;

// How the back-end goes away while the writes are in flight.
enum class Interruption {
  Crash,       // SIGKILL, then the engine starts it again
  Disconnect,  // the front-end closes the connection and connects again; the back-end lives on
};

constexpr unsigned kQueue = 0;
constexpr uint32_t kWriteBytes = 4096;
constexpr uint64_t kSectorsPerWrite = kWriteBytes / 512;
constexpr uint64_t kFirstSector = 8192;  // 4 MiB in: away from what the blk checks write

std::vector<uint8_t> crash_pattern(uint64_t sector) {
  std::vector<uint8_t> p(kWriteBytes);
  for (uint32_t i = 0; i < kWriteBytes; ++i)
    p[i] = static_cast<uint8_t>((sector * 29 + i * 13 + (i >> 9)) ^ 0xc3);
  return p;
}

// virtio-blk config: capacity (u64, 512-byte sectors) comes first (VIRTIO "Block Device").
uint64_t first_sector(const std::vector<uint8_t>& config, size_t writes) {
  if (config.size() < 8) return kFirstSector;
  uint64_t capacity = 0;
  std::memcpy(&capacity, config.data(), 8);
  const uint64_t need = writes * kSectorsPerWrite;
  if (capacity >= kFirstSector + need) return kFirstSector;
  return capacity >= need ? 0 : kFirstSector;  // too small: the writes fail with a clear status
}

// How many chains the device completed into the used ring that the driver has not read.
size_t used_unread(SplitDriver& d) {
  return static_cast<uint16_t>(d.used_idx_in_ring(kQueue) - d.last_used(kQueue));
}

// Waits until the back-end has taken every chain: with RING_EVENT_IDX it says how far it read
// the avail ring (avail_event), and a sealed inflight buffer shows what it marks. Neither: the
// crash comes at once, and writes still in the avail ring are simply read after the restart.
void wait_until_taken(Engine& e, SplitDriver& d, std::chrono::milliseconds timeout) {
  const InflightBuffer* buffer = e.inflight();
  const bool readable = buffer && inflight_fd_sealed(*buffer);
  if (!d.event_idx() && !readable) return;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const bool read_all = !d.event_idx() || d.avail_event_in_ring(kQueue) == d.avail_idx(kQueue);
    bool marked_all = true;
    if (readable) {
      auto heads = inflight_marked_heads(*buffer);
      marked_all = heads && heads.value->size() > kQueue &&
                   (*heads.value)[kQueue].size() + used_unread(d) >= d.in_flight(kQueue);
    }
    if (read_all && marked_all) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Every write completed with status OK; the others were posted by earlier checks.
std::string check_statuses(const std::vector<ChainCompletion>& done,
                           const std::vector<uint64_t>& tokens) {
  for (const ChainCompletion& c : done) {
    if (std::find(tokens.begin(), tokens.end(), c.token) == tokens.end()) continue;
    if (blk_status(c) != 0)
      return fmt::format("a write in flight when the back-end went away completed with status {}",
                         blk_status(c));
  }
  return "";
}

std::string read_back(Engine& e, uint64_t sector, size_t writes) {
  for (size_t i = 0; i < writes; ++i) {
    const uint64_t s = sector + i * kSectorsPerWrite;
    const ChainRequest read = blk_read_request(s, kWriteBytes);
    auto r =
        e.driver().transact(kQueue, std::span<const ChainRequest>(&read, 1), e.options().timeout);
    if (!r) return "reading the writes back: " + r.error;
    const ChainCompletion& c = r.value->front();
    if (blk_status(c) != 0 || c.written.empty())
      return fmt::format("reading back sector {}: status {}", s, blk_status(c));
    const auto want = crash_pattern(s);
    if (c.written.front() != want) {
      size_t at = 0;
      while (at < want.size() && c.written.front()[at] == want[at]) ++at;
      return fmt::format(
          "sector {} does not hold what was written before the back-end went away "
          "(byte {} differs)",
          s, at);
    }
  }
  return "";
}

// The writes in flight, the back-end gone (killed, or the front-end hung up), a new session, and
// what the front-end can rely on after it: with INFLIGHT_SHMFD the back-end resubmits what it had
// taken; without, the rings are reset and the engine resubmits.
Outcome<bool> interrupt_writes(Engine& e, Interruption how) {
  // Split rings only (scenario_unsupported says so for packed): the resume point is read from
  // the split used ring, and the inflight buffer's layout here is the split one.
  auto* split = dynamic_cast<SplitDriver*>(&e.driver());
  if (!split) return R::fail(writes_in_flight_unsupported(e));
  SplitDriver& d = *split;
  BackendProcess* backend = e.backend_process();
  const auto timeout = e.options().timeout;
  const size_t writes = std::min<size_t>(8, d.queue_size(kQueue) / 3);
  const uint64_t sector = first_sector(e.config(), writes);
  std::vector<ChainRequest> requests;
  for (size_t i = 0; i < writes; ++i) {
    const uint64_t s = sector + i * kSectorsPerWrite;
    requests.push_back(blk_write_request(s, crash_pattern(s)));
  }
  auto tokens = d.post(kQueue, requests);
  if (!tokens) return R::fail(tokens.error);
  wait_until_taken(e, d, timeout);

  std::string error;
  const bool crash = how == Interruption::Crash;
  const char* event = crash ? "the SIGKILL" : "the disconnect";
  const char* resumed_by = crash ? "restart" : "reconnect";
  if (crash) {
    // The crash: nothing of the old back-end runs on after this, so what it left in guest
    // memory and in the inflight buffer is final.
    if (!backend->kill_and_reap(timeout, error)) return R::fail(error);
    e.link().disconnect("vhostscope exercise: the back-end was killed (SIGKILL)");
  } else {
    e.link().disconnect("vhostscope exercise: reconnect with writes in flight");
    if (!e.connect(error)) return reconnect_refused(e, error);
    // A back-end serves one front-end at a time (libvhost-user, qemu-storage-daemon): it answers
    // the new session only once the old one ended, so after this reply nothing more of the old
    // session lands in the used ring or the inflight buffer.
    auto sync = e.link().call(FrontendRequest::GET_FEATURES, {});
    if (!sync) return R::fail("reconnecting: " + sync.error);
  }
  const size_t completed_before = used_unread(d);
  const InflightBuffer* buffer = e.inflight();
  size_t marked = 0;
  if (buffer) {
    auto heads = inflight_marked_heads(*buffer);
    if (!heads) return R::fail(heads.error);
    if (heads.value->size() > kQueue) marked = (*heads.value)[kQueue].size();
  }
  const std::string at_crash =
      crash ? fmt::format("{} writes in flight at the SIGKILL, {} completed before it", writes,
                          completed_before)
            : fmt::format(
                  "{} writes in flight at the disconnect, {} completed by the time the "
                  "back-end answered again",
                  writes, completed_before);

  if (crash) {
    if (!backend->start(error)) return R::fail("restarting the back-end: " + error);
    if (!e.connect(error)) return R::fail("reconnecting after the restart: " + error);
  }

  std::string summary;
  if (buffer) {
    const uint16_t base = d.used_idx_in_ring(kQueue);
    auto resumed = e.resume_after_crash();
    if (!resumed)
      return R::fail(fmt::format("setting up again after {}: {}", event, resumed.error));
    auto done = d.wait_used(kQueue, d.in_flight(kQueue), timeout);
    if (!done)
      return R::fail(fmt::format(
          "after the {} (SET_INFLIGHT_FD, SET_VRING_BASE {} = the used index; {}, {} marked "
          "in flight in the inflight buffer): {}",
          resumed_by, base, at_crash, marked, done.error));
    if (std::string why = check_statuses(*done.value, *tokens.value); !why.empty())
      return R::fail(why);
    summary = fmt::format(
        "{}, {} marked in the inflight buffer; after the {} (SET_INFLIGHT_FD, SET_VRING_BASE "
        "{}) each completed once",
        at_crash, marked, resumed_by, base);
  } else {
    // Completions the back-end wrote before it died are read (and checked) first.
    std::vector<ChainCompletion> done;
    if (completed_before > 0) {
      auto early = d.wait_used(kQueue, completed_before, timeout);
      if (!early) return R::fail(early.error);
      done = std::move(*early.value);
    }
    if (std::string why = check_statuses(done, *tokens.value); !why.empty()) return R::fail(why);
    std::vector<ChainRequest> lost;
    for (size_t i = 0; i < writes; ++i) {
      const uint64_t t = (*tokens.value)[i];
      const bool completed = std::any_of(done.begin(), done.end(),
                                         [t](const ChainCompletion& c) { return c.token == t; });
      if (!completed) lost.push_back(requests[i]);
    }
    auto again = e.set_up_again();
    if (!again) return R::fail(fmt::format("setting up again after {}: {}", event, again.error));
    if (!lost.empty()) {
      auto redone = d.transact(kQueue, lost, timeout);
      if (!redone) return R::fail("the writes resubmitted after the reset: " + redone.error);
      for (const ChainCompletion& c : *redone.value)
        if (blk_status(c) != 0)
          return R::fail(fmt::format("a write resubmitted after the reset completed with status {}",
                                     blk_status(c)));
    }
    const char* why_untracked =
        !has_feature(e.offered_protocol_features(), ProtocolFeature::INFLIGHT_SHMFD)
            ? "the back-end does not offer INFLIGHT_SHMFD"
        : !e.tracks_inflight() ? "INFLIGHT_SHMFD was masked off"
                               : "GET_INFLIGHT_FD answered mmap_size 0";
    summary = fmt::format(
        "{}; {}, so the rings were reset and the engine resubmitted the {} not completed, as a "
        "driver does after a device reset",
        at_crash, why_untracked, lost.size());
  }
  if (std::string why = read_back(e, sector, writes); !why.empty()) return R::fail(why);
  for (unsigned q = 0; q < e.queue_count(); ++q) {
    const ChainRequest probe = blk_probe_request();
    auto p = d.transact(q, std::span<const ChainRequest>(&probe, 1), timeout);
    if (!p) return R::fail(p.error);
    if (std::string why = blk_probe_check(p.value->front()); !why.empty())
      return R::fail(fmt::format("queue {}: {}", q, why));
  }
  // A pass that says what happened: run_lifecycle_scenario reports it as the reason.
  return R{true, summary + "; the data read back and I/O goes on"};
}

}  // namespace

Outcome<bool> reconnect_refused(Engine& e, const std::string& connect_error) {
  BackendProcess* backend = e.backend_process();
  if (!backend)
    return R::fail("reconnect: " + connect_error +
                   " (did the back-end exit? with --backend-command vhostscope tells an exit "
                   "from a crash)");
  std::string how;
  if (backend->running(&how)) return R::fail("reconnect: " + connect_error);
  if (backend->exited_cleanly())
    return R::not_supported(fmt::format(
        "the back-end exits when its front-end disconnects ({}): it serves one connection", how));
  return R::fail(fmt::format("reconnect: the back-end ended ({}) when the front-end "
                             "disconnected; {}",
                             how, connect_error));
}

std::string writes_in_flight_unsupported(const Engine& e) {
  if (e.options().device != DeviceKind::Blk)
    return fmt::format("vhostscope has no workload to interrupt for device '{}' yet (blk only)",
                       device_kind_name(e.options().device));
  if (e.options().packed_ring)
    return "the writes in flight are resumed in the split layout only (the resume point and the "
           "inflight buffer are read in the split layout)";
  return "";
}

Outcome<bool> run_backend_crash(Engine& e) { return interrupt_writes(e, Interruption::Crash); }

Outcome<bool> run_reconnect_in_flight(Engine& e) {
  return interrupt_writes(e, Interruption::Disconnect);
}

}  // namespace vhs::exercise
