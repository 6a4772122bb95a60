// Lifecycle spans from the conformance checker's device-status steps.
#include "app/common/view_lifecycle.hpp"

#include <algorithm>

#include "app/common/check_session.hpp"
#include "captures/model/store.hpp"
#include "decoders/vhost_user/features.hpp"

namespace vhs::view {

std::string lifecycle_label(uint8_t status) {
  struct Stage {
    unsigned bit;
    const char* name;
  };
  // Most significant first: a device that failed or needs a reset is that, whatever else is set.
  for (Stage s : {Stage{kStatusFailed, "FAILED"}, Stage{kStatusNeedsReset, "NEEDS_RESET"},
                  Stage{kStatusDriverOk, "DRIVER_OK"}, Stage{kStatusFeaturesOk, "FEATURES_OK"},
                  Stage{kStatusDriver, "DRIVER"}, Stage{kStatusAcknowledge, "ACKNOWLEDGE"}})
    if (status & status_bit(s.bit)) return s.name;
  return "reset";
}

std::vector<LifecycleSpan> lifecycle_spans(std::span<const LifecycleStep> steps, uint64_t end_ns) {
  std::vector<LifecycleSpan> out;
  for (size_t k = 0; k < steps.size(); ++k) {
    const LifecycleStep& step = steps[k];
    LifecycleSpan span;
    span.start = step.timestamp_ns;
    span.end = k + 1 < steps.size() ? steps[k + 1].timestamp_ns : std::max(end_ns, span.start);
    span.status = step.status;
    span.inferred = step.inferred;
    span.entry = static_cast<uint32_t>(step.ref);
    span.label = lifecycle_label(step.status);
    out.push_back(std::move(span));
  }
  return out;
}

std::vector<LifecycleSpan> session_lifecycle(const Store& store, size_t session) {
  if (session >= store.sessions().size()) return {};
  const StoreSession& s = store.sessions()[session];
  if (s.first_entry == kNoEntry) return {};
  return session_lifecycle(store, session, check_store_session(store, s).lifecycle);
}

std::vector<LifecycleSpan> session_lifecycle(const Store& store, size_t session,
                                             std::span<const LifecycleStep> steps) {
  if (session >= store.sessions().size()) return {};
  const StoreSession& s = store.sessions()[session];
  if (s.first_entry == kNoEntry) return {};
  const uint32_t last = s.last_entry != kNoEntry ? s.last_entry : s.first_entry;
  return lifecycle_spans(steps, store.timestamp(last));
}

}  // namespace vhs::view
