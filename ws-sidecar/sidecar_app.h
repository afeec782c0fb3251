#pragma once

#include "sidecar_reload.h"

namespace rp::sidecar {

// Serves until SIGTERM or SIGINT, reloading on SIGHUP with `load_again`; returns the process
// exit code.
int run(LoadedConfig& start, Reloader::Loader load_again);

}  // namespace rp::sidecar
