#pragma once
// The app's command line and --config file: the one table of options behind --help,
// --print-config, etc/roompush-fcgi.conf and the man page, and its translation into an
// AppConfig. Parsed once at start, and again on SIGHUP (a reload).

#include <variant>

#include "app_config.h"
#include "roompush/error.h"
#include "roompush/log.h"
#include "roompush/program_options.h"

namespace rp::app {

struct LoadedAppConfig {
    AppConfig config;
    LogLevel log_level = LogLevel::info;
    OptionValues values;  // what each option came to, to tell what a reload changed
};

// At start: --help, --version, --print-config and --check-config print and give their exit
// code; a bad configuration is one line on stderr and exit code 2. Else the configuration.
std::variant<int, LoadedAppConfig> load_config_at_start(int argc, char** argv);

// For a reload: the same command line and files again, printing nothing; a bad configuration
// is Error("bad_config") and the running one stays.
Result<LoadedAppConfig> load_config_again(int argc, char** argv);

}  // namespace rp::app
