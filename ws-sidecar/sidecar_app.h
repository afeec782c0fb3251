#pragma once

#include "sidecar_config.h"

namespace rp::sidecar {

// Serves until SIGTERM or SIGINT; returns the process exit code.
int run(const SidecarConfig& config);

}  // namespace rp::sidecar
