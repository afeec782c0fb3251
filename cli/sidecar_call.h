#pragma once
// One request to the sidecar, and what pushctl tells a person when it goes wrong.

#include <string>

#include "commands.h"
#include "roompush/control_client.h"
#include "roompush/error.h"
#include "roompush/json.h"

namespace rp::cli {

Result<ControlClient> connect(const GlobalOptions& global);
Result<JsonPtr> call(const GlobalOptions& global, const std::string& line);

// Prints the error and returns the exit code it means: 3 cannot connect, 1 anything else.
int report_call_error(const GlobalOptions& global, const Error& error);
// Prints a usage-level error (2) or a sidecar-level one (1).
int report(const Error& error, int code);

void print_json(const cJSON* json);

}  // namespace rp::cli
