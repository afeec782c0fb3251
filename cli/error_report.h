#pragma once
// How pushctl reports what went wrong, on stderr: one line for people ("pushctl: MESSAGE
// (CODE)"), or with --json one object in the control protocol's shape,
// {"error":{"code":C,"message":M}}, so that a script reads every failure the same way. Each
// function returns the exit code the failure means (docs/pushctl.md, "Exit codes").

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "roompush/error.h"

namespace rp::cli {

// Prints the error and returns exit_code.
int report(const GlobalOptions& global, const Error& error, int exit_code);

// A failed exchange with the sidecar: 3 when it cannot be reached (with how to point pushctl
// elsewhere), 1 for anything else (its error response, a socket that is not the sidecar).
int report_call_error(const GlobalOptions& global, const Error& error);

// A command line or config file that CLI11 refused: exit 2. `json`: whether --json was asked
// for, as far as the refused command line tells (see json_requested).
int report_usage(bool json, const CLI::App& app, const CLI::ParseError& error);

// Whether --json was given, for an error raised before the options were all read: the --json
// results CLI11 collected (command line and config file), else a look at the arguments.
bool json_requested(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace rp::cli
