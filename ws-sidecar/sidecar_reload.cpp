#include "sidecar_reload.h"

#include <chrono>

#include "loop_call.h"
#include "roompush/log.h"
#include "ws_server.h"

namespace rp::sidecar {
namespace {

const std::vector<std::string> kReloadable = {"auth-secret-file", "allowed-origin", "log-level"};

}  // namespace

Reloader::Reloader(SidecarConfig& running, OptionValues running_values, Loader load,
                   WsServer& server)
    : running_(running),
      running_values_(std::move(running_values)),
      load_(std::move(load)),
      server_(server) {}

Result<ReloadReport> Reloader::reload() {
    std::lock_guard lock(mutex_);
    auto loaded = load_();
    if (!loaded) {
        log_error("reload_failed")
            .kv("code", loaded.error().code)
            .kv("error", loaded.error().message);
        return loaded.error();
    }
    ReloadReport report = changed_options(running_values_, loaded->values, kReloadable);
    // The secrets are applied even when the file names did not change: rotating a key rewrites
    // the file in place.
    auto fresh = std::make_shared<LoadedConfig>(std::move(*loaded));
    auto swapped = call_on_loop(
        server_,
        [this, fresh] {
            running_.auth_secrets = fresh->config.auth_secrets;
            running_.allowed_origins = fresh->config.allowed_origins;
            set_log_level(fresh->log_level);
            return true;
        },
        std::chrono::seconds(10));
    if (!swapped) {
        return make_error("unavailable",
                          "the sidecar's event loop did not take the new "
                          "configuration in time; nothing was changed");
    }
    for (const std::string& option : report.applied)
        running_values_[option] = fresh->values[option];
    log_reloaded(report);
    return report;
}

}  // namespace rp::sidecar
