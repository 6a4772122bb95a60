// Fuzz-style robustness: random, truncated and bit-flipped messages on both channels must decode
// without crashing (run under ASan/UBSan), and every field the tree reports must lie inside the
// bytes it was given. Deterministic seeds so a failure reproduces.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "decoders/vhost_user/message.hpp"

namespace vhs {
namespace {

using Bytes = std::vector<uint8_t>;

void check_one(Channel c, const Bytes& b, size_t nfds, const DecodeContext& ctx) {
  std::vector<FdInfo> fds(nfds);
  for (size_t i = 0; i < nfds; ++i) fds[i].kind = static_cast<FdKind>(i % 8);  // 7 is out of range
  const DecodedMessage m = decode_message(c, b, fds, ctx);
  EXPECT_EQ(m.fd_count, nfds);
  EXPECT_EQ(m.header_complete, b.size() >= kHeaderSize);
  for (const Finding& f : m.findings) EXPECT_FALSE(finding_info(f.code).id.empty());
  if (m.info) {
    EXPECT_EQ(m.info->number, m.header.request);
  }
  const auto fields = describe_fields(m, b, fds, ctx);
  ASSERT_FALSE(fields.empty());
  for (const Field& f : fields) {
    EXPECT_LE(uint64_t{f.offset} + f.length, b.size()) << f.path;
    EXPECT_FALSE(f.path.empty());
  }
  (void)summarize_payload(m, ctx);
  (void)m.name();
}

DecodeContext random_ctx(std::mt19937_64& rng) {
  DecodeContext ctx;
  ctx.protocol_features_known = rng() & 1;
  ctx.protocol_features = rng();
  ctx.device = static_cast<DeviceKind>(std::array<uint8_t, 7>{0, 1, 2, 26, 19, 16, 8}[rng() % 7]);
  return ctx;
}

TEST(DecodeFuzz, RandomBytes) {
  std::mt19937_64 rng(0x5eed);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 600);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    check_one(rng() & 1 ? Channel::Backend : Channel::Frontend, b, rng() % 40, random_ctx(rng));
  }
}

// Valid-looking headers (known request numbers, plausible flags) with random sizes and payloads:
// reaches every payload decoder with short, long and inconsistent lengths.
TEST(DecodeFuzz, PlausibleHeadersRandomPayloads) {
  std::mt19937_64 rng(0xfeed);
  const uint32_t flags[] = {0x1, 0x5, 0x9, 0xd, 0x0, 0x11, 0xffffffff};
  for (int i = 0; i < 40000; ++i) {
    const uint32_t request = static_cast<uint32_t>(rng() % 47);
    const uint32_t flag = flags[rng() % std::size(flags)];
    const size_t len = rng() % 4 == 0 ? rng() % 2100 : rng() % 80;
    uint32_t size = static_cast<uint32_t>(len);
    switch (rng() % 6) {
      case 0: size = static_cast<uint32_t>(rng()); break;             // anything, often huge
      case 1: size = static_cast<uint32_t>(len + rng() % 16); break;  // truncated
      case 2:
        if (len) size = static_cast<uint32_t>(len - 1 - rng() % len);
        break;  // trailing
      default: break;
    }
    Bytes b(12 + len);
    std::memcpy(b.data(), &request, 4);
    std::memcpy(b.data() + 4, &flag, 4);
    std::memcpy(b.data() + 8, &size, 4);
    for (size_t j = 12; j < b.size(); ++j) b[j] = rng() % 3 == 0 ? static_cast<uint8_t>(rng()) : 0;
    if (len >= 4 && rng() % 2) {  // small first word: plausible nregions / index values
      const uint32_t small = static_cast<uint32_t>(rng() % 12);
      std::memcpy(b.data() + 12, &small, 4);
    }
    check_one(rng() & 1 ? Channel::Backend : Channel::Frontend, b, rng() % 12, random_ctx(rng));
  }
}

// Every prefix and every single-bit flip of a few well-formed messages.
TEST(DecodeFuzz, TruncationsAndBitFlips) {
  auto msg = [](uint32_t req, uint32_t flags, Bytes payload) {
    Bytes b(12);
    const uint32_t size = static_cast<uint32_t>(payload.size());
    std::memcpy(b.data(), &req, 4);
    std::memcpy(b.data() + 4, &flags, 4);
    std::memcpy(b.data() + 8, &size, 4);
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
  };
  Bytes table(8 + 64, 0);
  table[0] = 2;
  table[16] = 0x10;  // region 0 size
  table[48] = 0x10;  // region 1 size
  Bytes config(12 + 16, 0);
  config[4] = 16;
  const std::vector<std::pair<Channel, Bytes>> corpus = {
      {Channel::Frontend, msg(5, 0x9, table)},
      {Channel::Frontend, msg(9, 0x1, Bytes(40, 0x11))},
      {Channel::Frontend, msg(24, 0x5, config)},
      {Channel::Frontend, msg(31, 0x5, Bytes(24, 0x01))},
      {Channel::Frontend, msg(37, 0x9, Bytes(40, 0x02))},
      {Channel::Frontend, msg(44, 0x5, Bytes(8 + 8 * 8, 0x01))},
      {Channel::Backend, msg(3, 0x1, Bytes(24, 0))},
      {Channel::Backend, msg(9, 0x9, Bytes(40, 0x7f))},
  };
  DecodeContext xen;
  xen.protocol_features_known = true;
  xen.protocol_features = ~0ull;
  for (const auto& [channel, bytes] : corpus) {
    for (size_t n = 0; n <= bytes.size(); ++n) {
      const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      check_one(channel, prefix, 1, {});
      check_one(channel, prefix, 2, xen);
    }
    for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
      Bytes flipped = bytes;
      flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      check_one(channel, flipped, bit % 3, {});
    }
  }
}

}  // namespace
}  // namespace vhs
