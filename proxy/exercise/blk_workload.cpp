#include "proxy/exercise/blk_workload.hpp"

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "decoders/virtio/ring_detail.hpp"

namespace vhs::exercise {
namespace {

// VIRTIO "Block Device", "Device Operation": request types and status values.
constexpr uint32_t kIn = 0, kOut = 1, kFlush = 4, kGetId = 8, kDiscard = 11, kWriteZeroes = 13;
constexpr uint8_t kStatusOk = 0, kStatusIoErr = 1;
constexpr uint32_t kSector = 512;
constexpr uint32_t kIdBytes = 20;  // VIRTIO_BLK_ID_BYTES
// Feature bits ("Feature bits").
constexpr unsigned kFeatRo = 5, kFeatBlkSize = 6, kFeatFlush = 9, kFeatDiscard = 13,
                   kFeatWriteZeroes = 14;

bool has(const WorkloadContext& ctx, unsigned b) { return (ctx.virtio_features >> b) & 1; }

std::vector<uint8_t> header(uint32_t type, uint64_t sector) {
  std::vector<uint8_t> h(16, 0);
  std::memcpy(h.data(), &type, 4);
  std::memcpy(h.data() + 8, &sector, 8);
  return h;
}

// The discard / write-zeroes segment: sector, num_sectors, flags (bit 0: unmap).
std::vector<uint8_t> segment(uint64_t sector, uint32_t sectors, uint32_t flags) {
  std::vector<uint8_t> s(16, 0);
  std::memcpy(s.data(), &sector, 8);
  std::memcpy(s.data() + 8, &sectors, 4);
  std::memcpy(s.data() + 12, &flags, 4);
  return s;
}

ChainRequest read_request(uint64_t sector, uint32_t bytes) {
  return ChainRequest{{header(kIn, sector)}, {bytes, 1}};
}
ChainRequest write_request(uint64_t sector, std::vector<uint8_t> data) {
  return ChainRequest{{header(kOut, sector), std::move(data)}, {1}};
}

uint8_t status_of(const ChainCompletion& c) {
  return c.written.empty() || c.written.back().empty() ? 0xff : c.written.back()[0];
}

std::string status_text(uint8_t s) {
  const std::string_view name = blk_status_name(s);
  return name.empty() ? fmt::format("status {}", s) : fmt::format("status {}", name);
}

std::vector<uint8_t> pattern(uint64_t sector, unsigned queue, uint32_t bytes, uint64_t round) {
  std::vector<uint8_t> p(bytes);
  for (uint32_t i = 0; i < bytes; ++i)
    p[i] = static_cast<uint8_t>((sector * 131 + queue * 17 + round * 7 + i * 31 + (i >> 8)) ^ 0x5a);
  return p;
}

std::string first_difference(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got) {
  for (size_t i = 0; i < want.size() && i < got.size(); ++i)
    if (want[i] != got[i])
      return fmt::format("byte {} is 0x{:02x}, wrote 0x{:02x}", i, got[i], want[i]);
  return want.size() == got.size() ? "" : "lengths differ";
}

class Checks {
 public:
  explicit Checks(WorkloadContext& ctx) : ctx_(ctx) {}

  void begin(std::string id, std::string what) {
    current_ = CheckOutcome{};
    current_.id = std::move(id);
    current_.what = std::move(what);
    current_.first_record = ctx_.io.records_written() + 1;
  }
  void finish(Verdict v, std::string reason = {}) {
    current_.verdict = v;
    current_.reason = std::move(reason);
    current_.last_record = ctx_.io.records_written();
    if (v == Verdict::Unsupported) current_.first_record = current_.last_record = 0;
    out_.push_back(std::move(current_));
  }
  std::vector<CheckOutcome> take() { return std::move(out_); }

 private:
  WorkloadContext& ctx_;
  CheckOutcome current_;
  std::vector<CheckOutcome> out_;
};

// One chain on `queue`; the completion or why there is none.
Outcome<ChainCompletion> one(WorkloadContext& ctx, unsigned queue, ChainRequest request) {
  auto r = ctx.io.transact(queue, std::span<const ChainRequest>(&request, 1), ctx.timeout);
  if (!r) return Outcome<ChainCompletion>::fail(r.error);
  return Outcome<ChainCompletion>::ok(std::move(r.value->front()));
}

uint64_t capacity_sectors(const WorkloadContext& ctx) {
  uint64_t c = 0;
  if (ctx.config.size() >= 8) std::memcpy(&c, ctx.config.data(), 8);
  return c;
}

uint32_t block_size(const WorkloadContext& ctx) {
  uint32_t b = 0;
  if (has(ctx, kFeatBlkSize) && ctx.config.size() >= 24) std::memcpy(&b, ctx.config.data() + 20, 4);
  return b >= kSector && b <= 65536 && (b & (b - 1)) == 0 ? b : 4096;
}

std::string ro_note(const WorkloadContext& ctx) {
  return has(ctx, kFeatRo) ? " (the device offers RO: it is read-only)" : "";
}

// Writes `data` at `sector` then reads it back on `queue`: "" or what went wrong.
std::string write_read_back(WorkloadContext& ctx, unsigned queue, uint64_t sector,
                            const std::vector<uint8_t>& data) {
  auto w = one(ctx, queue, write_request(sector, data));
  if (!w) return w.error;
  if (status_of(*w.value) != kStatusOk)
    return fmt::format("write of {} bytes at sector {}: {}{}", data.size(), sector,
                       status_text(status_of(*w.value)), ro_note(ctx));
  auto r = one(ctx, queue, read_request(sector, static_cast<uint32_t>(data.size())));
  if (!r) return r.error;
  if (status_of(*r.value) != kStatusOk)
    return fmt::format("read back at sector {}: {}", sector, status_text(status_of(*r.value)));
  const std::string diff = first_difference(data, r.value->written[0]);
  if (!diff.empty()) return fmt::format("read back at sector {}: {}", sector, diff);
  return "";
}

// `depth` writes in flight on every queue at once, then as many reads, compared.
std::string depth_round(WorkloadContext& ctx, uint64_t base_sector, uint32_t bytes,
                        uint64_t round) {
  const unsigned depth = std::max(1u, ctx.queue_depth);
  const uint64_t per_request = bytes / kSector;
  for (unsigned q = 0; q < ctx.io.queue_count(); ++q) {
    std::vector<ChainRequest> writes, reads;
    std::vector<std::vector<uint8_t>> expected;
    for (unsigned i = 0; i < depth; ++i) {
      const uint64_t sector = base_sector + (uint64_t{q} * depth + i) * per_request;
      expected.push_back(pattern(sector, q, bytes, round));
      writes.push_back(write_request(sector, expected.back()));
      reads.push_back(read_request(sector, bytes));
    }
    auto w = ctx.io.transact(q, writes, ctx.timeout);
    if (!w) return w.error;
    for (unsigned i = 0; i < depth; ++i)
      if (status_of((*w.value)[i]) != kStatusOk)
        return fmt::format("queue {}: write {} of {}: {}{}", q, i + 1, depth,
                           status_text(status_of((*w.value)[i])), ro_note(ctx));
    auto r = ctx.io.transact(q, reads, ctx.timeout);
    if (!r) return r.error;
    for (unsigned i = 0; i < depth; ++i) {
      if (status_of((*r.value)[i]) != kStatusOk)
        return fmt::format("queue {}: read {} of {}: {}", q, i + 1, depth,
                           status_text(status_of((*r.value)[i])));
      const std::string diff = first_difference(expected[i], (*r.value)[i].written[0]);
      if (!diff.empty())
        return fmt::format("queue {}: request {} of {} read back: {}", q, i + 1, depth, diff);
    }
  }
  return "";
}

}  // namespace

ChainRequest blk_write_request(uint64_t sector, std::vector<uint8_t> data) {
  return write_request(sector, std::move(data));
}
ChainRequest blk_read_request(uint64_t sector, uint32_t bytes) {
  return read_request(sector, bytes);
}
uint8_t blk_status(const ChainCompletion& completion) { return status_of(completion); }

ChainRequest blk_probe_request() { return read_request(0, kSector); }

std::string blk_probe_check(const ChainCompletion& c) {
  return status_of(c) == kStatusOk ? "" : "read of sector 0: " + status_text(status_of(c));
}

std::vector<CheckOutcome> run_blk_workload(WorkloadContext& ctx) {
  Checks checks(ctx);
  const uint64_t capacity = capacity_sectors(ctx);
  const uint32_t bsize = block_size(ctx);
  const uint64_t bsectors = bsize / kSector;
  // Data checks write in the second half of the disk (away from any partition table), aligned
  // to the block size; small disks are written from sector 8 on.
  const uint64_t data_base = capacity >= 4096 ? (capacity / 2) / bsectors * bsectors : 8;

  checks.begin("blk.get-id", "GET_ID returns the device id (VIRTIO \"Device Operation\")");
  {
    auto r = one(ctx, 0, ChainRequest{{header(kGetId, 0)}, {kIdBytes, 1}});
    if (!r)
      checks.finish(Verdict::Fail, r.error);
    else if (status_of(*r.value) != kStatusOk)
      checks.finish(Verdict::Fail, "GET_ID: " + status_text(status_of(*r.value)));
    else
      checks.finish(Verdict::Pass);
  }

  checks.begin("blk.read", "read 4 KiB at sector 0, status OK (VIRTIO \"Device Operation\")");
  {
    auto r = one(ctx, 0, read_request(0, 4096));
    if (!r)
      checks.finish(Verdict::Fail, r.error);
    else if (status_of(*r.value) != kStatusOk)
      checks.finish(Verdict::Fail, "read at sector 0: " + status_text(status_of(*r.value)));
    else
      checks.finish(Verdict::Pass);
  }

  checks.begin("blk.write-read",
               "write 8 KiB, read it back and compare (VIRTIO \"Device Operation\")");
  {
    const std::string why = write_read_back(ctx, 0, data_base, pattern(data_base, 0, 8192, 0));
    checks.finish(why.empty() ? Verdict::Pass : Verdict::Fail, why);
  }

  checks.begin("blk.flush", "FLUSH completes with status OK (VIRTIO \"Device Operation\")");
  if (!has(ctx, kFeatFlush)) {
    checks.finish(Verdict::Unsupported, "the device does not offer VIRTIO_BLK_F_FLUSH");
  } else {
    auto r = one(ctx, 0, ChainRequest{{header(kFlush, 0)}, {1}});
    if (!r)
      checks.finish(Verdict::Fail, r.error);
    else
      checks.finish(
          status_of(*r.value) == kStatusOk ? Verdict::Pass : Verdict::Fail,
          status_of(*r.value) == kStatusOk ? "" : "FLUSH: " + status_text(status_of(*r.value)));
  }

  const uint64_t zero_sector = data_base + 64;
  checks.begin("blk.write-zeroes",
               "WRITE_ZEROES then read back zeroes (VIRTIO \"Device Operation\")");
  if (!has(ctx, kFeatWriteZeroes)) {
    checks.finish(Verdict::Unsupported, "the device does not offer VIRTIO_BLK_F_WRITE_ZEROES");
  } else {
    std::string why = write_read_back(ctx, 0, zero_sector, pattern(zero_sector, 0, bsize, 1));
    if (why.empty()) {
      auto z = one(ctx, 0,
                   ChainRequest{{header(kWriteZeroes, 0),
                                 segment(zero_sector, static_cast<uint32_t>(bsectors), 0)},
                                {1}});
      if (!z)
        why = z.error;
      else if (status_of(*z.value) != kStatusOk)
        why = "WRITE_ZEROES: " + status_text(status_of(*z.value)) + ro_note(ctx);
    }
    if (why.empty()) {
      auto r = one(ctx, 0, read_request(zero_sector, bsize));
      if (!r)
        why = r.error;
      else if (status_of(*r.value) != kStatusOk)
        why = "read after WRITE_ZEROES: " + status_text(status_of(*r.value));
      else
        why = first_difference(std::vector<uint8_t>(bsize, 0), r.value->written[0]);
      if (!why.empty() && why.starts_with("byte")) why = "read after WRITE_ZEROES: " + why;
    }
    checks.finish(why.empty() ? Verdict::Pass : Verdict::Fail, why);
  }

  checks.begin("blk.discard", "DISCARD completes with status OK (VIRTIO \"Device Operation\")");
  if (!has(ctx, kFeatDiscard)) {
    checks.finish(Verdict::Unsupported, "the device does not offer VIRTIO_BLK_F_DISCARD");
  } else {
    auto r = one(
        ctx, 0,
        ChainRequest{
            {header(kDiscard, 0), segment(zero_sector, static_cast<uint32_t>(bsectors), 0)}, {1}});
    if (!r)
      checks.finish(Verdict::Fail, r.error);
    else if (status_of(*r.value) != kStatusOk)
      checks.finish(Verdict::Fail, "DISCARD: " + status_text(status_of(*r.value)) + ro_note(ctx));
    else
      checks.finish(Verdict::Pass);
  }

  checks.begin("blk.last-sector", "read the last sector, status OK (capacity from GET_CONFIG)");
  if (capacity == 0) {
    checks.finish(Verdict::Unsupported,
                  "no capacity known: the back-end does not offer the CONFIG protocol feature");
  } else {
    auto r = one(ctx, 0, read_request(capacity - 1, kSector));
    if (!r)
      checks.finish(Verdict::Fail, r.error);
    else if (status_of(*r.value) != kStatusOk)
      checks.finish(Verdict::Fail, fmt::format("read at the last sector {}: {}", capacity - 1,
                                               status_text(status_of(*r.value))));
    else
      checks.finish(Verdict::Pass);
  }

  checks.begin("blk.past-end",
               "a read past the end fails with IOERR (VIRTIO \"Device Operation\")");
  if (capacity == 0) {
    checks.finish(Verdict::Unsupported,
                  "no capacity known: the back-end does not offer the CONFIG protocol feature");
  } else {
    auto r = one(ctx, 0, read_request(capacity, kSector));
    if (!r)
      checks.finish(Verdict::Fail, r.error);
    else if (status_of(*r.value) != kStatusIoErr)
      checks.finish(Verdict::Fail, fmt::format("read at sector {} (the capacity): {}, expected "
                                               "IOERR",
                                               capacity, status_text(status_of(*r.value))));
    else
      checks.finish(Verdict::Pass);
  }

  checks.begin("blk.queue-depth",
               fmt::format("{} writes then {} reads in flight on each of {} queue(s), compared",
                           std::max(1u, ctx.queue_depth), std::max(1u, ctx.queue_depth),
                           ctx.io.queue_count()));
  {
    const uint32_t bytes = std::max<uint32_t>(bsize, 4096);
    const uint64_t base = data_base + 256;
    const uint64_t need =
        base + uint64_t{ctx.io.queue_count()} * std::max(1u, ctx.queue_depth) * (bytes / kSector);
    std::string why;
    if (capacity != 0 && need > capacity) {
      why = fmt::format("the disk ({} sectors) is too small for queue depth {} on {} queues",
                        capacity, ctx.queue_depth, ctx.io.queue_count());
    } else {
      const auto until = std::chrono::steady_clock::now() + ctx.duration;
      uint64_t round = 0;
      do {
        why = depth_round(ctx, base, bytes, round++);
      } while (why.empty() && std::chrono::steady_clock::now() < until);
    }
    checks.finish(why.empty() ? Verdict::Pass : Verdict::Fail, why);
  }
  return checks.take();
}

}  // namespace vhs::exercise
