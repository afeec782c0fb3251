#pragma once
// A room's epoch: 16 random hex digits, new whenever a room starts afresh (the memory broker
// after a restart, a room Redis no longer holds), so that a client resuming with an old one
// learns it may have missed messages (docs/websocket.md). Not thread-safe: one per owner.

#include <cstdio>
#include <random>
#include <string>

namespace rp::sidecar {

class RoomEpochs {
public:
    RoomEpochs() : random_(std::random_device{}()) {}

    std::string next() {
        char buffer[17];
        std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(random_()));
        return buffer;
    }

private:
    std::mt19937_64 random_;
};

}  // namespace rp::sidecar
