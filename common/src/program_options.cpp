#include "roompush/program_options.h"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "roompush/log.h"
#include "roompush/runtime_paths.h"
#include "roompush/unix_socket.h"

namespace rp {
namespace {

// CLI11 says "INI was not able to parse KEY" for a key no option has.
std::string explain(const CLI::ParseError& error) {
    std::string what = error.what();
    const std::string unknown = "INI was not able to parse ";
    if (what.rfind(unknown, 0) == 0) {
        return "config: unknown option \"" + what.substr(unknown.size()) +
               "\" (option names use dashes, as the flags do; see --print-config)";
    }
    return what;
}

// The key of a `key=value` line of CLI11's config output; empty for comments and blank lines.
std::string line_key(const std::string& line) {
    if (line.empty() || line[0] == '#' || line[0] == '[') return {};
    std::size_t equals = line.find('=');
    return equals == std::string::npos ? std::string() : line.substr(0, equals);
}

// Every option at its default is written commented out: the shipped files show the defaults
// without fixing them, so that a later version's new default reaches an operator who changed
// one line. What the command line or a --config file set is written as it is (the effective
// configuration).
std::string example_config(const CLI::App& app) {
    std::istringstream text(app.config_to_str(true, true));
    std::string out, line;
    while (std::getline(text, line)) {
        if (std::string key = line_key(line); !key.empty()) {
            const CLI::Option* option = app.get_option_no_throw("--" + key);
            if (option == nullptr || option->count() == 0) line = "#" + line;
        }
        out += line + "\n";
    }
    return out;
}

}  // namespace

CLI::Validator file_mode_validator() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            if (parse_file_mode(value)) return {};
            return "'" + value + "' is not an octal file mode such as 0660";
        },
        "MODE");
}

CLI::Validator boolean_validator() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            for (const char* spelling : {"true", "false", "yes", "no", "on", "off", "1", "0"}) {
                if (value == spelling) return {};
            }
            return "\"" + value + "\" is not a boolean: use true or false (or yes/no, on/off, 1/0)";
        },
        "");
}

CLI::Validator group_validator() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            auto group = lookup_group(value);
            return group ? std::string() : group.error().message;
        },
        "GROUP");
}

void add_common_options(CLI::App& app, CommonOptions& options, const std::string& version) {
    app.set_version_flag("--version", version);
    app.set_config("--config", "", "Read options from this TOML or INI file; flags win");
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.add_option("--log-level", options.log_level, "Least severe log lines written")
        ->capture_default_str()
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    app.add_flag("--check-config", options.check_config,
                 "Validate the configuration and exit (0 when it is valid)")
        ->configurable(false);
    app.add_flag("--print-config", options.print_config,
                 "Print every option with its default and help, as a config file, and exit")
        ->configurable(false);
}

std::optional<int> parse_options(CLI::App& app, const CommonOptions& options, int argc,
                                 char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& success) {
        return app.exit(success);
    } catch (const CLI::ParseError& error) {
        std::cerr << app.get_name() << ": " << explain(error) << "\n";
        return kExitBadConfig;
    }
    if (options.print_config) {
        std::cout << example_config(app);
        return 0;
    }
    return std::nullopt;
}

Status parse_options_again(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return make_error("bad_config", explain(error));
    }
    return ok_status();
}

OptionValues option_values(const CLI::App& app) {
    OptionValues values;
    std::istringstream text(app.config_to_str(true, false));
    std::string line;
    while (std::getline(text, line)) {
        if (std::string key = line_key(line); !key.empty())
            values[key] = line.substr(key.size() + 1);
    }
    return values;
}

OptionChanges changed_options(const OptionValues& before, const OptionValues& after,
                              const std::vector<std::string>& reloadable) {
    std::vector<std::string> changed;
    for (const auto& [key, value] : after) {
        auto old = before.find(key);
        if (old == before.end() || old->second != value) changed.push_back(key);
    }
    for (const auto& [key, value] : before) {
        if (after.find(key) == after.end()) changed.push_back(key);
    }
    OptionChanges changes;
    for (std::string& key : changed) {
        bool applies = std::find(reloadable.begin(), reloadable.end(), key) != reloadable.end();
        (applies ? changes.applied : changes.restart_needed).push_back(std::move(key));
    }
    return changes;
}

void log_reloaded(const OptionChanges& changes) {
    auto joined = [](const std::vector<std::string>& names) {
        std::string out;
        for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
        return out;
    };
    log_info("reloaded")
        .kv("applied", joined(changes.applied))
        .kv("restart_needed", joined(changes.restart_needed));
}

std::optional<int> finish_options(const CLI::App& app, const CommonOptions& options) {
    LogLevel level = LogLevel::info;
    parse_log_level(options.log_level, level);  // validated by IsMember
    set_log_level(level);
    if (options.check_config) {
        std::cout << app.get_name() << ": configuration is valid\n";
        return 0;
    }
    return std::nullopt;
}

}  // namespace rp
