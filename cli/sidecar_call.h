#pragma once
// One request to the sidecar (what pushctl says when it goes wrong: error_report.h).

#include <string>

#include "commands.h"
#include "error_report.h"
#include "roompush/control_client.h"
#include "roompush/error.h"
#include "roompush/json.h"

namespace rp::cli {

Result<ControlClient> connect(const GlobalOptions& global);
Result<JsonPtr> call(const GlobalOptions& global, const std::string& line);

void print_json(const cJSON* json);

}  // namespace rp::cli
