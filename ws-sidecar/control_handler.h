#pragma once
// Carries out one control request against the rooms. Runs on the event-loop thread.

#include <cstdint>
#include <string>
#include <vector>

#include "roompush/control_codec.h"
#include "room_registry.h"

namespace rp::sidecar {

struct ControlReply {
    std::string line;             // the response, without its newline
    std::vector<SessionId> wake;  // sessions that now have frames to write
};

ControlReply handle_control(RoomRegistry& registry, const ControlRequest& request, int64_t now_ms);

}  // namespace rp::sidecar
