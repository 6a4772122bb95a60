// Small text formatters shared by the CLI and the GUI: record numbers, times, durations, compact
// sizes, fd lists, direction arrows and hex dumps. Everything a presenter prints about one value.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

// escape_text and quote_text: every presenter prints text from outside through them.
#include "app/common/text_escape.hpp"
#include "decoders/vhost_user/fd_info.hpp"
#include "decoders/vhost_user/wire.hpp"

namespace vhs {

// How a record is referred to everywhere (dump lines, summary, GUI): 1-based "#N" of store entry i.
std::string record_number(size_t entry_index);

// Timestamps: seconds since `base_ns` with microseconds ("12.000153"), or absolute UTC
// ("2024-05-01 10:20:30.000153Z").
std::string relative_time(uint64_t timestamp_ns, uint64_t base_ns);
std::string absolute_time(uint64_t timestamp_ns);
std::string absolute_time_of_day(uint64_t timestamp_ns);  // "10:20:30.000153Z"

// Durations for latencies and waits: "850 ns", "153.2 µs", "12.40 ms", "2.31 s".
std::string format_duration(uint64_t ns);

// Compact sizes for one-line output: "512B", "4.0K", "1.0G".
std::string compact_size(uint64_t bytes);

// One fd: "memfd 1.0G", "eventfd", "socket"; a list: "fds=[memfd 1.0G, eventfd]" ("" when empty).
std::string format_fd(const FdInfo& fd);
std::string format_fds(std::span<const FdInfo> fds);
// The longer form for detail views: "memfd 1.0G inode 1234 'memfd:pc.ram'".
std::string format_fd_long(const FdInfo& fd);

// "F→B" (front-end to back-end) or "B→F"; "fe" / "be" for the channel.
std::string_view direction_arrow(Direction d);
std::string_view channel_short(Channel c);

// Classic hex dump, 16 bytes a line: "<indent>0000  01 00 ... 00  |................|".
std::string hex_dump(std::span<const uint8_t> bytes, std::string_view indent = "    ");

}  // namespace vhs
