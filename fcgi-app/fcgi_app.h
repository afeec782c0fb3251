#pragma once

#include "app_config.h"

namespace rp::app {

// Serves until SIGTERM or SIGINT; returns the process exit code.
int run(const AppConfig& config);

}  // namespace rp::app
