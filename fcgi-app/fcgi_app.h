#pragma once

#include <functional>

#include "app_options.h"

namespace rp::app {

using ConfigLoader = std::function<Result<LoadedAppConfig>()>;

// Serves until SIGTERM or SIGINT; SIGHUP reads the configuration again with `load_again` and
// applies the token secret and the log level (the rest waits for a restart). Returns the
// process exit code.
int run(LoadedAppConfig& start, ConfigLoader load_again);

}  // namespace rp::app
