#pragma once
// POST /push/ROOM: another backend publishes a JSON body to a room over HTTP. The push goes
// through the outbox like a job's, so it is never lost; the answer carries its seq when the
// sidecar is reachable now, else a 202 saying it is queued.

#include "app_config.h"
#include "http_types.h"
#include "push_sender.h"

namespace rp::app {

inline constexpr std::size_t kMaxPushBody = 1 << 20;

class PushHandler {
public:
    PushHandler(const AppConfig& config, PushSender& pushes) : config_(config), pushes_(pushes) {}

    HttpResponse handle(HttpRequest& request, const std::string& room);

private:
    const AppConfig& config_;
    PushSender& pushes_;
};

}  // namespace rp::app
