#pragma once
// The frames a `tail` control connection follows: filled on the loop thread, drained and written
// by the connection's own thread, bounded in bytes like a WebSocket member's queue.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "frame.h"

namespace rp::sidecar {

class TailStream {
public:
    explicit TailStream(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    // Loop thread. Past the byte limit the stream ends with reason "slow_consumer".
    void push(FramePtr frame);
    void end(std::string reason);

    struct Batch {
        std::vector<FramePtr> frames;
        bool ended = false;
        std::string reason;
    };
    // Connection thread: what arrived, waiting up to `timeout` for something.
    Batch wait(std::chrono::milliseconds timeout);

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<FramePtr> frames_;
    std::size_t bytes_ = 0;
    std::size_t max_bytes_;
    bool ended_ = false;
    std::string reason_;
};

}  // namespace rp::sidecar
