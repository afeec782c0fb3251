#pragma once
// The sidecar's signal thread. It takes SIGTERM and SIGINT (stop) and SIGHUP (reload) with
// sigtimedwait, never in a handler in the middle of libwebsockets, and once a second has the loop
// do its chores: a step of history expiry, closing connections whose frame announced too much,
// this node's members report for a shared broker, and systemd's watchdog ping, which comes from
// the loop itself so that a stuck loop is noticed.

#include <signal.h>

#include <functional>
#include <string>

#include "broker.h"
#include "room_registry.h"
#include "ws_server.h"

namespace rp::sidecar {

class Housekeeper {
public:
    // Blocks the signals the housekeeper takes (and ignores SIGPIPE) in the calling thread and in
    // every thread it starts later: call it before any other thread starts.
    static sigset_t block_signals();

    Housekeeper(WsServer& server, RoomRegistry& registry, Broker& broker, std::string node_id);

    // Until the loop has finished. A stop signal calls `stop_control`, then stops the loop and
    // keeps it awake while its clients get their 1001.
    void run(const sigset_t& signals, std::function<void()> reload,
             std::function<void()> stop_control);

private:
    void every_second();  // loop thread
    void expire_step();   // loop thread
    void stop(const std::function<void()>& stop_control);

    WsServer& server_;
    RoomRegistry& registry_;
    Broker& broker_;
    std::string node_id_;
    bool watchdog_ = false;
    bool expiring_ = false;  // loop thread only: a round of expiry is under way
};

}  // namespace rp::sidecar
