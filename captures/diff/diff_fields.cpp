// Field-by-field message comparison (see diff_fields.hpp).
#include "captures/diff/diff_fields.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "decoders/vhost_user/field_format.hpp"
#include "decoders/vhost_user/field_paths.hpp"

namespace vhs {
namespace {

std::string_view last_component(std::string_view path) {
  const size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

// The paths of the children of fields[i] (those deeper than it, up to the next sibling).
std::vector<std::string_view> child_paths(const std::vector<Field>& fields, size_t i) {
  std::vector<std::string_view> out;
  for (size_t j = i + 1; j < fields.size() && fields[j].depth > fields[i].depth; ++j)
    out.push_back(fields[j].path);
  return out;
}

const Field* find_path(const std::vector<Field>& fields, std::string_view path, size_t* at) {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].path == path) {
      *at = i;
      return &fields[i];
    }
  return nullptr;
}

// Fields worth comparing: leaves, plus bit words (flags such as header.flags, a feature word or a
// kick's index/NOFD word) whose children only split the word into bits. Any other parent (a group
// such as region[0]) only summarises its children. A byte block read as a device's fields
// (config.data as a virtio_blk_config) is compared by its fields when `other` reads it the same
// way, and as bytes when it does not (another device kind, or none): the same bytes are the same
// value however they were named.
std::vector<const Field*> comparable(const std::vector<Field>& fields,
                                     const std::vector<Field>& other) {
  std::vector<const Field*> out;
  int skip_below = -1;  // depth of the value word whose children are being skipped
  for (size_t i = 0; i < fields.size(); ++i) {
    const Field& f = fields[i];
    if (skip_below >= 0 && f.depth > skip_below) continue;
    skip_below = -1;
    if (f.path.starts_with("fd[")) continue;  // compared separately, without inodes
    const bool has_children = i + 1 < fields.size() && fields[i + 1].depth > f.depth;
    if (has_children && f.value.kind == ValueKind::Flags) {
      skip_below = f.depth;
    } else if (has_children && f.value.kind == ValueKind::Bytes) {
      size_t j = 0;
      const Field* twin = find_path(other, f.path, &j);
      if (twin && child_paths(fields, i) == child_paths(other, j)) continue;
      skip_below = f.depth;
    } else if (has_children) {
      continue;
    }
    out.push_back(&f);
  }
  return out;
}

// Typed comparison: numbers by number (a feature word's names follow from its bits), bytes by
// bytes, text by text; group lines by their rendering.
bool same_value(const Field& a, const Field& b) {
  if (a.value.kind != b.value.kind) return false;
  switch (a.value.kind) {
    case ValueKind::None: return a.text == b.text;
    case ValueKind::Bytes: return a.value.bytes == b.value.bytes;
    case ValueKind::String: return a.value.name == b.value.name;
    default: return a.value.number == b.value.number;
  }
}

std::vector<Field> fields_of(const MessageView& m) {
  const DecodedMessage d = decode_message(m.channel, m.bytes, m.fds, m.context);
  return describe_fields(d, m.bytes, m.fds, m.context);
}

}  // namespace

AddressClass address_class(std::string_view path) {
  const std::string_view leaf = last_component(path);
  if (leaf == "uva" || leaf == "desc_addr" || leaf == "used_addr" || leaf == "avail_addr" ||
      leaf == "uaddr")
    return AddressClass::Userspace;
  if (leaf == "gpa" || leaf == "log_addr" || leaf == "iova") return AddressClass::Guest;
  return AddressClass::None;
}

std::string normalize_fd_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(name[i]))) {
      if (out.empty() || out.back() != '#') out += '#';
      while (i + 1 < name.size() && std::isdigit(static_cast<unsigned char>(name[i + 1]))) ++i;
    } else {
      out += name[i];
    }
  }
  return out;
}

std::string comparable_fd_text(const FdInfo& fd) {
  std::string s(fd_kind_name(fd.kind));
  if (fd.size != 0) s += " " + human_size(fd.size);
  if (!fd.name.empty()) s += fmt::format(" '{}'", normalize_fd_name(fd.name));
  return s;
}

std::vector<FieldChange> compare_messages(const MessageView& a, const MessageView& b,
                                          const CompareOptions& options) {
  const std::vector<Field> fa = fields_of(a);
  const std::vector<Field> fb = fields_of(b);
  const std::vector<const Field*> ca = comparable(fa, fb);
  const std::vector<const Field*> cb = comparable(fb, fa);
  std::vector<std::string> expected_paths;  // in the current naming scheme
  for (const std::string& p : options.expected_paths)
    expected_paths.push_back(current_field_path(p));

  auto classify = [&](FieldChange& c) {
    const AddressClass k = address_class(c.path);
    if (k == AddressClass::Userspace && options.addresses != AddressPolicy::Compare) {
      c.expected = true;
      c.why = "front-end virtual address (per process)";
    } else if (k == AddressClass::Guest && options.addresses == AddressPolicy::ExpectAll) {
      c.expected = true;
      c.why = "address (addresses ignored)";
    } else if (std::find(expected_paths.begin(), expected_paths.end(), c.path) !=
               expected_paths.end()) {
      c.expected = true;
      c.why = options.expected_reason;
    }
  };

  std::vector<FieldChange> out;
  std::vector<bool> b_used(cb.size(), false);
  for (const Field* f : ca) {
    auto it =
        std::find_if(cb.begin(), cb.end(), [&](const Field* g) { return g->path == f->path; });
    FieldChange c;
    c.path = f->path;
    c.a = f->text;
    if (it == cb.end()) {
      c.b = std::string(kAbsent);
    } else {
      b_used[static_cast<size_t>(it - cb.begin())] = true;
      if (same_value(**it, *f)) continue;
      c.b = (*it)->text;
    }
    classify(c);
    out.push_back(std::move(c));
  }
  for (size_t i = 0; i < cb.size(); ++i) {
    if (b_used[i]) continue;
    FieldChange c{cb[i]->path, std::string(kAbsent), cb[i]->text, false, {}};
    classify(c);
    out.push_back(std::move(c));
  }

  const size_t nfds = std::max(a.fds.size(), b.fds.size());
  for (size_t i = 0; i < nfds; ++i) {
    std::string ta = i < a.fds.size() ? comparable_fd_text(a.fds[i]) : std::string(kAbsent);
    std::string tb = i < b.fds.size() ? comparable_fd_text(b.fds[i]) : std::string(kAbsent);
    if (ta != tb)
      out.push_back({fmt::format("fd[{}]", i), std::move(ta), std::move(tb), false, {}});
  }
  return out;
}

size_t real_change_count(std::span<const FieldChange> changes) {
  return static_cast<size_t>(std::count_if(changes.begin(), changes.end(),
                                           [](const FieldChange& c) { return !c.expected; }));
}

}  // namespace vhs
