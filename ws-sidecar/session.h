#pragma once
// One WebSocket client: the rooms it is in and its send queue, bounded in bytes.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "frame.h"
#include "token_bucket.h"

namespace rp::sidecar {

using SessionId = uint64_t;

// WebSocket close codes the sidecar uses (docs/websocket.md).
enum class CloseCode : int {
    going_away = 1001,
    unsupported_data = 1003,
    policy = 1008,
    too_big = 1009,
    try_again_later = 1013,
};

enum class SendResult { queued, dropped };

// A member's queue of shared frames: a ring that holds nothing until the first frame (an idle
// member costs no queue memory; std::deque allocated 576 bytes up front) and grows by doubling,
// so the delivery path allocates only when a member falls further behind than ever before. A
// large ring is given back once it drains, so memory returns after a burst.
class FrameRing {
public:
    bool empty() const { return count_ == 0; }
    std::size_t size() const { return count_; }
    const FramePtr& front() const { return slots_[head_]; }
    void push_back(FramePtr frame);
    FramePtr pop_front();
    void clear();

private:
    static constexpr std::size_t kKeepCapacity = 64;
    void grow();
    std::unique_ptr<FramePtr[]> slots_;
    std::size_t capacity_ = 0;  // a power of two
    std::size_t head_ = 0;
    std::size_t count_ = 0;
};

// What a member may do in a room beyond receiving: granted by its room token (or, in open rooms,
// by --client-publish). `user` is the token's "sub".
struct RoomRights {
    bool publish = false;
    std::string user;
    bool presence = false;
    std::string info;  // presence's JSON object about the member; empty: none
};

struct CloseRequest {
    CloseCode code;
    std::string reason;
    bool after_drain;  // send what is queued first (an `error` frame), or close at once
};

class Session {
public:
    Session(SessionId id, std::string peer, std::size_t max_queue_bytes, int64_t connected_ms);

    SessionId id() const { return id_; }
    const std::string& peer() const { return peer_; }
    int64_t connected_ms() const { return connected_ms_; }
    const std::set<std::string>& rooms() const { return rooms_; }
    std::set<std::string>& rooms() { return rooms_; }

    // Queues a shared frame. A client that would go past its byte limit is a slow consumer: its
    // queue is dropped and it is closed with 1013, so it never holds memory or slows the others.
    SendResult enqueue(FramePtr frame);
    FramePtr pop();
    // The next frame pop() would return (nullptr when none), and how many are queued.
    Frame* peek() const { return queue_.empty() ? nullptr : queue_.front().get(); }
    std::size_t queued_frames() const { return queue_.size(); }
    bool has_pending() const { return !queue_.empty(); }
    std::size_t queued_bytes() const { return queued_bytes_; }

    void request_close(CloseCode code, std::string reason, bool after_drain);
    // The close to perform now, if any: immediate ones at once, after_drain ones once empty.
    std::optional<CloseRequest> due_close() const;
    bool closing() const { return close_.has_value(); }
    // Rights per room; a room without any is left out (most members have none).
    void set_rights(const std::string& room, RoomRights rights);
    const RoomRights* rights(const std::string& room) const;
    // The client-publish budget of this connection, made on first use.
    TokenBucket& publish_budget();

    // True once, right after enqueue() turned this session into a slow consumer.
    bool overflowed_now() {
        bool was = overflowed_now_;
        overflowed_now_ = false;
        return was;
    }

private:
    SessionId id_;
    std::string peer_;
    std::size_t max_queue_bytes_;
    int64_t connected_ms_;
    bool overflowed_now_ = false;
    std::set<std::string> rooms_;
    FrameRing queue_;
    std::size_t queued_bytes_ = 0;
    std::optional<CloseRequest> close_;
    // Only a member that was granted something pays for it: 8 bytes for the others.
    struct Grants {
        std::vector<std::pair<std::string, RoomRights>> rooms;
        TokenBucket publish_budget;
    };
    std::unique_ptr<Grants> grants_;
    Grants& grants();
};

}  // namespace rp::sidecar
