#include "room_history.h"

#include <limits>

namespace rp::sidecar {

void RoomHistory::append(RetainedMessage message) {
    if (!message.id.empty()) {
        ids_[message.id] = message.seq;
        recent_ids_.push_back({message.id, message.seq, message.ts_ms});
        while (recent_ids_.size() > limits_->max_messages) forget_oldest_id();
    }
    bytes_ += message.frame->size();
    messages_.push_back(std::move(message));
    while (!messages_.empty() &&
           (messages_.size() > limits_->max_messages || bytes_ > limits_->max_bytes)) {
        evict_front();
    }
}

bool RoomHistory::expire(int64_t now_ms, std::size_t& budget) {
    for (; !messages_.empty() && now_ms - messages_.front().ts_ms > limits_->ttl_ms; --budget) {
        if (budget == 0) return false;
        evict_front();
    }
    for (; !recent_ids_.empty() && now_ms - recent_ids_.front().ts_ms > limits_->ttl_ms; --budget) {
        if (budget == 0) return false;
        forget_oldest_id();
    }
    return true;
}

void RoomHistory::evict_front() {
    bytes_ -= messages_.front().frame->size();
    messages_.pop_front();
}

void RoomHistory::forget_oldest_id() {
    const RememberedId& oldest = recent_ids_.front();
    auto found = ids_.find(oldest.id);
    // A key published again later (after it was forgotten once) belongs to that later entry.
    if (found != ids_.end() && found->second == oldest.seq) ids_.erase(found);
    recent_ids_.pop_front();
}

std::optional<uint64_t> RoomHistory::seq_of(const std::string& id) const {
    auto found = ids_.find(id);
    if (found == ids_.end()) return std::nullopt;
    return found->second;
}

std::vector<FramePtr> RoomHistory::after(uint64_t since, std::size_t limit) const {
    std::vector<FramePtr> frames;
    if (messages_.empty() || since >= messages_.back().seq) return frames;
    // seq is contiguous inside the history, so the start is found by arithmetic.
    uint64_t first = messages_.front().seq;
    std::size_t start = since < first ? 0 : static_cast<std::size_t>(since - first + 1);
    for (std::size_t i = start; i < messages_.size() && frames.size() < limit; ++i) {
        frames.push_back(messages_[i].frame);
    }
    return frames;
}

ResumePlan RoomHistory::plan_resume(uint64_t head_seq, std::string_view epoch,
                                    std::optional<uint64_t> since,
                                    std::string_view client_epoch) const {
    constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();
    if (!since) return {};
    bool same_epoch = client_epoch == epoch;
    if (same_epoch && *since == head_seq) return {};
    // Complete only if the next message the client needs is still retained.
    bool complete = same_epoch && *since < head_seq && !messages_.empty() &&
                    messages_.front().seq <= *since + 1;
    if (complete) return {false, after(*since, kAll)};
    return {true, after(0, kAll)};
}

}  // namespace rp::sidecar
