// The conformance checker run on ingest (Store::Options::check_conformance, what summary and
// check use) against the same checker fed by replaying each session afterwards: the same
// violations, in the same order, with the same texts, and the same device status steps, over
// every shipped and hostile capture, whole and cut part-way (a live store asked mid-capture).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "app/common/check_session.hpp"
#include "captures/model/store.hpp"
#include "support/capture_read.hpp"

namespace vhs {
namespace {

Store store_of(const std::vector<Record>& records, size_t count, bool check_on_ingest) {
  Store::Options options;
  options.check_conformance = check_on_ingest;
  Store store(options);
  for (size_t i = 0; i < count; ++i) store.append(records[i]);
  return store;
}

void expect_same_checks(const Store& on_ingest, const Store& replayed, const std::string& what) {
  ASSERT_EQ(on_ingest.sessions().size(), replayed.sessions().size()) << what;
  for (size_t s = 0; s < on_ingest.sessions().size(); ++s) {
    ASSERT_TRUE(on_ingest.sessions()[s].checker.has_value()) << what;
    ASSERT_FALSE(replayed.sessions()[s].checker.has_value()) << what;
    const SessionCheck a = check_store_session(on_ingest, on_ingest.sessions()[s]);
    const SessionCheck b = check_store_session(replayed, replayed.sessions()[s]);
    ASSERT_EQ(a.violations.size(), b.violations.size()) << what << " session " << s;
    for (size_t v = 0; v < a.violations.size(); ++v) {
      const Violation &x = a.violations[v], &y = b.violations[v];
      EXPECT_EQ(x.rule, y.rule) << what << " violation " << v;
      EXPECT_EQ(x.blamed, y.blamed) << what << " violation " << v;
      EXPECT_EQ(x.message, y.message) << what << " violation " << v;
      EXPECT_EQ(x.related, y.related) << what << " violation " << v;
      EXPECT_EQ(x.timestamp_ns, y.timestamp_ns) << what << " violation " << v;
      EXPECT_EQ(x.expected, y.expected) << what << " violation " << v;
      EXPECT_EQ(x.observed, y.observed) << what << " violation " << v;
    }
    ASSERT_EQ(a.lifecycle.size(), b.lifecycle.size()) << what << " session " << s;
    for (size_t l = 0; l < a.lifecycle.size(); ++l) {
      EXPECT_EQ(a.lifecycle[l].ref, b.lifecycle[l].ref) << what << " step " << l;
      EXPECT_EQ(a.lifecycle[l].status, b.lifecycle[l].status) << what << " step " << l;
      EXPECT_EQ(a.lifecycle[l].inferred, b.lifecycle[l].inferred) << what << " step " << l;
    }
  }
}

TEST(CheckOnIngest, SameViolationsAsAReplayOverEveryShippedCapture) {
  size_t violations = 0;
  for (const std::string& path : test::shipped_and_hostile_captures()) {
    const std::vector<Record> records = test::read_capture(path).records;
    Store on_ingest = store_of(records, records.size(), true);
    Store replayed = store_of(records, records.size(), false);
    on_ingest.finish();
    replayed.finish();
    expect_same_checks(on_ingest, replayed, path);
    for (const StoreSession& s : on_ingest.sessions())
      violations += check_store_session(on_ingest, s).violations.size();
  }
  // The comparison compared something: the hang and the hostile captures break rules.
  EXPECT_GE(violations, 10u);
}

TEST(CheckOnIngest, AStoreAskedPartWayMatchesAReplayOfWhatItHolds) {
  for (const std::string& path : test::shipped_and_hostile_captures()) {
    const std::vector<Record> records = test::read_capture(path).records;
    for (size_t cut : {records.size() / 3, records.size() / 2}) {
      Store on_ingest = store_of(records, cut, true);
      Store replayed = store_of(records, cut, false);
      expect_same_checks(on_ingest, replayed, path + " cut at " + std::to_string(cut));
      // Asking did not finish the store's own checker: the rest of the records still count.
      for (size_t i = cut; i < records.size(); ++i) {
        on_ingest.append(records[i]);
        replayed.append(records[i]);
      }
      expect_same_checks(on_ingest, replayed, path + " after the cut");
    }
  }
}

}  // namespace
}  // namespace vhs
