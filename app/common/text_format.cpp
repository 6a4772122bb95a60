// Small text formatters shared by the CLI and the GUI.
#include "app/common/text_format.hpp"

#include <ctime>

#include <fmt/format.h>

namespace vhs {

std::string record_number(size_t entry_index) { return fmt::format("#{}", entry_index + 1); }

std::string relative_time(uint64_t timestamp_ns, uint64_t base_ns) {
  // Records are appended in arrival order, but a merged capture could go back in time: sign it.
  const bool negative = timestamp_ns < base_ns;
  const uint64_t d = negative ? base_ns - timestamp_ns : timestamp_ns - base_ns;
  return fmt::format("{}{}.{:06}", negative ? "-" : "", d / 1'000'000'000, (d / 1000) % 1'000'000);
}

std::string absolute_time(uint64_t timestamp_ns) {
  const auto secs = static_cast<time_t>(timestamp_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (timestamp_ns / 1000) % 1'000'000);
}

std::string absolute_time_of_day(uint64_t timestamp_ns) {
  const std::string full = absolute_time(timestamp_ns);
  return full.substr(full.find(' ') + 1);
}

std::string format_duration(uint64_t ns) {
  if (ns < 1000) return fmt::format("{} ns", ns);
  if (ns < 1'000'000) return fmt::format("{:.1f} µs", static_cast<double>(ns) / 1e3);
  if (ns < 1'000'000'000) return fmt::format("{:.2f} ms", static_cast<double>(ns) / 1e6);
  return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9);
}

std::string compact_size(uint64_t bytes) {
  static constexpr char kUnits[] = {'K', 'M', 'G', 'T', 'P', 'E'};
  if (bytes < 1024) return fmt::format("{}B", bytes);
  double v = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < sizeof(kUnits)) {
    v /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f}{}", v, kUnits[unit]);
}

std::string format_fd(const FdInfo& fd) {
  std::string s(fd_kind_name(fd.kind));
  // Sizes matter for memory fds (a region must fit); other kinds have none.
  if (fd.size != 0) s += " " + compact_size(fd.size);
  return s;
}

std::string format_fds(std::span<const FdInfo> fds) {
  if (fds.empty()) return {};
  std::string s = "fds=[";
  for (size_t i = 0; i < fds.size(); ++i) {
    if (i) s += ", ";
    s += format_fd(fds[i]);
  }
  s += "]";
  return s;
}

std::string format_fd_long(const FdInfo& fd) {
  std::string s = format_fd(fd);
  if (fd.inode != 0) s += fmt::format(" inode {}", fd.inode);
  // The name comes from the peer that created the fd (memfd_create's name is free text).
  if (!fd.name.empty()) s += fmt::format(" '{}'", escape_text(fd.name));
  return s;
}

std::string_view direction_arrow(Direction d) { return d == Direction::ToBackend ? "F→B" : "B→F"; }

std::string_view channel_short(Channel c) { return c == Channel::Frontend ? "fe" : "be"; }

std::string hex_dump(std::span<const uint8_t> bytes, std::string_view indent) {
  std::string out;
  for (size_t line = 0; line < bytes.size(); line += 16) {
    out += indent;
    out += fmt::format("{:04x} ", line);
    std::string ascii;
    for (size_t i = 0; i < 16; ++i) {
      if (i == 8) out += ' ';
      if (line + i < bytes.size()) {
        const uint8_t b = bytes[line + i];
        out += fmt::format(" {:02x}", b);
        ascii += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
      } else {
        out += "   ";
      }
    }
    out += "  |" + ascii + "|\n";
  }
  return out;
}

}  // namespace vhs
