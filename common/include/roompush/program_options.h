#pragma once
// What every roompush daemon's command line shares, so the config story is one story:
// --config FILE (TOML or INI, flags win, unknown keys are errors), --check-config (validate and
// exit, like nginx -t), --print-config (every option with its default and help: the example
// file), --version, --log-level. Bad configuration is one line on stderr and exit code 2.

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "roompush/error.h"

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

// A validator for a flag's value in a config file: true/false (or yes/no, on/off, 1/0);
// CLI11 alone takes any number as true.
CLI::Validator boolean_validator();

// A validator for a group name or numeric gid that exists on this system.
CLI::Validator group_validator();

// Parses the command line and config file. Returns the exit code when the program should stop
// now (--help, --version, --print-config: 0; bad configuration: 2, after one line naming the
// option and the reason), nullopt to go on.
std::optional<int> parse_options(CLI::App& app, const CommonOptions& options, int argc,
                                 char** argv);

// For a reload: the same command line, and so the same --config file, parsed again into `app`
// (a fresh one, with the same options), printing nothing. Error("bad_config") carries the
// one-line reason that parse_options would have printed.
Status parse_options_again(CLI::App& app, int argc, char** argv);

// Every option's effective value as the config file would spell it ("history" -> "100").
using OptionValues = std::map<std::string, std::string>;
OptionValues option_values(const CLI::App& app);

// The keys whose values differ between two parses, split into those a reload applies (named in
// `reloadable`) and those only a restart applies.
struct OptionChanges {
    std::vector<std::string> applied;
    std::vector<std::string> restart_needed;
};
OptionChanges changed_options(const OptionValues& before, const OptionValues& after,
                              const std::vector<std::string>& reloadable);

// A reload's one log line: what it applied and what waits for a restart.
void log_reloaded(const OptionChanges& changes);

// After a successful parse: applies --log-level and, for --check-config, prints the verdict.
// Returns the exit code if the program should stop (check-config), nullopt to run.
std::optional<int> finish_options(const CLI::App& app, const CommonOptions& options);

// A daemon's configuration at start: parse (--help, --version, --print-config print and give
// their exit code), `finish()` the parsed text into a `Loaded` (Result<Loaded>: a bad value is
// one line on stderr and kExitBadConfig), then --log-level and --check-config.
template <class Loaded, class Finish>
std::variant<int, Loaded> load_at_start(CLI::App& app, const CommonOptions& common, int argc,
                                        char** argv, Finish finish) {
    if (auto exit_code = parse_options(app, common, argc, argv)) return *exit_code;
    Result<Loaded> loaded = finish();
    if (!loaded) {
        std::cerr << app.get_name() << ": " << loaded.error().message << "\n";
        return kExitBadConfig;
    }
    if (auto exit_code = finish_options(app, common)) return *exit_code;
    return std::move(*loaded);
}

// The same command line and files again, for a reload: nothing printed, Error("bad_config").
template <class Loaded, class Finish>
Result<Loaded> load_again(CLI::App& app, int argc, char** argv, Finish finish) {
    if (auto parsed = parse_options_again(app, argc, argv); !parsed) return parsed.error();
    return finish();
}

}  // namespace rp
