// Capture diff: the alignment (against a brute-force LCS), field comparison with its expected-
// difference classes, session diffs of captures written from builder bytes, and `vhostscope diff`
// output and exit codes.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "app/common/diff_format.hpp"
#include "captures/diff/diff_align.hpp"
#include "captures/diff/diff_capture.hpp"
#include "captures/diff/diff_fields.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"
#include "support/capture_write.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using namespace vhs::test;

// ---- alignment ----------------------------------------------------------------------------

size_t lcs_length(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
  return t[a.size()][b.size()];
}

TEST(DiffAlign, SmallExampleDeletesBeforeInserts) {
  const std::vector<uint64_t> a = {1, 2, 3, 4}, b = {1, 3, 4, 5};
  const auto steps = align_sequences(a, b);
  ASSERT_EQ(steps.size(), 5u);
  using K = AlignStep::Kind;
  EXPECT_EQ(steps[0].kind, K::Equal);
  EXPECT_EQ(steps[1].kind, K::Delete);
  EXPECT_EQ(steps[1].a, 1u);
  EXPECT_EQ(steps[2].kind, K::Equal);
  EXPECT_EQ(steps[2].a, 2u);
  EXPECT_EQ(steps[2].b, 1u);
  EXPECT_EQ(steps[3].kind, K::Equal);
  EXPECT_EQ(steps[4].kind, K::Insert);
  EXPECT_EQ(steps[4].b, 3u);
}

TEST(DiffAlign, EmptySides) {
  const std::vector<uint64_t> none, three = {7, 8, 9};
  EXPECT_TRUE(align_sequences(none, none).empty());
  const auto ins = align_sequences(none, three);
  ASSERT_EQ(ins.size(), 3u);
  for (const auto& s : ins) EXPECT_EQ(s.kind, AlignStep::Kind::Insert);
  const auto del = align_sequences(three, none);
  ASSERT_EQ(del.size(), 3u);
  for (const auto& s : del) EXPECT_EQ(s.kind, AlignStep::Kind::Delete);
}

TEST(DiffAlign, RandomSequencesGiveAValidLongestCommonSubsequence) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 400; ++round) {
    std::vector<uint64_t> a(rng() % 40), b(rng() % 40);
    const unsigned alphabet = 1 + rng() % 4;
    for (auto& x : a) x = rng() % alphabet;
    for (auto& x : b) x = rng() % alphabet;
    const auto steps = align_sequences(a, b);
    size_t i = 0, j = 0, equal = 0;
    for (const auto& s : steps) {
      switch (s.kind) {
        case AlignStep::Kind::Equal:
          ASSERT_EQ(s.a, i);
          ASSERT_EQ(s.b, j);
          ASSERT_EQ(a[i], b[j]);
          ++i, ++j, ++equal;
          break;
        case AlignStep::Kind::Delete: ASSERT_EQ(s.a, i++); break;
        case AlignStep::Kind::Insert: ASSERT_EQ(s.b, j++); break;
      }
    }
    ASSERT_EQ(i, a.size());
    ASSERT_EQ(j, b.size());
    ASSERT_EQ(equal, lcs_length(a, b)) << "round " << round;
  }
}

TEST(DiffAlign, LongSimilarSequencesStayFast) {
  std::vector<uint64_t> a(20000), b;
  for (size_t i = 0; i < a.size(); ++i) a[i] = i % 97;
  b = a;
  b.erase(b.begin() + 5000);
  b.insert(b.begin() + 15000, 1000);
  const auto steps = align_sequences(a, b);
  size_t equal = 0, other = 0;
  for (const auto& s : steps) (s.kind == AlignStep::Kind::Equal ? equal : other)++;
  EXPECT_EQ(equal, a.size() - 1);
  EXPECT_EQ(other, 2u);
}

// ---- field comparison --------------------------------------------------------------------

MessageView view(Channel c, const Bytes& bytes, const std::vector<FdInfo>& fds = {}) {
  return MessageView{c, bytes, fds, DecodeContext{}};
}

TEST(DiffFields, FeatureWordIsOneChangeWithBothValues) {
  const Bytes a = reply("GET_FEATURES", u64_payload((1ull << 32) | (1ull << 30)));
  const Bytes b = reply("GET_FEATURES", u64_payload((1ull << 32) | (1ull << 30) | (1ull << 28)));
  const auto changes = compare_messages(view(Channel::Frontend, a), view(Channel::Frontend, b));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "features");
  EXPECT_EQ(changes[0].a, "0x140000000 (PROTOCOL_FEATURES|VERSION_1)");
  EXPECT_EQ(changes[0].b, "0x150000000 (RING_INDIRECT_DESC|PROTOCOL_FEATURES|VERSION_1)");
  EXPECT_FALSE(changes[0].expected);
}

TEST(DiffFields, IdenticalMessagesHaveNoChanges) {
  const Bytes a = request("SET_VRING_ADDR",
                          vring_addr(0, 0, 0x7f0000001000, 0x7f0000003000, 0x7f0000002000, 0x3000));
  EXPECT_TRUE(compare_messages(view(Channel::Frontend, a), view(Channel::Frontend, a)).empty());
}

TEST(DiffFields, FdInodesAndNameDigitsAreIgnoredSizesAndKindsAreNot) {
  const Region r[] = {{0, 1 << 20, 0x7f0000000000, 0}};
  const Bytes m = request("SET_MEM_TABLE", mem_table(r));
  const std::vector<FdInfo> fa = {{FdKind::Memfd, 1111, 1 << 20, "memfd:guest-ram0"}};
  const std::vector<FdInfo> fb = {{FdKind::Memfd, 2222, 1 << 20, "memfd:guest-ram17"}};
  EXPECT_TRUE(
      compare_messages(view(Channel::Frontend, m, fa), view(Channel::Frontend, m, fb)).empty());

  const std::vector<FdInfo> bigger = {{FdKind::Memfd, 2222, 2 << 20, "memfd:guest-ram0"}};
  auto changes =
      compare_messages(view(Channel::Frontend, m, fa), view(Channel::Frontend, m, bigger));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "fd[0]");
  EXPECT_EQ(changes[0].a, "memfd 1.0 MiB 'memfd:guest-ram#'");
  EXPECT_EQ(changes[0].b, "memfd 2.0 MiB 'memfd:guest-ram#'");

  const std::vector<FdInfo> none;
  changes = compare_messages(view(Channel::Frontend, m, fa), view(Channel::Frontend, m, none));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].b, std::string(kAbsent));
}

TEST(DiffFields, AddressPolicies) {
  const Region ra[] = {{0x100000, 1 << 20, 0x7f0000000000, 0}};
  const Region rb[] = {{0x200000, 1 << 20, 0x7f5500000000, 0}};
  const Bytes a = request("SET_MEM_TABLE", mem_table(ra)),
              b = request("SET_MEM_TABLE", mem_table(rb));

  auto changes = compare_messages(view(Channel::Frontend, a), view(Channel::Frontend, b));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].path, "region[0].gpa");
  EXPECT_EQ(changes[1].path, "region[0].uva");
  EXPECT_EQ(real_change_count(changes), 2u);

  CompareOptions o;
  o.addresses = AddressPolicy::ExpectUserspace;
  changes = compare_messages(view(Channel::Frontend, a), view(Channel::Frontend, b), o);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_FALSE(changes[0].expected);
  EXPECT_TRUE(changes[1].expected);
  EXPECT_EQ(real_change_count(changes), 1u);

  o.addresses = AddressPolicy::ExpectAll;
  changes = compare_messages(view(Channel::Frontend, a), view(Channel::Frontend, b), o);
  EXPECT_EQ(real_change_count(changes), 0u);
}

TEST(DiffFields, ExpectedPathsAndSizeChanges) {
  const Bytes a = reply("GET_VRING_BASE", vring_state(0, 20)),
              b = reply("GET_VRING_BASE", vring_state(0, 0));
  CompareOptions o;
  o.expected_paths = {"vring_state.num"};
  o.expected_reason = "ring progress";
  auto changes = compare_messages(view(Channel::Frontend, a), view(Channel::Frontend, b), o);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].expected);
  EXPECT_EQ(changes[0].why, "ring progress");

  // A payload of another size: the header size and the missing field both show.
  const Bytes shorter = reply("GET_VRING_BASE", Bytes{0, 0, 0, 0});
  changes = compare_messages(view(Channel::Frontend, a), view(Channel::Frontend, shorter));
  ASSERT_GE(changes.size(), 2u);
  EXPECT_EQ(changes[0].path, "header.size");
  EXPECT_EQ(changes[0].a, "8");
  EXPECT_EQ(changes[0].b, "4");
}

TEST(DiffFields, TypedValuesBitWordsAndCurrentPaths) {
  // A bit word is one change (not one per bit child); equal values are no change.
  const Bytes plain = request("SET_VRING_NUM", vring_state(0, 256));
  const Bytes acked = request("SET_VRING_NUM", vring_state(0, 256), true);
  auto changes = compare_messages(view(Channel::Frontend, plain), view(Channel::Frontend, acked));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "header.flags");
  EXPECT_EQ(changes[0].a, "0x1 (version 1)");
  EXPECT_EQ(changes[0].b, "0x9 (version 1, NEED_REPLY)");
  EXPECT_TRUE(
      compare_messages(view(Channel::Frontend, plain), view(Channel::Frontend, plain)).empty());
  // The kick word is compared whole as well; its index/nofd children are not repeated.
  const Bytes kick0 = request("SET_VRING_KICK", vring_index_fd(0));
  const Bytes kick1 = request("SET_VRING_KICK", vring_index_fd(1, true));
  changes = compare_messages(view(Channel::Frontend, kick0), view(Channel::Frontend, kick1));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "vring");
  // Expected paths in the current names.
  CompareOptions o;
  o.expected_paths = {"vring.num"};
  const Bytes other = request("SET_VRING_NUM", vring_state(0, 128));
  changes = compare_messages(view(Channel::Frontend, plain), view(Channel::Frontend, other), o);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "vring.num");
  EXPECT_TRUE(changes[0].expected);
}

TEST(DiffFields, NormalizeFdName) {
  EXPECT_EQ(normalize_fd_name("memfd:vhost-inflight-1234"), "memfd:vhost-inflight-#");
  EXPECT_EQ(normalize_fd_name("socket:[98765]"), "socket:[#]");
  EXPECT_EQ(normalize_fd_name("anon_inode:[eventfd]"), "anon_inode:[eventfd]");
}

// ---- captures -----------------------------------------------------------------------------

struct Variant {
  uint64_t features = (1ull << 32) | (1ull << 30) | (1ull << 29);
  uint32_t queue_size = 256;
  uint64_t uva = 0x7f0000000000;
  uint64_t inode_base = 100;
  std::string memfd = "memfd:guest-ram0";
  uint64_t time_base = 1'700'000'000'000'000'000ull;
  bool extra_get_features = false;
};

std::vector<Record> startup_records(const Variant& v) {
  RecordList out(v.time_base);
  const auto F = Direction::ToBackend, B = Direction::ToFrontend;
  const std::string note = "front-end connected";
  out.add(RecordKind::Connect, F, Bytes(note.begin(), note.end()));
  out.add(RecordKind::Message, F, request("GET_FEATURES"));
  out.add(RecordKind::Message, B, reply("GET_FEATURES", u64_payload(v.features)));
  out.add(RecordKind::Message, F, request("SET_OWNER"));
  if (v.extra_get_features) {
    out.add(RecordKind::Message, F, request("GET_FEATURES"));
    out.add(RecordKind::Message, B, reply("GET_FEATURES", u64_payload(v.features)));
  }
  out.add(RecordKind::Message, F, request("SET_FEATURES", u64_payload(v.features)));
  const Region r[] = {{0, 1 << 20, v.uva, 0}};
  out.add(RecordKind::Message, F, request("SET_MEM_TABLE", mem_table(r)),
          {FdInfo{FdKind::Memfd, v.inode_base, 1 << 20, v.memfd}});
  out.add(RecordKind::Message, F, request("SET_VRING_NUM", vring_state(0, v.queue_size)));
  out.add(RecordKind::Message, F,
          request("SET_VRING_ADDR",
                  vring_addr(0, 0, v.uva + 0x1000, v.uva + 0x3000, v.uva + 0x2000, 0x3000)));
  out.add(RecordKind::Message, F, request("SET_VRING_KICK", vring_index_fd(0)),
          {FdInfo{FdKind::Eventfd, v.inode_base + 1, 0, "anon_inode:[eventfd]"}});
  out.add(RecordKind::Message, F, request("GET_VRING_BASE", vring_state(0, 0)));
  out.add(RecordKind::Message, B, reply("GET_VRING_BASE", vring_state(0, 0)));
  const std::string bye = "front-end closed the connection";
  out.add(RecordKind::Disconnect, F, Bytes(bye.begin(), bye.end()));
  return out.take();
}

void load(const std::string& path, Store& store) {
  std::string warning, error;
  ASSERT_TRUE(load_capture(path, store, warning, error)) << error;
  ASSERT_EQ(warning, "");
}

CaptureDiff diff_files(const std::string& pa, const std::string& pb, DiffOptions o = {}) {
  Store a, b;
  load(pa, a);
  load(pb, b);
  return diff_sessions(a, a.sessions().at(0), b, b.sessions().at(0), o);
}

size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  size_t n = 0, pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (text.compare(pos, prefix.size(), prefix) == 0) ++n;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return n;
}

TEST(DiffCaptures, IdenticalCapturesAreTheSameEvenWithOtherInodesNamesAndTimes) {
  TempDir dir;
  Variant other;
  other.inode_base = 9000;
  other.memfd = "memfd:guest-ram3";
  other.time_base += 5'000'000'000;
  const std::string a = write_capture(dir, "a.pcap", startup_records({}));
  const std::string b = write_capture(dir, "b.pcap", startup_records(other));
  const CaptureDiff d = diff_files(a, b);
  EXPECT_TRUE(d.identical());
  EXPECT_EQ(d.same, 11u);  // 10 messages + the disconnect

  const CommandResult r = run_command({vhostscope_binary(), "diff", a, b}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("diff: no differences (11 records compared)"), std::string::npos) << r.out;
  EXPECT_EQ(count_lines_starting(r.out, "@@"), 0u);
}

TEST(DiffCaptures, ChangedCaptureShowsExactlyTheChangedFields) {
  TempDir dir;
  Variant changed;
  changed.features |= 1ull << 28;  // RING_INDIRECT_DESC
  changed.queue_size = 128;
  const std::string a = write_capture(dir, "a.pcap", startup_records({}));
  const std::string b = write_capture(dir, "b.pcap", startup_records(changed));

  const CaptureDiff d = diff_files(a, b);
  EXPECT_EQ(d.changed, 3u);  // GET_FEATURES reply, SET_FEATURES, SET_VRING_NUM
  EXPECT_EQ(d.only_a, 0u);
  EXPECT_EQ(d.only_b, 0u);
  std::vector<std::string> paths;
  for (const DiffOp& op : d.ops)
    for (const FieldChange& c : op.changes) paths.push_back(c.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"features", "features", "vring.num"}));

  const CommandResult r = run_command({vhostscope_binary(), "diff", a, b}, dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines_starting(r.out, "! "), 3u) << r.out;
  EXPECT_EQ(count_lines_starting(r.out, "-     "), 3u) << r.out;
  EXPECT_EQ(count_lines_starting(r.out, "+     "), 3u) << r.out;
  EXPECT_NE(r.out.find("-     vring.num: 256\n+     vring.num: 128\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-     features: 0x160000000 (RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1)\n"
                       "+     features: 0x170000000 "
                       "(RING_INDIRECT_DESC|RING_EVENT_IDX|PROTOCOL_FEATURES|VERSION_1)\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("diff: 3 changed, 0 only in a, 0 only in b, 8 same"), std::string::npos)
      << r.out;
}

TEST(DiffCaptures, InsertedMessagesAreAlignedAround) {
  TempDir dir;
  Variant extra;
  extra.extra_get_features = true;
  const std::string a = write_capture(dir, "a.pcap", startup_records({}));
  const std::string b = write_capture(dir, "b.pcap", startup_records(extra));
  const CaptureDiff d = diff_files(a, b);
  EXPECT_EQ(d.only_b, 2u);
  EXPECT_EQ(d.only_a, 0u);
  EXPECT_EQ(d.changed, 0u);
  EXPECT_EQ(d.same, 11u);

  const CommandResult r = run_command({vhostscope_binary(), "diff", a, b, "-U", "1"}, dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines_starting(r.out, "+ "), 2u) << r.out;
  EXPECT_NE(r.out.find("+          b#5      F→B fe GET_FEATURES"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("@@ a #4..#5 b #4..#7 @@"), std::string::npos)
      << r.out;  // one context record each side
}

TEST(DiffCaptures, AddressesCountUnlessIgnored) {
  TempDir dir;
  Variant moved;
  moved.uva = 0x7f5500000000;
  const std::string a = write_capture(dir, "a.pcap", startup_records({}));
  const std::string b = write_capture(dir, "b.pcap", startup_records(moved));
  const CaptureDiff d = diff_files(a, b);
  EXPECT_EQ(d.changed, 2u);  // SET_MEM_TABLE userspace_addr, SET_VRING_ADDR ring addresses

  DiffOptions ignore;
  ignore.addresses = AddressPolicy::ExpectAll;
  EXPECT_TRUE(diff_files(a, b, ignore).identical());

  EXPECT_EQ(run_command({vhostscope_binary(), "diff", a, b}, dir.path()).exit_code, 1);
  const CommandResult r =
      run_command({vhostscope_binary(), "diff", a, b, "--ignore-addresses"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const CommandResult shown =
      run_command({vhostscope_binary(), "diff", a, b, "--ignore-addresses", "-e"}, dir.path());
  EXPECT_EQ(shown.exit_code, 0);
  EXPECT_EQ(count_lines_starting(shown.out, "~     "), 4u)
      << shown.out;  // region UVA + 3 ring addresses
}

TEST(DiffCaptures, Errors) {
  TempDir dir;
  const std::string a = write_capture(dir, "a.pcap", startup_records({}));
  CommandResult r = run_command({vhostscope_binary(), "diff", a, dir / "missing.pcap"}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot open capture"), std::string::npos) << r.err;
  r = run_command({vhostscope_binary(), "diff", a, a, "--session", "1", "9"}, dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no session 9"), std::string::npos) << r.err;
  r = run_command({vhostscope_binary(), "diff", a, a, "--session", "1,1"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace vhs
