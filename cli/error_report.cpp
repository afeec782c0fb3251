#include "error_report.h"

#include <iostream>

#include "roompush/json.h"

namespace rp::cli {
namespace {

void print_json_error(const std::string& code, const std::string& message) {
    JsonPtr error = make_object();
    set_string(error.get(), "code", code);
    set_string(error.get(), "message", message);
    JsonPtr out = make_object();
    set_json(out.get(), "error", std::move(error));
    std::cerr << to_json(out.get()) << "\n";
}

bool truthy(const std::string& value) {
    return value == "true" || value == "yes" || value == "on" || value == "1";
}

// CLI11's ConfigError (an unknown or unusable key) and FileError (no such --config file) are
// about the config file; anything else it refuses is the command line.
std::string usage_code(const CLI::ParseError& error) {
    if (dynamic_cast<const CLI::ConfigError*>(&error) != nullptr) return "bad_config";
    if (dynamic_cast<const CLI::FileError*>(&error) != nullptr) return "bad_config";
    return "usage";
}

}  // namespace

int report(const GlobalOptions& global, const Error& error, int exit_code) {
    if (global.json) {
        print_json_error(error.code, error.message);
        return exit_code;
    }
    std::cerr << "pushctl: " << error.message;
    if (error.code != "error") std::cerr << " (" << error.code << ")";
    std::cerr << "\n";
    return exit_code;
}

int report_call_error(const GlobalOptions& global, const Error& error) {
    if (error.code == "connect_failed" || error.code == "bad_socket_path") {
        const std::string hint =
            "Is roompush-sidecar running? Point pushctl at its control socket with "
            "--socket PATH or ROOMPUSH_CONTROL (tried " +
            global.socket + ").";
        if (global.json) {
            print_json_error(error.code, error.message + ". " + hint);
        } else {
            std::cerr << "pushctl: " << error.message << "\n  " << hint << "\n";
        }
        return kCannotConnect;
    }
    if (error.code == "bad_response") {
        const std::string message =
            global.socket + " did not answer like roompush-sidecar: " + error.message;
        if (global.json) {
            print_json_error(error.code, message);
        } else {
            std::cerr << "pushctl: " << message << "\n";
        }
        return kSidecarError;
    }
    return report(global, error, kSidecarError);
}

int report_usage(bool json, const CLI::App& app, const CLI::ParseError& error) {
    if (!json) {
        app.exit(error);  // CLI11's line and "Run with --help for more information."
        return kUsage;
    }
    print_json_error(usage_code(error), error.what());
    return kUsage;
}

bool json_requested(const CLI::App& app, const std::vector<std::string>& args) {
    const CLI::Option* json = app.get_option_no_throw("--json");
    if (json != nullptr && json->count() > 0) {
        const std::vector<std::string>& results = json->results();
        return truthy(results.back());
    }
    for (const std::string& arg : args) {
        if (arg == "--") break;
        if (arg == "--json") return true;
        if (arg.rfind("--json=", 0) == 0) return truthy(arg.substr(7));
    }
    return false;
}

}  // namespace rp::cli
