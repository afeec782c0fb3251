#include "tail_stream.h"

namespace rp::sidecar {

void TailStream::push(FramePtr frame) {
    {
        std::lock_guard lock(mutex_);
        if (ended_) return;
        if (bytes_ + frame->size() > max_bytes_) {
            frames_.clear();
            bytes_ = 0;
            ended_ = true;
            reason_ = "slow_consumer";
        } else {
            bytes_ += frame->size();
            frames_.push_back(std::move(frame));
        }
    }
    ready_.notify_one();
}

void TailStream::end(std::string reason) {
    {
        std::lock_guard lock(mutex_);
        if (ended_) return;
        ended_ = true;
        reason_ = std::move(reason);
    }
    ready_.notify_one();
}

TailStream::Batch TailStream::wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return ended_ || !frames_.empty(); });
    Batch batch;
    batch.frames.assign(frames_.begin(), frames_.end());
    frames_.clear();
    bytes_ = 0;
    batch.ended = ended_;
    batch.reason = reason_;
    return batch;
}

}  // namespace rp::sidecar
