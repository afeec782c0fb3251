#pragma once
// A room's retained messages: the last N (bounded in count, bytes and age), the frames already
// serialized, and the idempotency keys of the last N publishes. It answers the resume question
// "what did a client that saw up to seq S of epoch E miss?" exactly, or says it cannot (reset).
// Keys are bounded in count and age but not by the byte budget: a message too big to retain
// must still be recognised when its publisher retries it.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "frame.h"

namespace rp::sidecar {

struct HistoryLimits {
    std::size_t max_messages = 100;
    std::size_t max_bytes = 4 << 20;
    int64_t ttl_ms = 10 * 60 * 1000;
};

struct RetainedMessage {
    uint64_t seq = 0;
    int64_t ts_ms = 0;
    std::string id;  // idempotency key, may be empty
    FramePtr frame;
};

struct ResumePlan {
    bool reset = false;            // the client may have missed messages: tell it
    std::vector<FramePtr> replay;  // in seq order
};

class RoomHistory {
public:
    explicit RoomHistory(const HistoryLimits& limits) : limits_(&limits) {}

    void append(RetainedMessage message);
    // Drops messages (and remembered ids) older than the TTL, at most `budget` of them; what is
    // dropped is taken off the budget. Returns false when the budget ran out first.
    bool expire(int64_t now_ms, std::size_t& budget);
    bool expire(int64_t now_ms) {
        std::size_t unlimited = SIZE_MAX;
        return expire(now_ms, unlimited);
    }

    std::optional<uint64_t> seq_of(const std::string& id) const;
    bool empty() const { return messages_.empty(); }
    bool remembers_ids() const { return !recent_ids_.empty(); }
    std::size_t size() const { return messages_.size(); }
    std::size_t bytes() const { return bytes_; }
    const std::deque<RetainedMessage>& messages() const { return messages_; }

    // Up to `limit` retained frames with seq > since, oldest first.
    std::vector<FramePtr> after(uint64_t since, std::size_t limit) const;

    // head_seq/epoch: the room's; since/client_epoch: what the client last saw. No `since` means
    // a fresh subscriber: live messages only.
    ResumePlan plan_resume(uint64_t head_seq, std::string_view epoch, std::optional<uint64_t> since,
                           std::string_view client_epoch) const;

private:
    struct RememberedId {
        std::string id;
        uint64_t seq;
        int64_t ts_ms;
    };

    void evict_front();
    void forget_oldest_id();

    const HistoryLimits* limits_;
    std::deque<RetainedMessage> messages_;
    std::deque<RememberedId> recent_ids_;  // publish order
    std::unordered_map<std::string, uint64_t> ids_;
    std::size_t bytes_ = 0;
};

}  // namespace rp::sidecar
