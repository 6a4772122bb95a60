// A small declarative option parser shared by all subcommands: --long/-s options, flags,
// positionals, generated --help, conventional errors (exit code 2).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vhs::cli {

class ArgParser {
 public:
  ArgParser(std::string command, std::string synopsis, std::string description);

  // --name / -s without a value.
  void flag(std::string long_name, char short_name, std::string help, bool* out);
  // --name VALUE / --name=VALUE / -s VALUE. Repeatable options append to `out_list`.
  void option(std::string long_name, char short_name, std::string metavar, std::string help,
              std::string* out);
  void option_list(std::string long_name, char short_name, std::string metavar, std::string help,
                   std::vector<std::string>* out_list);
  void positional(std::string metavar, std::string help, std::string* out, bool required = true);
  // The remaining positionals ("FILE..."), after any single positionals; `required`: at least one.
  void positional_list(std::string metavar, std::string help, std::vector<std::string>* out,
                       bool required = true);

  // Parses argv (argv[0] = command name). Returns an exit code when the command must stop now
  // (0 after --help, 2 after a usage error that was printed), nullopt to continue.
  std::optional<int> parse(int argc, char** argv);

  void print_help() const;

 private:
  struct Spec {
    std::string long_name;
    char short_name = 0;
    std::string metavar;  // empty for flags
    std::string help;
    bool* flag = nullptr;
    std::string* value = nullptr;
    std::vector<std::string>* list = nullptr;
  };
  struct Positional {
    std::string metavar, help;
    std::string* out;
    bool required;
    std::vector<std::string>* list = nullptr;
  };
  const Spec* find_long(std::string_view name) const;
  const Spec* find_short(char c) const;
  int usage_error(const std::string& message) const;

  std::string command_, synopsis_, description_;
  std::vector<Spec> specs_;
  std::vector<Positional> positionals_;
};

}  // namespace vhs::cli
