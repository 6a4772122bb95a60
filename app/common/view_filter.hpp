// The message filter language of the GUI (and anything else that wants it): a small parser and
// evaluator over Store entries. Words name requests, directions, channels, findings; `path op
// value` compares a message field; terms combine with and/or/not and parentheses.
//
//   SET_VRING_*                       request names (either alias), '*' globs
//   vring.index == 1 and not reply    short aliases or any describe_fields path (suffix match),
//                                     compared by the field's type (docs/fields.md)
//   finding:size-mismatch or error    findings by id, severity words
//   fe>be, to:backend, ch:be          direction and channel
//   latency > 5ms, size >= 40         entry numbers with units
//
// Evaluation order is part of the design: predicates answerable from the StoreEntry alone run
// before ones that decode the message, and those before ones that build the field tree, so a
// filter over a million entries only decodes what the cheap terms let through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vhs {
class Store;
struct Field;
}  // namespace vhs

namespace vhs::view {

struct FilterError {
  std::string message;  // "unknown word 'vring.idx'" ...
  size_t position = 0;  // byte offset into the filter text
};

// What a predicate needs to be answered; also its evaluation cost rank.
enum class FilterCost : uint8_t {
  Entry = 0,   // StoreEntry fields, findings list, peer
  Decode = 1,  // the typed payload (Store::decoded)
  Fields = 2,  // the rendered field tree (describe_fields)
};

struct FilterNode;  // defined in view_filter.cpp

class Filter {
 public:
  Filter();  // matches everything
  ~Filter();
  Filter(Filter&&) noexcept;
  Filter& operator=(Filter&&) noexcept;
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  // Parses `text`; empty or blank text gives the match-all filter. nullopt + `error` on a syntax
  // error, an unknown word, an unknown finding id or a malformed number.
  static std::optional<Filter> parse(std::string_view text, FilterError& error);

  bool matches(const Store& store, size_t entry) const;

  bool match_all() const { return root_ == nullptr; }
  // The highest cost any predicate of this filter has.
  FilterCost cost() const { return cost_; }
  // True when the answer for an entry can change after it was appended: findings attributed
  // later (MissingReply, Unanswered at finish) or a reply arriving (unanswered, latency).
  bool is_volatile() const { return volatile_; }
  // Canonical rendering of the parsed expression, e.g. "(name:SET_VRING_ADDR and vring.index ==
  // 1)".
  std::string describe() const;
  const std::string& text() const { return text_; }

 private:
  std::unique_ptr<FilterNode> root_;
  FilterCost cost_ = FilterCost::Entry;
  bool volatile_ = false;
  std::string text_;
};

// "path == literal" matching entries whose field has `f`'s value (the detail view's right-click
// "filter on this value"): numbers as shown (hex for addresses and bit words), enum names,
// yes/no for bools, quoted text otherwise.
std::string filter_term(const Field& f);

// One line per construct, for the filter box's help tooltip.
std::vector<std::string_view> filter_help_lines();

// The short field aliases the filter accepts, with what each means (for help and completion).
struct FilterAlias {
  std::string_view name;
  std::string_view meaning;
};
std::vector<FilterAlias> filter_aliases();

}  // namespace vhs::view
