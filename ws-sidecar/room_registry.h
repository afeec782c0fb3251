#pragma once
// Rooms as a plain data structure (a topic tree of depth one): a room is a set of sessions plus
// its retained history, a session knows its rooms, and a room with neither members nor history
// is erased. Only the event-loop thread touches it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "roompush/json.h"
#include "room_history.h"
#include "session.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

struct RegistryLimits {
    std::size_t max_queue_bytes = 8 << 20;
    std::size_t max_rooms_per_session = 64;
    HistoryLimits history;
};

struct JoinRequest {
    std::optional<uint64_t> since;  // last seq the client saw
    std::string epoch;              // the epoch that seq belongs to
    bool any_epoch = false;         // operators' tails: take `since` in the current epoch
};

struct JoinInfo {
    uint64_t head_seq = 0;
    std::string epoch;
    ResumePlan resume;
};

struct PublishOutcome {
    uint64_t seq = 0;
    uint64_t delivered = 0;
    bool duplicate = false;
    std::vector<SessionId> wake;  // sessions with something new to write (or to close)
};

struct MemberInfo {
    SessionId id;
    std::string peer;
    int64_t connected_ms;
    std::size_t queued_bytes;
};

struct RoomDetail {
    std::string epoch;
    uint64_t seq = 0;
    std::size_t retained = 0;
    std::vector<MemberInfo> members;
};

struct RoomHistoryView {
    std::string epoch;
    uint64_t seq = 0;
    std::vector<FramePtr> frames;
};

class RoomRegistry {
public:
    RoomRegistry(RegistryLimits limits, SidecarMetrics& metrics);

    SessionId add_session(std::string peer, int64_t now_ms);
    void remove_session(SessionId id);
    Session* find(SessionId id);
    std::size_t session_count() const { return sessions_.size(); }
    std::vector<SessionId> session_ids() const;

    // Joins and queues the resume frames (subscribed, reset, replay) for the session.
    Result<JoinInfo> join(SessionId id, const std::string& room, const JoinRequest& request);
    bool leave(SessionId id, const std::string& room);

    // Serializes the message once, retains it, and queues the same frame for every member. A
    // repeated idempotency key is acked with the original seq and delivered to no one.
    PublishOutcome publish(const std::string& room, std::string_view event, const cJSON* data,
                           const std::string& id, int64_t now_ms);

    // Queues a frame for one session (subscribed, error).
    SendResult send(SessionId id, FramePtr frame);

    // Drops expired history and erases rooms left with nothing.
    void expire(int64_t now_ms);

    std::vector<RoomSummary> summaries() const;
    std::optional<RoomDetail> detail(const std::string& room) const;
    std::optional<RoomHistoryView> history(const std::string& room, uint64_t since,
                                           std::size_t limit) const;
    bool is_member(SessionId id, const std::string& room) const;
    SidecarGauges gauges() const;

private:
    struct Room {
        explicit Room(const HistoryLimits& limits) : history(limits) {}
        uint64_t seq = 0;
        std::string epoch;
        std::unordered_set<SessionId> members;
        RoomHistory history;
    };

    Room& room_for(const std::string& room);
    void erase_if_unused(const std::string& room);
    std::string new_epoch();
    void count_send(Session& session, SendResult result);

    RegistryLimits limits_;
    SidecarMetrics& metrics_;
    SessionId next_id_ = 1;
    std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
    std::unordered_map<std::string, Room> rooms_;
    std::mt19937_64 epoch_random_;
};

}  // namespace rp::sidecar
