#include "roompush/program_options.h"

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

// CLI11 writes an option without a default as KEY="", which would read back as an empty value:
// such options are shown commented out, so the example file loads as it is.
std::string example_config(const CLI::App& app) {
    std::istringstream text(app.config_to_str(true, true));
    std::string out, line;
    while (std::getline(text, line)) {
        if (line.size() > 3 && line.compare(line.size() - 3, 3, "=\"\"") == 0) line = "#" + line;
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
