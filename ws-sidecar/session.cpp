#include "session.h"

#include <algorithm>

namespace rp::sidecar {

void FrameRing::push_back(FramePtr frame) {
    if (count_ == capacity_) grow();
    slots_[(head_ + count_) & (capacity_ - 1)] = std::move(frame);
    ++count_;
}

FramePtr FrameRing::pop_front() {
    if (count_ == 0) return nullptr;
    FramePtr frame = std::move(slots_[head_]);
    head_ = (head_ + 1) & (capacity_ - 1);
    if (--count_ == 0) {
        head_ = 0;
        if (capacity_ > kKeepCapacity) {  // a burst is over: give its memory back
            slots_.reset();
            capacity_ = 0;
        }
    }
    return frame;
}

void FrameRing::clear() {
    while (count_ > 0) pop_front();
}

void FrameRing::grow() {
    std::size_t capacity = capacity_ == 0 ? 4 : capacity_ * 2;
    auto slots = std::make_unique<FramePtr[]>(capacity);
    for (std::size_t i = 0; i < count_; ++i)
        slots[i] = std::move(slots_[(head_ + i) & (capacity_ - 1)]);
    slots_ = std::move(slots);
    capacity_ = capacity;
    head_ = 0;
}

Session::Session(SessionId id, std::string peer, std::size_t max_queue_bytes, int64_t connected_ms)
    : id_(id),
      peer_(std::move(peer)),
      max_queue_bytes_(max_queue_bytes),
      connected_ms_(connected_ms) {}

SendResult Session::enqueue(FramePtr frame) {
    // Once a close is decided nothing new is queued: a refused or kicked client that keeps
    // reading would otherwise keep the queue from ever emptying, and the close from happening.
    if (close_) return SendResult::dropped;
    if (queued_bytes_ + frame->size() > max_queue_bytes_) {
        queue_.clear();
        queued_bytes_ = 0;
        overflowed_now_ = true;
        request_close(CloseCode::try_again_later, "slow consumer: send queue over its limit",
                      false);
        return SendResult::dropped;
    }
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    return SendResult::queued;
}

FramePtr Session::pop() {
    FramePtr frame = queue_.pop_front();
    if (frame) queued_bytes_ -= frame->size();
    return frame;
}

void Session::request_close(CloseCode code, std::string reason, bool after_drain) {
    if (close_ && !close_->after_drain) return;  // an immediate close already wins
    close_ = CloseRequest{code, std::move(reason), after_drain};
    if (!after_drain) {
        queue_.clear();
        queued_bytes_ = 0;
    }
}

std::optional<CloseRequest> Session::due_close() const {
    if (!close_) return std::nullopt;
    if (close_->after_drain && !queue_.empty()) return std::nullopt;
    return close_;
}

Session::Grants& Session::grants() {
    if (!grants_) grants_ = std::make_unique<Grants>();
    return *grants_;
}

void Session::set_rights(const std::string& room, RoomRights rights) {
    bool none = !rights.publish && !rights.presence && rights.user.empty() && rights.info.empty();
    if (!grants_ && none) return;
    auto& rooms = grants().rooms;
    auto found = std::find_if(rooms.begin(), rooms.end(),
                              [&room](const auto& entry) { return entry.first == room; });
    if (found != rooms.end()) {
        if (none) {
            rooms.erase(found);
        } else {
            found->second = std::move(rights);
        }
    } else if (!none) {
        rooms.emplace_back(room, std::move(rights));
    }
}

const RoomRights* Session::rights(const std::string& room) const {
    if (!grants_) return nullptr;
    for (const auto& [name, rights] : grants_->rooms) {
        if (name == room) return &rights;
    }
    return nullptr;
}

TokenBucket& Session::publish_budget() { return grants().publish_budget; }

}  // namespace rp::sidecar
