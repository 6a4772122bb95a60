// Helpers of the Wireshark tests: running tshark (with a temporary HOME, so only what a test puts
// there is loaded), reading `-T fields` output, and what the project itself decodes for every
// record, in the shape tshark prints it.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "captures/model/store.hpp"
#include "decoders/vhost_user/message.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "wireshark/field_catalog.hpp"

namespace vhs::test {

namespace fs = std::filesystem;

inline std::string find_tshark() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin"}) {
    const std::string p = std::string(dir) + "/tshark";
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// Every capture the project ships: the samples and the hostile set.
inline std::vector<std::string> all_captures() {
  std::vector<std::string> out;
  for (const char* dir : {"captures/samples", "tests/data/hostile"})
    for (const auto& e : fs::directory_iterator(fs::path(VHS_SOURCE_DIR) / dir))
      if (e.path().extension() == ".pcap") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// "4.0" from "TShark (Wireshark) 4.0.17 (...)".
inline std::string tshark_major_minor(const std::string& tshark, const std::string& log_dir) {
  const CommandResult r = run_command({tshark, "--version"}, log_dir);
  const size_t at = r.out.find(") ");
  if (at == std::string::npos) return {};
  const size_t dot = r.out.find('.', at + 2);
  const size_t second = r.out.find('.', dot + 1);
  return r.out.substr(at + 2, second - at - 2);
}

// tshark with HOME in `home`, bounded in time. Wireshark ignores personal plugins when its real
// user is root, so as root tshark runs as nobody (`home` is made readable for it).
inline CommandResult run_tshark(const std::string& home, std::vector<std::string> args,
                                const std::string& log_dir) {
  std::vector<std::string> argv;
  if (geteuid() == 0) {
    argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    const auto readable = fs::perms::group_read | fs::perms::others_read;
    const auto searchable = fs::perms::group_exec | fs::perms::others_exec;
    fs::permissions(home, readable | searchable, fs::perm_options::add);
    for (const auto& e : fs::recursive_directory_iterator(home))
      fs::permissions(e.path(), e.is_directory() ? readable | searchable : readable,
                      fs::perm_options::add);
  }
  for (std::string a :
       {std::string("/usr/bin/env"), "HOME=" + home, std::string("LC_ALL=C.UTF-8"), find_tshark()})
    argv.push_back(std::move(a));
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, log_dir, Millis(120000));
}

inline constexpr char kFieldSeparator = '\x1e';
inline constexpr char kOccurrenceSeparator = '\x1f';

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

// One row per frame: field name -> occurrences (empty when absent).
using FieldRows = std::vector<std::map<std::string, std::vector<std::string>>>;

inline std::vector<std::string> fields_args(const std::vector<std::string>& names) {
  std::vector<std::string> args = {"-T", "fields",
                                   "-E", std::string("separator=") + kFieldSeparator,
                                   "-E", std::string("aggregator=") + kOccurrenceSeparator,
                                   "-E", "occurrence=a",
                                   "-E", "quote=n"};
  for (const std::string& n : names) {
    args.push_back("-e");
    args.push_back(n);
  }
  return args;
}

inline FieldRows parse_fields(const std::string& out, const std::vector<std::string>& names) {
  FieldRows rows;
  for (const std::string& line : split(out, '\n')) {
    if (line.empty()) continue;
    const std::vector<std::string> cols = split(line, kFieldSeparator);
    auto& row = rows.emplace_back();
    for (size_t i = 0; i < names.size() && i < cols.size(); ++i)
      row[names[i]] =
          cols[i].empty() ? std::vector<std::string>{} : split(cols[i], kOccurrenceSeparator);
  }
  return rows;
}

// A tshark value and a project value in one comparable form: numbers in decimal, bytes as plain
// lower-case hex, booleans 1/0, text as is.
inline std::string normal_number(const std::string& s) {
  if (s == "True" || s == "true") return "1";
  if (s == "False" || s == "false") return "0";
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (end == s.c_str() || *end != '\0') return "not a number: " + s;
  return std::to_string(v);
}

inline std::string normal_bytes(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ':' && c != ' ') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string project_value(const FieldValue& v) {
  switch (v.kind) {
    case ValueKind::Bytes: {
      std::string out;
      static const char* hex = "0123456789abcdef";
      for (uint8_t b : v.bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
      }
      return out;
    }
    case ValueKind::String: return v.name;
    case ValueKind::Signed: return std::to_string(v.as_signed());
    default: return std::to_string(v.number);
  }
}

inline std::string tshark_value(ValueKind kind, const std::string& s) {
  switch (kind) {
    case ValueKind::Bytes: return normal_bytes(s);
    case ValueKind::String: return s;
    case ValueKind::Signed: return std::to_string(std::strtoll(s.c_str(), nullptr, 10));
    default: return normal_number(s);
  }
}

// What the project decodes for one message entry: public field name -> values in tree order,
// for the fields `wanted` accepts (None group lines carry no value and are left out).
template <typename Wanted>
std::map<std::string, std::vector<std::string>> project_fields(const Store& store, size_t i,
                                                               Wanted wanted) {
  std::map<std::string, std::vector<std::string>> out;
  const DecodedMessage msg = store.decoded(i);
  for (const Field& f : describe_fields(msg, store.bytes(i), store.fds(i), store.context(i))) {
    if (f.value.kind == ValueKind::None) continue;
    const std::string path = wireshark::path_without_indices(f.path);
    if (path == "fd" || !wanted(path)) continue;
    const wireshark::CatalogField* c = wireshark::field_catalog().find_path(path);
    if (!c) continue;
    out[c->name].push_back(project_value(f.value));
    if (!c->alias.empty()) out[c->alias].push_back(project_value(f.value));
  }
  return out;
}

// The field names to ask tshark for: every catalog field `wanted` accepts (with the header
// aliases) and the fds.
template <typename Wanted>
std::vector<std::string> catalog_field_names(Wanted wanted) {
  std::vector<std::string> names = {"frame.number"};
  for (const auto& f : wireshark::field_catalog().fields) {
    if (f.kind == ValueKind::None || f.path == "fd" || !wanted(f.path)) continue;
    names.push_back(f.name);
    if (!f.alias.empty()) names.push_back(f.alias);
  }
  for (std::string_view n : {wireshark::record_field::kFdKind, wireshark::record_field::kFdInode,
                             wireshark::record_field::kFdSize, wireshark::record_field::kFdName,
                             wireshark::record_field::kSession, wireshark::record_field::kChannel,
                             wireshark::record_field::kDirection})
    names.emplace_back(n);
  return names;
}

// Compares one frame's tshark fields with the project's decode of entry `i`.
template <typename Wanted>
void expect_same_fields(const Store& store, size_t i,
                        const std::map<std::string, std::vector<std::string>>& row, Wanted wanted,
                        const std::string& where) {
  const StoreEntry& e = store.entry(i);
  auto got = [&](std::string_view name) {
    const auto it = row.find(std::string(name));
    return it == row.end() ? std::vector<std::string>{} : it->second;
  };
  EXPECT_EQ(got(wireshark::record_field::kSession),
            std::vector<std::string>{std::to_string(e.session)})
      << where;
  // The fds of the pseudo-header.
  std::vector<std::string> kinds, inodes, sizes, names;
  for (const FdInfo& fd : store.fds(i)) {
    kinds.push_back(std::to_string(static_cast<unsigned>(fd.kind)));
    inodes.push_back(std::to_string(fd.inode));
    sizes.push_back(std::to_string(fd.size));
    names.push_back(fd.name);
  }
  auto numbers = [](std::vector<std::string> v) {
    for (auto& s : v) s = normal_number(s);
    return v;
  };
  EXPECT_EQ(numbers(got(wireshark::record_field::kFdKind)), kinds) << where;
  EXPECT_EQ(numbers(got(wireshark::record_field::kFdInode)), inodes) << where;
  EXPECT_EQ(numbers(got(wireshark::record_field::kFdSize)), sizes) << where;
  // tshark prints an empty string field as nothing, so empty names are not listed. It prints CR
  // and LF in a field as "\r" and "\n", and the Lua dissector's strings turn each non-ASCII byte
  // into U+FFFD (the plugin keeps UTF-8): names are compared with line breaks written the
  // tshark way and every non-ASCII character as '?' (the hostile capture's fd names have both).
  auto comparable = [](std::string_view n) {
    std::string out;
    for (size_t k = 0; k < n.size(); ++k) {
      const auto b = static_cast<unsigned char>(n[k]);
      if (n.substr(k, 3) == "\xef\xbf\xbd") {
        out += '?';
        k += 2;
      } else if (b == '\n' || b == '\r') {
        out += b == '\n' ? "\\n" : "\\r";
      } else {
        out += b >= 0x80 ? '?' : n[k];
      }
    }
    return out;
  };
  std::vector<std::string> nonempty_names;
  for (const auto& n : names)
    if (!n.empty()) nonempty_names.push_back(comparable(n));
  std::vector<std::string> got_names;
  for (const auto& n : got(wireshark::record_field::kFdName))
    if (!n.empty()) got_names.push_back(comparable(n));
  EXPECT_EQ(got_names, nonempty_names) << where;
  if (!e.is_message()) return;
  // Every message field, by public name, in tree order.
  const auto expected = project_fields(store, i, wanted);
  for (const auto& f : wireshark::field_catalog().fields) {
    if (f.kind == ValueKind::None || f.path == "fd" || !wanted(f.path)) continue;
    for (const std::string& name : {f.name, f.alias}) {
      if (name.empty()) continue;
      std::vector<std::string> values = got(name);
      for (auto& v : values) v = tshark_value(f.kind, v);
      const auto it = expected.find(name);
      EXPECT_EQ(values, it == expected.end() ? std::vector<std::string>{} : it->second)
          << where << " field " << name;
    }
  }
}

}  // namespace vhs::test
