#include "proxy/exercise/io_probe.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vhs::exercise {
namespace {

class ChainProbe : public IoProbe {
 public:
  ChainProbe(const ProbeContext& ctx, ProbeRequestFn request, ProbeCheckFn check)
      : ctx_(ctx), request_(request), check_(check) {}

  unsigned unit_count() const override { return ctx_.io.queue_count(); }
  std::vector<unsigned> queues(unsigned unit) const override { return {unit}; }

  std::string round_trip(unsigned queue) override {
    const ChainRequest req = request_();
    auto r = ctx_.io.transact(queue, std::span<const ChainRequest>(&req, 1), ctx_.timeout);
    if (!r) return r.error;
    return checked(queue, r.value->front());
  }

  std::string put_in_flight(unsigned queue, size_t count) override {
    const std::vector<ChainRequest> reqs(count, request_());
    auto tokens = ctx_.io.post(queue, reqs);
    if (!tokens) return tokens.error;
    posted_ = std::move(*tokens.value);
    return "";
  }

  std::string settle_in_flight(unsigned queue) override {
    // Every chain completes exactly once (the driver rejects a repeated or unknown id); chains an
    // earlier check left behind (one that timed out) are waited for too, but only the probes
    // posted here are checked for their content.
    auto used = ctx_.io.wait_used(queue, ctx_.io.in_flight(queue), ctx_.timeout);
    if (!used) return used.error;
    for (const ChainCompletion& c : *used.value) {
      if (std::find(posted_.begin(), posted_.end(), c.token) == posted_.end()) continue;
      if (std::string why = checked(queue, c); !why.empty()) return why;
    }
    return "";
  }

 private:
  std::string checked(unsigned queue, const ChainCompletion& c) const {
    const std::string why = check_(c);
    return why.empty() ? why : fmt::format("queue {}: {}", queue, why);
  }

  ProbeContext ctx_;
  ProbeRequestFn request_;
  ProbeCheckFn check_;
  std::vector<uint64_t> posted_;
};

}  // namespace

std::unique_ptr<IoProbe> make_chain_probe(const ProbeContext& ctx, ProbeRequestFn request,
                                          ProbeCheckFn check) {
  return std::make_unique<ChainProbe>(ctx, request, check);
}

}  // namespace vhs::exercise
