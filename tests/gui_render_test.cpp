// The real GUI rendered under Xvfb with Mesa: a capture written here from raw message bytes is
// opened by `vhostscope-gui --screenshot`, which renders every view, reads the framebuffer back
// and prints what each view drew. The images must not be blank and the printed counts must match
// the model built here from the same capture with the same view-model code.
#include <gtest/gtest.h>
#if VHS_TEST_HAVE_PNG
#include <png.h>
#endif

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "app/common/stats_format.hpp"
#include "app/common/text_format.hpp"
#include "app/common/view_features.hpp"
#include "app/common/view_filter.hpp"
#include "app/common/view_lifecycle.hpp"
#include "app/common/view_memory.hpp"
#include "app/common/view_plots.hpp"
#include "app/common/view_ring_picture.hpp"
#include "app/common/view_rings.hpp"
#include "app/common/view_sample_fields.hpp"
#include "app/common/view_timeline.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"
#include "decoders/virtio/ring_snapshot.hpp"
#include "support/message_builder.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

using namespace std::chrono_literals;

std::string gui_binary() { return std::string(VHS_BINARY_DIR) + "/vhostscope-gui"; }

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// A private X server on a display number nobody else uses; stopped by PID.
class Xvfb {
 public:
  explicit Xvfb(const std::string& log_dir) {
    const int base = 200 + static_cast<int>(::getpid() % 500);
    for (int n = base; n < base + 30 && !server_; ++n) {
      struct stat st;
      if (::stat(("/tmp/.X" + std::to_string(n) + "-lock").c_str(), &st) == 0) continue;
      auto child = std::make_unique<test::ChildProcess>(
          std::vector<std::string>{"/usr/bin/Xvfb", ":" + std::to_string(n), "-screen", "0",
                                   "1400x900x24", "-nolisten", "tcp"},
          log_dir);
      if (child->started() &&
          test::wait_for_path("/tmp/.X11-unix/X" + std::to_string(n), 15000ms) &&
          child->running()) {
        display_ = ":" + std::to_string(n);
        server_ = std::move(child);
      } else if (child->started()) {
        child->send_signal(SIGTERM);
        child->wait_exit(5000ms);
      }
    }
  }
  ~Xvfb() {
    if (server_) {
      server_->send_signal(SIGTERM);  // lets it remove its lock file and socket
      server_->wait_exit(5000ms);
    }
  }
  const std::string& display() const { return display_; }

 private:
  std::unique_ptr<test::ChildProcess> server_;
  std::string display_;
};

Record rec(test::Bytes bytes, Direction dir, uint64_t t, std::vector<FdInfo> fds = {},
           Channel ch = Channel::Frontend) {
  Record r;
  r.direction = dir;
  r.channel = ch;
  r.session = 1;
  r.timestamp_ns = t;
  r.fds = std::move(fds);
  r.bytes = std::move(bytes);
  return r;
}

// A vhost-user-blk start-up with two queues, a memory table, one bad payload size and a final
// GET_VRING_BASE nobody answers.
std::vector<Record> scenario() {
  const auto F = Direction::ToBackend, B = Direction::ToFrontend;
  const FdInfo ev{FdKind::Eventfd, 10, 0, "anon_inode:[eventfd]"};
  const FdInfo mem{FdKind::Memfd, 11, 1ull << 30, "memfd:pc.ram"};
  std::vector<Record> out;
  uint64_t t = 1'767'225'600'000'000'000ull;
  Record c;
  c.kind = RecordKind::Connect;
  c.session = 1;
  c.timestamp_ns = t;
  const std::string note = "front-end connected";
  c.bytes.assign(note.begin(), note.end());
  out.push_back(c);
  auto next = [&] { return t += 40'000; };
  out.push_back(rec(test::request("GET_FEATURES"), F, next()));
  out.push_back(rec(test::reply("GET_FEATURES", test::u64_payload((1ull << 32) | (1ull << 30) |
                                                                  (1ull << 29) | (1ull << 9))),
                    B, next()));
  out.push_back(rec(test::request("GET_PROTOCOL_FEATURES"), F, next()));
  out.push_back(rec(test::reply("GET_PROTOCOL_FEATURES",
                                test::u64_payload((1ull << 3) | (1ull << 9) | (1ull << 0))),
                    B, next()));
  out.push_back(
      rec(test::request("SET_PROTOCOL_FEATURES", test::u64_payload((1ull << 3) | (1ull << 9))), F,
          next()));
  out.push_back(rec(test::request("SET_OWNER", {}, true), F, next()));
  out.push_back(rec(test::reply("SET_OWNER", test::u64_payload(0)), B, next()));
  out.push_back(
      rec(test::request("SET_FEATURES",
                        test::u64_payload((1ull << 32) | (1ull << 30) | (1ull << 29)), true),
          F, next()));
  out.push_back(rec(test::reply("SET_FEATURES", test::u64_payload(0)), B, next()));
  const test::Region regions[2] = {{0, 1ull << 30, 0x7f0000000000, 0},
                                   {4ull << 30, 1ull << 30, 0x7f8000000000, 1ull << 30}};
  out.push_back(rec(test::request("SET_MEM_TABLE", test::mem_table(regions), true), F, next(),
                    {mem, mem}));  // #11
  out.push_back(rec(test::reply("SET_MEM_TABLE", test::u64_payload(0)), B, next()));
  for (uint32_t q = 0; q < 2; ++q) {
    out.push_back(rec(test::request("SET_VRING_NUM", test::vring_state(q, 256), true), F, next()));
    out.push_back(rec(test::reply("SET_VRING_NUM", test::u64_payload(0)), B, next()));
    const uint64_t ring = 0x7f0000100000 + q * 0x10000;
    out.push_back(
        rec(test::request("SET_VRING_ADDR",
                          test::vring_addr(q, 0, ring, ring + 0x2000, ring + 0x1000, 0), true),
            F, next()));
    out.push_back(rec(test::reply("SET_VRING_ADDR", test::u64_payload(0)), B, next()));
    out.push_back(
        rec(test::request("SET_VRING_KICK", test::vring_index_fd(static_cast<uint8_t>(q)), true), F,
            next(), {ev}));
    out.push_back(rec(test::reply("SET_VRING_KICK", test::u64_payload(0)), B, next()));
    out.push_back(
        rec(test::request("SET_VRING_CALL", test::vring_index_fd(static_cast<uint8_t>(q)), true), F,
            next(), {ev}));
    out.push_back(rec(test::reply("SET_VRING_CALL", test::u64_payload(0)), B, next()));
  }
  test::Bytes bad = test::request("SET_VRING_ENABLE", test::u64_payload(1));
  bad.resize(bad.size() - 4);
  bad[8] = 4;
  out.push_back(rec(bad, F, next()));
  out.push_back(rec(test::request("GET_VRING_BASE", test::vring_state(1, 0)), F, next()));
  return out;
}

// "view=features bits=33 protocol_bits=21" -> {"features": {"bits": "33", ...}}
std::map<std::string, std::map<std::string, std::string>> parse_report(const std::string& out) {
  std::map<std::string, std::map<std::string, std::string>> r;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first, w;
    words >> first;
    std::map<std::string, std::string> kv;
    std::string key = first;
    while (words >> w) {
      auto eq = w.find('=');
      if (eq != std::string::npos) kv[w.substr(0, eq)] = w.substr(eq + 1);
    }
    if (first.starts_with("view="))
      key = first.substr(5);
    else if (first == "image")
      key = "image:" + kv["view"];
    r[key] = kv;
  }
  return r;
}

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

Image read_ppm(const std::string& path) {
  Image img;
  std::ifstream in(path, std::ios::binary);
  std::string magic;
  int maxval = 0;
  in >> magic >> img.width >> img.height >> maxval;
  in.get();
  if (magic != "P6" || maxval != 255 || img.width <= 0 || img.height <= 0) return {};
  img.rgb.resize(static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3);
  in.read(reinterpret_cast<char*>(img.rgb.data()), static_cast<std::streamsize>(img.rgb.size()));
  if (!in) return {};
  return img;
}

#if VHS_TEST_HAVE_PNG
// Decodes a PNG with libpng as 8-bit RGB; empty on any error.
Image read_png(const std::string& path) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&png, path.c_str())) return {};
  png.format = PNG_FORMAT_RGB;
  Image img;
  img.width = static_cast<int>(png.width);
  img.height = static_cast<int>(png.height);
  img.rgb.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, img.rgb.data(), 0, nullptr)) {
    png_image_free(&png);
    return {};
  }
  return img;
}
#endif

// Standard deviation of the luminance and the number of distinct colours.
std::pair<double, size_t> image_stats(const Image& img) {
  double sum = 0, sum2 = 0;
  std::set<uint32_t> colours;
  const size_t n = img.rgb.size() / 3;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t r = img.rgb[3 * i], g = img.rgb[3 * i + 1], b = img.rgb[3 * i + 2];
    const double y = 0.299 * r + 0.587 * g + 0.114 * b;
    sum += y;
    sum2 += y * y;
    if (colours.size() < 10000) colours.insert((uint32_t{r} << 16) | (uint32_t{g} << 8) | b);
  }
  const double mean = sum / static_cast<double>(n);
  return {std::sqrt(std::max(0.0, sum2 / static_cast<double>(n) - mean * mean)), colours.size()};
}

class GuiRender : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!executable(gui_binary())) GTEST_SKIP() << "vhostscope-gui not built (VHS_BUILD_GUI=OFF?)";
    if (!executable("/usr/bin/Xvfb"))
      GTEST_SKIP() << "Xvfb not installed (scripts/setup.sh installs it)";
    std::string error;
    auto w = CaptureWriter::create(dir / "session.pcap", error);
    ASSERT_TRUE(w) << error;
    for (const Record& r : scenario()) {
      w->write(r);
      store.append(r);
    }
    ASSERT_TRUE(w->flush());
    store.finish();
    xvfb = std::make_unique<Xvfb>(dir.path());
    ASSERT_FALSE(xvfb->display().empty()) << "could not start Xvfb";
    ::setenv("DISPLAY", xvfb->display().c_str(), 1);
    ::setenv("LIBGL_ALWAYS_SOFTWARE", "1", 1);
    // Under AddressSanitizer: Mesa's one-time allocations are not ours to fix, and the suppression
    // file (app/gui/lsan-mesa.supp, read by the child at start) names them. Mesa's DRI driver is
    // dlclose'd when the display closes, which turns everything its globals still reference into
    // "leaks" with unresolvable stacks; preloading it keeps it mapped (and its memory reachable)
    // until exit.
    ::setenv("LSAN_OPTIONS",
             ("suppressions=" + std::string(VHS_SOURCE_DIR) + "/app/gui/lsan-mesa.supp").c_str(),
             1);
#if defined(__SANITIZE_ADDRESS__)
    const char* driver = "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so";
    if (executable(driver) || ::access(driver, R_OK) == 0) {
      ::setenv("LD_PRELOAD", driver, 1);
      const char* asan = std::getenv("ASAN_OPTIONS");
      // A preloaded library comes before the ASan runtime in the load order; that is fine here.
      ::setenv("ASAN_OPTIONS",
               (std::string(asan ? asan : "") + ":verify_asan_link_order=0").c_str(), 1);
    }
#endif
  }

  test::CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), gui_binary());
    return test::run_command(args, dir.path(), 180000ms);
  }

  test::TempDir dir;
  Store store;
  std::unique_ptr<Xvfb> xvfb;
};

TEST_F(GuiRender, EveryViewDrawsWhatTheModelHolds) {
  const uint32_t selected = 11;  // SET_MEM_TABLE (#11): fields, two fds
  auto res = run({"--screenshot", dir / "shot.ppm", "--view", "all", "--size", "1280x800",
                  "--select", std::to_string(selected), dir / "session.pcap"});
  ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
  auto rep = parse_report(res.out);

  // Messages and status.
  EXPECT_EQ(rep["messages"]["rows"], std::to_string(store.size()));
  const int visible = std::stoi(rep["messages"]["visible"]);
  EXPECT_GT(visible, 10);
  EXPECT_LE(visible, static_cast<int>(store.size()));
  EXPECT_EQ(rep["messages"]["selected"], "#" + std::to_string(selected));
  EXPECT_EQ(rep["status"]["records"], std::to_string(store.size()));
  EXPECT_EQ(rep["status"]["sessions"], "1");
  EXPECT_EQ(rep["status"]["flagged"], std::to_string(store.flagged().size()));
  size_t pending = 0;
  for (const auto& p : store.sessions()[0].analyser.pending())
    pending += p.expects != ReplyExpectation::None;
  EXPECT_EQ(rep["status"]["pending"], std::to_string(pending));

  // Timeline: same lanes and hangs as the view-model computes here.
  view::TimelineIndex tl;
  tl.update(store, SIZE_MAX);
  EXPECT_EQ(rep["timeline"]["lanes"], std::to_string(tl.lanes().size()));
  EXPECT_EQ(rep["timeline"]["hangs"], std::to_string(view::hang_spans(store, tl, 0, false).size()));
  EXPECT_GT(std::stoi(rep["timeline"]["buckets"]), 5);

  // Detail of the selected message.
  const size_t i = selected - 1;
  const DecodedMessage msg = store.decoded(i);
  size_t fields = 0;
  for (const Field& f : describe_fields(msg, store.bytes(i), store.fds(i), store.context(i)))
    fields += !f.path.starts_with("fd[");
  EXPECT_EQ(rep["detail"]["fields"], std::to_string(fields));
  EXPECT_EQ(rep["detail"]["fds"], "2");
  EXPECT_EQ(rep["detail"]["findings"], std::to_string(store.findings(i).size()));

  // Session views.
  const SessionState& st = store.sessions()[0].state();
  const auto virtio = view::feature_matrix(st.features, st.device);
  const auto proto = view::protocol_feature_matrix(st.protocol_features);
  EXPECT_EQ(rep["features"]["bits"], std::to_string(virtio.rows.size()));
  EXPECT_EQ(rep["features"]["protocol_bits"], std::to_string(proto.rows.size()));
  EXPECT_EQ(rep["features"]["mismatches"], "0");
  EXPECT_EQ(rep["memory"]["regions"], "2");
  EXPECT_EQ(rep["memory"]["ring_marks"], std::to_string(view::ring_marks(st).size()));
  EXPECT_EQ(rep["rings"]["queues"], "2");
  EXPECT_EQ(rep["rings"]["ring_records"], "0");
  EXPECT_EQ(rep["rings"]["snapshot_rows"], "0");
  size_t findings = 0;
  for (uint32_t e : store.flagged()) findings += store.findings(e).size();
  EXPECT_GT(findings, 1u);
  EXPECT_EQ(rep["findings"]["total"], std::to_string(findings));

  // The pictures: one per tab, the requested size, and not blank.
  for (const char* view : {"detail", "features", "memory", "rings", "findings"}) {
    SCOPED_TRACE(view);
    const auto& img_line = rep[std::string("image:") + view];
    ASSERT_EQ(img_line.count("path"), 1u) << res.out;
    const Image img = read_ppm(img_line.at("path"));
    ASSERT_EQ(img.width, 1280);
    ASSERT_EQ(img.height, 800);
    const auto [stddev, colours] = image_stats(img);
    EXPECT_GT(stddev, 8.0);
    EXPECT_GT(colours, 50u);
  }
}

// The shipped hang capture, as a user opens it: ring-state records (the rings view's snapshot
// table), the unanswered GET_VRING_BASE (a hang on the timeline, a finding), and every view drawn.
TEST_F(GuiRender, ShippedHangCaptureDrawsRingsAndTheHang) {
  const std::string path = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap";
  Store shipped;
  std::string error;
  auto reader = CaptureReader::open(path, error);
  ASSERT_TRUE(reader) << error;
  Record r;
  while (reader->next(r)) shipped.append(r);
  shipped.finish();
  ASSERT_EQ(shipped.sessions().size(), 1u);

  auto res = run({"--screenshot", dir / "hang.ppm", "--view", "all", "--size", "1280x800", path});
  ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
  auto rep = parse_report(res.out);
  EXPECT_EQ(rep["messages"]["rows"], std::to_string(shipped.size()));
  EXPECT_EQ(rep["status"]["records"], std::to_string(shipped.size()));

  // Rings: every RingState record of the session counted, the latest one per sampled queue shown.
  const StoreSession& session = shipped.sessions()[0];
  const auto ring_records = view::ring_records_until(shipped, 0, session.last_entry);
  ASSERT_FALSE(ring_records.empty());
  std::set<uint32_t> sampled_queues;
  for (uint32_t e : ring_records)
    if (auto snap = decode_ring_snapshot(shipped.bytes(e))) sampled_queues.insert(snap->queue);
  EXPECT_EQ(rep["rings"]["ring_records"], std::to_string(ring_records.size()));
  EXPECT_EQ(rep["rings"]["snapshot_rows"], std::to_string(sampled_queues.size()));
  EXPECT_EQ(rep["rings"]["queues"], std::to_string(session.state().vrings.size()));

  // The hang: the same spans and findings as the view-models compute from the Store.
  view::TimelineIndex tl;
  tl.update(shipped, SIZE_MAX);
  const auto hangs = view::hang_spans(shipped, tl, 0, false);
  EXPECT_GE(hangs.size(), 1u);
  EXPECT_EQ(rep["timeline"]["hangs"], std::to_string(hangs.size()));
  EXPECT_EQ(rep["timeline"]["lanes"], std::to_string(tl.lanes().size()));
  size_t findings = 0;
  for (uint32_t e : shipped.flagged()) findings += shipped.findings(e).size();
  EXPECT_GE(findings, 1u);
  EXPECT_EQ(rep["findings"]["total"], std::to_string(findings));
  EXPECT_EQ(rep["memory"]["regions"], std::to_string(session.state().regions.size()));
  EXPECT_EQ(rep["memory"]["ring_marks"], std::to_string(view::ring_marks(session.state()).size()));

  // Ring picture: the selection (the first flagged record, #72) picks the newest ring state; its
  // READ is the one in-flight descriptor, and both hands are drawn.
  std::vector<uint32_t> all_ring_states;
  for (size_t i = 0; i < shipped.size(); ++i)
    if (shipped.entry(i).kind == RecordKind::RingState)
      all_ring_states.push_back(static_cast<uint32_t>(i));
  const auto states = view::session_ring_states(shipped, 0, all_ring_states);
  const size_t position = view::ring_state_at(states, shipped.flagged().front());
  const auto picture = view::build_ring_picture(shipped, 0, states, position);
  ASSERT_EQ(picture.queues.size(), 1u);
  EXPECT_EQ(rep["picture"]["ring_states"], std::to_string(states.size()));
  EXPECT_EQ(rep["picture"]["position"], std::to_string(position));
  EXPECT_EQ(rep["picture"]["queues"], "1");
  EXPECT_EQ(rep["picture"]["chains"], std::to_string(picture.queues[0].chains.size()));
  EXPECT_EQ(rep["picture"]["in_flight_cells"], "1");
  EXPECT_EQ(rep["picture"]["hands"], "2");

  // Statistics window: the rows of `vhostscope stats` over the same records.
  const CaptureStats stats = compute_stats(shipped);
  EXPECT_EQ(rep["stats"]["requests"], std::to_string(stats.overall.requests.size()));
  EXPECT_EQ(rep["stats"]["queues"], std::to_string(stats.overall.queues.size()));
  EXPECT_EQ(rep["stats"]["findings"], std::to_string(stats.overall.findings.size()));

  // At 1280x800 the rings tab's tables show what fits: no column starts beyond the right edge.
  EXPECT_GE(std::stoul(rep["rings"]["columns"]), 6u) << res.out;
  EXPECT_EQ(rep["rings"]["columns_beyond_edge"], "0") << res.out;

  for (const char* view :
       {"detail", "features", "memory", "rings", "findings", "picture", "stats"}) {
    SCOPED_TRACE(view);
    const auto& img_line = rep[std::string("image:") + view];
    ASSERT_EQ(img_line.count("path"), 1u) << res.out;
    const Image img = read_ppm(img_line.at("path"));
    ASSERT_EQ(img.width, 1280);
    EXPECT_GT(image_stats(img).first, 8.0);
  }
}

// The ring picture draws at every size the layout supports, and the rings tab keeps every column
// it shows inside the pane, also with the messages pane dragged wide.
TEST_F(GuiRender, RingPictureAndRingsColumnsAtEverySize) {
  const std::string path = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap";
  for (const char* size : {"1280x800", "1920x1080", "1024x700"}) {
    SCOPED_TRACE(size);
    auto res = run({"--screenshot", dir / "sizes.ppm", "--view", "all", "--size", size, "--select",
                    "50", path});
    ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
    auto rep = parse_report(res.out);
    // #50 is the ninth ring state: the picture shows it, one READ in flight.
    EXPECT_EQ(rep["picture"]["position"], "8");
    EXPECT_EQ(rep["picture"]["chains"], "1");
    EXPECT_EQ(rep["picture"]["in_flight_cells"], "1");
    EXPECT_EQ(rep["rings"]["columns_beyond_edge"], "0") << res.out;
    EXPECT_GE(std::stoul(rep["rings"]["columns"]), 4u) << res.out;
    const Image img = read_ppm(rep["image:picture"]["path"]);
    EXPECT_GT(image_stats(img).second, 50u);
  }
}

// The hang capture opens at its first error; the timeline draws its idle stretches compressed
// and the device-status row, and the plots view draws every plot the view-model has, on the
// timeline's axis.
TEST_F(GuiRender, HangCaptureTimelineAndPlots) {
  const std::string path = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap";
  Store shipped;
  std::string error;
  auto reader = CaptureReader::open(path, error);
  ASSERT_TRUE(reader) << error;
  Record r;
  while (reader->next(r)) shipped.append(r);
  shipped.finish();

  view::TimelineIndex tl;
  tl.update(shipped, SIZE_MAX);
  const view::TimeAxis axis(tl.min_time(), tl.max_time(), tl.idle_gaps());
  view::PlotsModel plots;
  plots.update(shipped, SIZE_MAX);
  size_t plot_rows = plots.latencies().empty() ? 0 : 1;
  for (const auto& [key, q] : plots.queues())
    plot_rows += (q.in_flight.times.empty() ? 0 : 2) + (q.kicks.total() || q.calls.total());
  const uint32_t first_error = view::first_problem(shipped);
  ASSERT_NE(first_error, kNoEntry);
  ASSERT_EQ(shipped.entry(first_error).worst, Severity::Error);

  for (const char* size : {"1280x800", "1920x1080"}) {
    SCOPED_TRACE(size);
    auto res = run({"--screenshot", dir / "plots.ppm", "--view", "plots", "--size", size, path});
    ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
    auto rep = parse_report(res.out);
    EXPECT_EQ(rep["messages"]["selected"], record_number(first_error));
    EXPECT_EQ(rep["timeline"]["lanes"], std::to_string(tl.lanes().size()));
    EXPECT_EQ(rep["timeline"]["gaps"], std::to_string(axis.gaps().size()));
    EXPECT_GE(axis.gaps().size(), 1u);  // the recorder waited seconds for a reply that never came
    EXPECT_EQ(rep["timeline"]["lifecycle"],
              std::to_string(view::session_lifecycle(shipped, 0).size()));
    EXPECT_GE(std::stoul(rep["timeline"]["lifecycle"]), 1u);
    EXPECT_EQ(rep["plots"]["rows"], std::to_string(plot_rows));
    EXPECT_GE(plot_rows, 3u);  // q0 done/s, q0 in flight, reply latency
    EXPECT_GT(std::stoul(rep["plots"]["columns"]), 20u) << res.out;
    const Image img = read_ppm(rep["image:plots"].at("path"));
    EXPECT_GT(image_stats(img).first, 8.0);
  }
}

// At a laptop's 1280x800 the message list keeps the summary readable, a ring-state row reads as
// fields in Detail, and hiding the recorder's samples leaves only the other records.
TEST_F(GuiRender, HangCaptureAtLaptopSize) {
  const std::string path = std::string(VHS_SOURCE_DIR) + "/captures/samples/blk-hang.pcap";
  Store shipped;
  std::string error;
  auto reader = CaptureReader::open(path, error);
  ASSERT_TRUE(reader) << error;
  Record r;
  while (reader->next(r)) shipped.append(r);
  shipped.finish();
  size_t samples = 0;
  for (size_t i = 0; i < shipped.size(); ++i)
    samples += shipped.entry(i).kind == RecordKind::RingState ||
               shipped.entry(i).kind == RecordKind::Notify;
  ASSERT_GT(samples, 0u);
  // #72: the flagged ring state.
  ASSERT_EQ(shipped.entry(71).kind, RecordKind::RingState);

  auto res = run({"--screenshot", dir / "laptop.ppm", "--view", "detail", "--size", "1280x800",
                  "--select", "72", path});
  ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
  auto rep = parse_report(res.out);
  EXPECT_EQ(rep["messages"]["rows"], std::to_string(shipped.size()));
  EXPECT_GE(std::stoul(rep["messages"]["summary_chars"]), 26u) << res.out;
  // The longest request title of this capture is not cut.
  EXPECT_GE(std::stoul(rep["messages"]["request_chars"]),
            std::string("GET_PROTOCOL_FEATURES reply").size())
      << res.out;
  EXPECT_EQ(rep["detail"]["fields"], std::to_string(view::sample_fields(shipped, 71).size()));
  EXPECT_GE(std::stoul(rep["detail"]["fields"]), 10u);

  auto hidden = run({"--screenshot", dir / "hidden.ppm", "--view", "detail", "--size", "1280x800",
                     "--hide-samples", path});
  ASSERT_EQ(hidden.exit_code, 0) << hidden.out << hidden.err;
  auto hrep = parse_report(hidden.out);
  EXPECT_EQ(hrep["messages"]["rows"], std::to_string(shipped.size() - samples));

  // The toggle composes with the user's filter.
  auto both = run({"--screenshot", dir / "both.ppm", "--view", "detail", "--size", "1280x800",
                   "--hide-samples", "--filter", "GET_VRING_BASE or kind:ring-state", path});
  ASSERT_EQ(both.exit_code, 0) << both.out << both.err;
  EXPECT_EQ(parse_report(both.out)["messages"]["rows"], "3");  // two requests, one reply
}

TEST_F(GuiRender, FilterAppliesToTheRows) {
  auto res = run({"--screenshot", dir / "filtered.ppm", "--view", "messages", "--filter",
                  "SET_VRING_* and vring.index == 1", dir / "session.pcap"});
  ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
  view::FilterError err;
  auto f = view::Filter::parse("SET_VRING_* and vring.index == 1", err);
  ASSERT_TRUE(f);
  size_t expected = 0;
  for (size_t i = 0; i < store.size(); ++i) expected += f->matches(store, i);
  // NUM, ADDR, KICK, CALL of queue 1, and the 4-byte SET_VRING_ENABLE whose index reads as 1.
  EXPECT_EQ(expected, 5u);
  auto rep = parse_report(res.out);
  EXPECT_EQ(rep["messages"]["rows"], std::to_string(expected));
  EXPECT_EQ(rep["messages"]["visible"], std::to_string(expected));
  const Image img = read_ppm(dir / "filtered.ppm");
  EXPECT_GT(image_stats(img).first, 8.0);
}

TEST_F(GuiRender, PngOutputAndErrors) {
  auto res = run({"--screenshot", dir / "shot.png", "--view", "features", dir / "session.pcap"});
  ASSERT_EQ(res.exit_code, 0) << res.out << res.err;
  const std::string png = test::read_text_file(dir / "shot.png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  // Compressed: the former writer stored the 1600x1000 scanlines uncompressed (4.8 MB); a GUI
  // screenshot is mostly flat colour and compresses far below a tenth of that.
  const size_t stored = 1000u * (1600u * 3 + 1);
  EXPECT_LT(png.size(), stored / 10) << png.size();
#if VHS_TEST_HAVE_PNG
  // It decodes with libpng to the very pixels the same frame gives as PPM.
  auto ppm = run({"--screenshot", dir / "shot.ppm", "--view", "features", dir / "session.pcap"});
  ASSERT_EQ(ppm.exit_code, 0) << ppm.out << ppm.err;
  const Image decoded = read_png(dir / "shot.png");
  const Image raw = read_ppm(dir / "shot.ppm");
  ASSERT_EQ(decoded.width, 1600);
  ASSERT_EQ(decoded.height, 1000);
  ASSERT_EQ(raw.rgb.size(), decoded.rgb.size());
  EXPECT_TRUE(raw.rgb == decoded.rgb);
#endif

  auto missing = run({"--screenshot", dir / "x.ppm", dir / "missing.pcap"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot open capture"), std::string::npos) << missing.err;
  auto bad_filter =
      run({"--screenshot", dir / "x.ppm", "--filter", "vring.index ==", dir / "session.pcap"});
  EXPECT_EQ(bad_filter.exit_code, 1);
  EXPECT_NE(bad_filter.err.find("--filter"), std::string::npos) << bad_filter.err;
  auto usage = run({"--view", "nonsense", dir / "session.pcap"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace vhs
