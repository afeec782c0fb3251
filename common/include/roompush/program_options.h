#pragma once
// What every roompush daemon's command line shares, so the config story is one story:
// --config FILE (TOML or INI, flags win, unknown keys are errors), --check-config (validate and
// exit, like nginx -t), --print-config (every option with its default and help: the example
// file), --version, --log-level. Bad configuration is one line on stderr and exit code 2.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace rp {

inline constexpr int kExitBadConfig = 2;

struct CommonOptions {
    std::string log_level = "info";
    bool check_config = false;
    bool print_config = false;
};

void add_common_options(CLI::App& app, CommonOptions& options, const std::string& version);

// A validator for octal file modes such as 0660.
CLI::Validator file_mode_validator();

// A validator for a group name or numeric gid that exists on this system.
CLI::Validator group_validator();

// Parses the command line and config file. Returns the exit code when the program should stop
// now (--help, --version, --print-config: 0; bad configuration: 2, after one line naming the
// option and the reason), nullopt to go on.
std::optional<int> parse_options(CLI::App& app, const CommonOptions& options, int argc, char** argv);

// After a successful parse: applies --log-level and, for --check-config, prints the verdict.
// Returns the exit code if the program should stop (check-config), nullopt to run.
std::optional<int> finish_options(const CLI::App& app, const CommonOptions& options);

}  // namespace rp
