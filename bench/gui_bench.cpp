// gui_bench: how the GUI copes with a million messages. Measures, on one big synthetic capture
// (tools/gen_capture): reading the pcap alone (the baseline), ingest (decode + analyse into the
// Store), the GUI's own indexes (rows, timeline lanes), filter evaluation for cheap, decoding and
// field-tree filters (against a plain scan of the entries as baseline), and, when a display is
// available, the per-frame time of each view by running `vhostscope-gui --bench VIEW`.
// Each phase prints wall and CPU time: on a loaded machine the CPU time is the honest number.
//
//   gui_bench [--messages N] [--capture FILE] [--frames N] [--keep]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "app/common/view_filter.hpp"
#include "app/common/view_index.hpp"
#include "app/common/view_timeline.hpp"
#include "captures/format/capture_file.hpp"
#include "captures/model/store.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu0 = cpu_now();
  static double cpu_now() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  double wall_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  }
  double cpu_s() const { return cpu_now() - cpu0; }
};

int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double load_average() {
  double l = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

void line(const char* what, const Timer& t, size_t records, const std::string& extra = "") {
  const double per_m = records ? 1e6 / static_cast<double>(records) : 0;
  std::printf("%-34s wall %7.3f s  cpu %7.3f s  (cpu per 1M records %6.3f s)%s\n", what, t.wall_s(),
              t.cpu_s(), t.cpu_s() * per_m, extra.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t messages = 1'000'000;
  int frames = 120;
  std::string capture;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--messages" && i + 1 < argc)
      messages = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--capture" && i + 1 < argc)
      capture = argv[++i];
    else if (a == "--frames" && i + 1 < argc)
      frames = std::atoi(argv[++i]);
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr,
                   "usage: gui_bench [--messages N] [--capture FILE] [--frames N] [--keep]\n");
      return 2;
    }
  }
  const fs::path self = fs::canonical("/proc/self/exe");
  const fs::path build = self.parent_path().parent_path();  // build/bench/gui_bench -> build/
  bool generated = false;
  if (capture.empty()) {
    capture = (fs::temp_directory_path() / ("gui_bench_" + std::to_string(::getpid()) + ".pcap"))
                  .string();
    Timer t;
    if (run({(build / "tools" / "gen_capture").string(), capture, "--messages",
             std::to_string(messages)}) != 0) {
      std::fprintf(stderr, "gui_bench: could not generate %s with %s\n", capture.c_str(),
                   (build / "tools" / "gen_capture").c_str());
      return 1;
    }
    generated = true;
    line("generate (tools/gen_capture)", t, 0);
  }
  std::printf("gui_bench: %s, load average %.1f on %ld CPUs\n", capture.c_str(), load_average(),
              sysconf(_SC_NPROCESSORS_ONLN));

  // Baseline: reading the records without decoding them.
  size_t records = 0;
  Timer read_t;
  {
    std::string error;
    auto reader = vhs::CaptureReader::open(capture, error);
    if (!reader) {
      std::fprintf(stderr, "gui_bench: %s\n", error.c_str());
      return 1;
    }
    vhs::Record r;
    while (reader->next(r)) ++records;
  }
  line("read pcap (baseline)", read_t, records);
  const double read_cpu = read_t.cpu_s();

  // Ingest: what opening a capture costs (the GUI does this on its loader thread).
  vhs::Store store;
  Timer ingest_t;
  {
    std::string warning, error;
    if (!vhs::load_capture(capture, store, warning, error)) {
      std::fprintf(stderr, "gui_bench: %s\n", error.c_str());
      return 1;
    }
  }
  char ratio[64];
  std::snprintf(ratio, sizeof ratio, "  = %.1fx read", ingest_t.cpu_s() / std::max(read_cpu, 1e-9));
  line("ingest (read+decode+analyse)", ingest_t, records, ratio);

  // The GUI's indexes after a load.
  Timer rows_t;
  vhs::view::FilteredIndex all;
  all.update(store, SIZE_MAX);
  line("index: all rows", rows_t, records);
  Timer tl_t;
  vhs::view::TimelineIndex tl;
  tl.update(store, SIZE_MAX);
  line("index: timeline lanes", tl_t, records, "  lanes=" + std::to_string(tl.lanes().size()));
  Timer bucket_t;
  std::vector<vhs::view::TimelineBucket> buckets;
  for (int rep = 0; rep < 100; ++rep)
    for (size_t l = 0; l < tl.lanes().size(); ++l)
      tl.bucket(l, tl.min_time(), tl.max_time() + 1, 800, buckets);
  std::printf("%-34s %.3f ms per frame (all lanes x 800 buckets)\n", "timeline bucketing",
              bucket_t.wall_s() * 10);

  // Filters, cheapest first; baseline: a scan touching every entry.
  Timer scan_t;
  size_t known = 0;
  for (size_t i = 0; i < store.size(); ++i) known += store.entry(i).info != nullptr;
  const double scan_cpu = std::max(scan_t.cpu_s(), 1e-9);
  line("scan entries (filter baseline)", scan_t, records, "  known=" + std::to_string(known));
  for (const char* expr : {"SET_VRING_CALL", "fe>be and not reply", "finding",
                           "error or finding:size-mismatch", "latency > 1ms", "vring.index == 1",
                           "SET_VRING_ADDR and desc_user_addr > 0", "guest_phys_addr == 0"}) {
    vhs::view::FilterError err;
    auto f = vhs::view::Filter::parse(expr, err);
    if (!f) {
      std::fprintf(stderr, "gui_bench: filter '%s': %s\n", expr, err.message.c_str());
      return 1;
    }
    vhs::view::FilteredIndex idx;
    idx.set_filter(std::move(*f));
    Timer t;
    idx.update(store, SIZE_MAX);
    char extra[96];
    std::snprintf(extra, sizeof extra, "  rows=%zu  %.1fx scan", idx.size(), t.cpu_s() / scan_cpu);
    line((std::string("filter: ") + expr).c_str(), t, records, extra);
  }

  // Frames of each view, in the real GUI (needs a display: scripts/gui-bench.sh starts Xvfb).
  const fs::path gui = build / "vhostscope-gui";
  if (std::getenv("DISPLAY") && fs::exists(gui)) {
    std::fflush(stdout);
    for (const char* view :
         {"messages", "detail", "timeline", "findings", "features", "memory", "rings"})
      run({gui.string(), "--bench", view, "--frames", std::to_string(frames), capture});
  } else {
    std::printf("per-frame view times skipped: no DISPLAY or no %s (run scripts/gui-bench.sh)\n",
                gui.c_str());
  }
  if (generated && !keep) fs::remove(capture);
  return 0;
}
