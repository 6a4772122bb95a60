// Fuzz target 6: the GUI filter parser (app/common/view_filter), also behind `-Y`. Input: the
// filter text as typed. A filter that parses is described and evaluated against every entry of a
// shipped capture (blk-hang.pcap: requests, replies, findings, ring states, a hang).
// Properties: an error points inside the text; the description of a parsed filter is not empty.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app/common/view_filter.hpp"
#include "captures/model/store.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace vhs;

const Store& sample_store() {
  static const Store store = [] {
    Store s;
    std::string warning, error;
    if (!load_capture(VHS_SOURCE_DIR "/captures/samples/blk-hang.pcap", s, warning, error)) {
      std::fprintf(stderr, "fuzz_view_filter: %s\n", error.c_str());
      std::abort();
    }
    return s;
  }();
  return store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  view::FilterError error;
  const auto filter = view::Filter::parse(text, error);
  if (!filter) {
    VHS_FUZZ_CHECK(!error.message.empty());
    VHS_FUZZ_CHECK(error.position <= text.size());
    return 0;
  }
  VHS_FUZZ_CHECK(!filter->describe().empty());
  fuzz::consume(filter->text());
  const Store& store = sample_store();
  size_t matched = 0;
  for (size_t i = 0; i < store.size(); ++i) matched += filter->matches(store, i);
  VHS_FUZZ_CHECK(!filter->match_all() || matched == store.size());
  return 0;
}
