#pragma once
// What `systemctl reload roompush-sidecar` changes in a running sidecar, without dropping a
// connection: the token secrets (key rotation: the files are read again), the allowed origins
// and the log level. Everything else needs a restart; a reload says which changed options it
// left for one. Triggered by SIGHUP or the control request `reload` (docs/protocol.md).

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "roompush/error.h"
#include "sidecar_options.h"

namespace rp::sidecar {

class WsServer;

// applied: the options whose new values now hold; restart_needed: changed, but fixed at start.
using ReloadReport = OptionChanges;

class Reloader {
public:
    using Loader = std::function<Result<LoadedConfig>()>;

    // `running` is the configuration the loop reads; the reloader changes it on the loop thread.
    Reloader(SidecarConfig& running, OptionValues running_values, Loader load, WsServer& server);

    // Any thread but the loop's. A bad configuration changes nothing (Error "bad_config").
    Result<ReloadReport> reload();

private:
    SidecarConfig& running_;
    OptionValues running_values_;
    Loader load_;
    WsServer& server_;
    std::mutex mutex_;  // one reload at a time
};

}  // namespace rp::sidecar
