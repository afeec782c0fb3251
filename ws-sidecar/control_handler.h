#pragma once
// Carries out one control request against the rooms. Runs on the event-loop thread. `tail`,
// `reload` and what a shared broker answers are not here: control_dispatch.h sends them
// elsewhere.

#include <cstdint>
#include <string>
#include <vector>

#include "broker.h"
#include "room_presence.h"
#include "room_registry.h"
#include "roompush/control_codec.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

struct ControlReply {
    ControlResponse response;
    std::vector<SessionId> wake;  // sessions that now have frames to write
};

struct ControlContext {
    RoomRegistry& registry;
    SidecarMetrics& metrics;
    int64_t started_ms;
    const RoomPresence* presence = nullptr;  // who is visible: `room` says so per member
};

// The `history` response for messages a shared broker read from Redis.
std::string encode_history_page(const std::string& room, const HistoryPage& page);

ControlReply handle_control(ControlContext& context, const ControlRequest& request, int64_t now_ms);

}  // namespace rp::sidecar
