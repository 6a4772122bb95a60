#include "app/cli/args.hpp"

#include <cstdio>

namespace vhs::cli {

ArgParser::ArgParser(std::string command, std::string synopsis, std::string description)
    : command_(std::move(command)),
      synopsis_(std::move(synopsis)),
      description_(std::move(description)) {}

void ArgParser::flag(std::string long_name, char short_name, std::string help, bool* out) {
  specs_.push_back({std::move(long_name), short_name, {}, std::move(help), out, nullptr, nullptr});
}

void ArgParser::option(std::string long_name, char short_name, std::string metavar,
                       std::string help, std::string* out) {
  specs_.push_back({std::move(long_name), short_name, std::move(metavar), std::move(help), nullptr,
                    out, nullptr});
}

void ArgParser::option_list(std::string long_name, char short_name, std::string metavar,
                            std::string help, std::vector<std::string>* out_list) {
  specs_.push_back({std::move(long_name), short_name, std::move(metavar), std::move(help), nullptr,
                    nullptr, out_list});
}

void ArgParser::positional(std::string metavar, std::string help, std::string* out, bool required) {
  positionals_.push_back({std::move(metavar), std::move(help), out, required});
}

void ArgParser::positional_list(std::string metavar, std::string help,
                                std::vector<std::string>* out, bool required) {
  positionals_.push_back({std::move(metavar), std::move(help), nullptr, required, out});
}

const ArgParser::Spec* ArgParser::find_long(std::string_view name) const {
  for (const auto& s : specs_)
    if (s.long_name == name) return &s;
  return nullptr;
}

const ArgParser::Spec* ArgParser::find_short(char c) const {
  for (const auto& s : specs_)
    if (c != 0 && s.short_name == c) return &s;
  return nullptr;
}

int ArgParser::usage_error(const std::string& message) const {
  std::fprintf(stderr, "vhostscope %s: %s\nusage: vhostscope %s %s\nTry 'vhostscope %s --help'.\n",
               command_.c_str(), message.c_str(), command_.c_str(), synopsis_.c_str(),
               command_.c_str());
  return 2;
}

void ArgParser::print_help() const {
  std::printf("usage: vhostscope %s %s\n\n%s\n", command_.c_str(), synopsis_.c_str(),
              description_.c_str());
  if (!positionals_.empty()) {
    std::printf("\narguments:\n");
    for (const auto& p : positionals_)
      std::printf("  %-28s %s\n", p.metavar.c_str(), p.help.c_str());
  }
  std::printf("\noptions:\n");
  for (const auto& s : specs_) {
    std::string left = s.short_name ? std::string("-") + s.short_name + ", " : "    ";
    left += "--" + s.long_name;
    if (!s.metavar.empty()) left += " " + s.metavar;
    std::printf("  %-28s %s\n", left.c_str(), s.help.c_str());
  }
  std::printf("  %-28s %s\n", "-h, --help", "show this help and exit");
}

std::optional<int> ArgParser::parse(int argc, char** argv) {
  size_t next_positional = 0;
  bool only_positionals = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!only_positionals && arg == "--") {
      only_positionals = true;
      continue;
    }
    if (!only_positionals && (arg == "--help" || arg == "-h")) {
      print_help();
      return 0;
    }
    if (!only_positionals && arg.size() > 1 && arg[0] == '-') {
      const Spec* spec = nullptr;
      std::optional<std::string> inline_value;
      if (arg.starts_with("--")) {
        std::string_view body = arg.substr(2);
        if (auto eq = body.find('='); eq != std::string_view::npos) {
          inline_value = std::string(body.substr(eq + 1));
          body = body.substr(0, eq);
        }
        spec = find_long(body);
      } else if (arg.size() == 2) {
        spec = find_short(arg[1]);
      }
      if (!spec) return usage_error("unknown option '" + std::string(arg) + "'");
      if (spec->flag) {
        if (inline_value) return usage_error("option '--" + spec->long_name + "' takes no value");
        *spec->flag = true;
        continue;
      }
      std::string value;
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return usage_error("option '--" + spec->long_name + "' needs a value (" + spec->metavar +
                           ")");
      }
      if (spec->list)
        spec->list->push_back(std::move(value));
      else
        *spec->value = std::move(value);
      continue;
    }
    if (next_positional < positionals_.size() && positionals_[next_positional].list) {
      positionals_[next_positional].list->push_back(std::string(arg));  // takes all the rest
      continue;
    }
    if (next_positional >= positionals_.size())
      return usage_error("unexpected argument '" + std::string(arg) + "'");
    *positionals_[next_positional++].out = std::string(arg);
  }
  for (size_t p = next_positional; p < positionals_.size(); ++p)
    if (positionals_[p].required && !(positionals_[p].list && !positionals_[p].list->empty()))
      return usage_error("missing " + positionals_[p].metavar);
  return std::nullopt;
}

}  // namespace vhs::cli
