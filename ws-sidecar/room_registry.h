#pragma once
// Rooms as a plain data structure (a topic tree of depth one): a room is a set of sessions plus
// its retained history, a session knows its rooms, and a room with neither members nor history
// is erased. Only the event-loop thread touches it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker.h"
#include "gap_tracker.h"
#include "room_epoch.h"
#include "room_history.h"
#include "roompush/control_codec.h"
#include "roompush/error.h"
#include "roompush/json.h"
#include "session.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

struct RegistryLimits {
    std::size_t max_queue_bytes = 8 << 20;
    std::size_t max_rooms_per_session = 64;
    HistoryLimits history;
    // A shared broker (Redis) is the truth: rooms are loaded from it on the first local join,
    // follow its live messages through a GapTracker, and are forgotten with their last member.
    bool shared = false;
};

// Shared mode: asks the broker for a room (nullopt: load the retained tail) or for what came
// after a seq; the answer comes back through apply_snapshot().
using RoomFetcher = std::function<void(const std::string& room, std::optional<uint64_t> after)>;

struct JoinRequest {
    std::optional<uint64_t> since;  // last seq the client saw
    std::string epoch;              // the epoch that seq belongs to
    bool any_epoch = false;         // operators' tails: take `since` in the current epoch
};

struct JoinInfo {
    uint64_t head_seq = 0;
    std::string epoch;
    ResumePlan resume;
    bool pending = false;  // shared mode: the room is loading; the frames follow when it is
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
    // repeated idempotency key is acked with the original seq and delivered to no one. `data` is
    // JSON text (ControlRequest::data), spliced into the message as it is.
    // `from`: a browser's message names its sender (JSON text); empty for the server's.
    PublishOutcome publish(const std::string& room, std::string_view event, std::string_view data,
                           const std::string& id, int64_t now_ms, std::string_view from = {});

    // Shared mode, loop thread. Each returns the sessions with something new to write.
    void set_fetcher(RoomFetcher fetcher) { fetcher_ = std::move(fetcher); }
    // Told when a room is forgotten (its last member here left): its live messages may stop.
    void set_forgetter(std::function<void(const std::string& room)> forget) {
        forgetter_ = std::move(forget);
    }
    std::vector<SessionId> apply_snapshot(const RoomSnapshot& snapshot, int64_t now_ms);
    std::vector<SessionId> apply_message(const BrokerMessage& message, int64_t now_ms);
    void resubscribed();
    // Redis refused to load the room (the joins waiting for it get an `error` frame and are not
    // members) or to fill it.
    std::vector<SessionId> fetch_failed(const std::string& room, bool load, const Error& error);

    // Queues a frame for one session (subscribed, error).
    SendResult send(SessionId id, FramePtr frame);

    // Drops expired history and erases rooms left with nothing, in bounded steps: at most
    // `rooms` rooms looked at and `messages` messages dropped per call, the next call going on
    // where this one stopped. The loop stays responsive when a burst's history expires at once
    // (100,000 messages took 37 ms to free in one go). Returns true once a round has visited
    // every room there was when it began.
    struct ExpiryBudget {
        std::size_t rooms = SIZE_MAX;
        std::size_t messages = SIZE_MAX;
    };
    bool expire(int64_t now_ms, ExpiryBudget budget);
    bool expire(int64_t now_ms) { return expire(now_ms, ExpiryBudget{}); }

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
        GapTracker tracker;                                     // shared mode only
        std::vector<std::pair<SessionId, JoinRequest>> parked;  // joins waiting for the load
    };

    Room& room_for(const std::string& room);
    std::unordered_map<std::string, Room>::iterator expiry_start();
    void erase_room(std::unordered_map<std::string, Room>::iterator it);
    bool unused(const Room& state) const;
    JoinInfo complete_join(Session& session, const std::string& room, Room& state,
                           const JoinRequest& request);
    void deliver(const std::string& room, Room& state, FramePtr frame, uint64_t seq,
                 const std::string& id, int64_t ts_ms, std::vector<SessionId>* wake,
                 uint64_t* delivered);
    FramePtr frame_of(const std::string& room, const std::string& epoch, const BrokerEntry& entry);
    void load(const std::string& room, Room& state, const RoomSnapshot& snapshot,
              std::vector<SessionId>& wake);
    void fill(const std::string& room, Room& state, const RoomSnapshot& snapshot, int64_t now_ms,
              std::vector<SessionId>& wake);
    void maybe_fill(const std::string& room, Room& state);
    void erase_if_unused(const std::string& room);
    std::string new_epoch();
    void count_send(Session& session, SendResult result);

    RegistryLimits limits_;
    SidecarMetrics& metrics_;
    SessionId next_id_ = 1;
    std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
    std::unordered_map<std::string, Room> rooms_;
    std::string expiry_next_;      // the room the next expire() starts at; empty: the first
    std::size_t expiry_left_ = 0;  // rooms the current round has still to visit
    RoomEpochs epochs_;
    RoomFetcher fetcher_;
    std::function<void(const std::string& room)> forgetter_;
};

}  // namespace rp::sidecar
