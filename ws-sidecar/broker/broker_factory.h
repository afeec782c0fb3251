#pragma once
// The one place that chooses the broker, as Centrifugo's engine.go does: memory (this process
// only) or Redis (shared by every sidecar, docs/scaling.md). It also plugs a shared broker into
// the rooms: the registry asks it for rooms, and what it hears is applied on the loop thread.

#include <memory>

#include "broker.h"
#include "loop_port.h"
#include "room_presence.h"
#include "room_registry.h"
#include "sidecar_config.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

// Started already. A Redis broker that cannot reach Redis yet keeps trying in its own threads.
// `presence`: where other nodes' joins and leaves go (a shared broker's).
std::unique_ptr<Broker> make_broker(const SidecarConfig& config, RoomRegistry& registry,
                                    SidecarMetrics& metrics, LoopPort& loop,
                                    RoomPresence& presence);

}  // namespace rp::sidecar
