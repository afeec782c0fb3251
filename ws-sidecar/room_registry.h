#pragma once
// Rooms as a plain data structure (a topic tree of depth one): a room is a set of sessions, a
// session knows its rooms, and an empty room is erased. Only the event-loop thread touches it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "roompush/json.h"
#include "session.h"

namespace rp::sidecar {

struct RegistryLimits {
    std::size_t max_queue_bytes = 8 << 20;
    std::size_t max_rooms_per_session = 64;
};

struct JoinInfo {
    uint64_t head_seq = 0;
    std::string epoch;
};

struct PublishOutcome {
    uint64_t seq = 0;
    uint64_t delivered = 0;
    std::vector<SessionId> wake;  // sessions with something new to write (or to close)
};

class RoomRegistry {
public:
    explicit RoomRegistry(RegistryLimits limits);

    SessionId add_session(std::string peer);
    void remove_session(SessionId id);
    Session* find(SessionId id);
    std::size_t session_count() const { return sessions_.size(); }
    std::vector<SessionId> session_ids() const;

    Result<JoinInfo> join(SessionId id, const std::string& room);
    bool leave(SessionId id, const std::string& room);

    // Serializes the message once and queues the same frame for every member.
    PublishOutcome publish(const std::string& room, std::string_view event, const cJSON* data,
                           int64_t now_ms);

    // Queues a frame for one session (subscribed, error).
    SendResult send(SessionId id, FramePtr frame);

    std::vector<RoomSummary> summaries() const;

private:
    struct Room {
        uint64_t seq = 0;
        std::string epoch;
        std::unordered_set<SessionId> members;
    };

    Room& room_for(const std::string& room);
    void erase_if_empty(const std::string& room);
    std::string new_epoch();

    RegistryLimits limits_;
    SessionId next_id_ = 1;
    std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
    std::unordered_map<std::string, Room> rooms_;
    std::mt19937_64 epoch_random_;
};

}  // namespace rp::sidecar
