#pragma once
// The libwebsockets event loop. Only ws_server.cpp sees <libwebsockets.h> and <ev.h>; what the
// loop decides (who is written when, client frames, HTTP answers, shutdown) is plain C++ in
// ws_engine.h and the policies it lists.

#include <functional>
#include <memory>
#include <vector>

#include "client_publish.h"
#include "room_presence.h"
#include "room_registry.h"
#include "roompush/error.h"
#include "sidecar_config.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

class WsServer {
public:
    WsServer(const SidecarConfig& config, RoomRegistry& registry, SidecarMetrics& metrics);
    ~WsServer();

    Status start();
    // Serves until request_stop(); then closes every client with 1001 and returns.
    void run();

    // Thread-safe: runs `task` on the loop thread.
    void post(std::function<void()> task);
    // Thread-safe. Call it again to nudge a loop that is draining its clients.
    void request_stop();
    bool finished() const;

    // Loop thread only: these sessions (one publish's audience, say) have frames to write or
    // a close to perform.
    void wake(const std::vector<SessionId>& ids);
    // Loop thread only: a session that is not a WebSocket (a control `tail`) is woken by
    // calling `drain` instead.
    void attach_sink(SessionId id, std::function<void()> drain);
    void detach_sink(SessionId id);
    // Before run(): where browsers' `publish` commands go (none: they are refused).
    void set_client_publisher(ClientPublisher* publisher);
    // Loop thread, once a second: closes (1009) every connection whose frame in progress
    // announced more than --max-frame (a frame's first payload bytes are checked as they come;
    // this covers a client that sends a header and then nothing), sends the counts of rooms too
    // large for join/leave (room_presence.h), and a heartbeat event on every quiet event stream.
    void every_second();
    // Loop thread: who is visible in which room on this node.
    RoomPresence& room_presence();

    struct Impl;  // public so the C callback can reach it; defined in ws_server.cpp

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace rp::sidecar
