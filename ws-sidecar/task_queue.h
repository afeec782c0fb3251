#pragma once
// Work other threads (the control socket, the broker, the housekeeper) hand to the loop thread:
// one queue, taken whole by the loop. post() does not wake the loop: its owner does that right
// after (WsServer::post: lws_cancel_service), and the loop then calls run_posted(). Only the
// post that finds the queue empty needs to wake it: the loop takes the whole queue when it runs,
// so a burst of posts (a broker's messages, a batch of acks) costs one wake-up, not one each.

#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace rp::sidecar {

class TaskQueue {
public:
    // Any thread. True when the queue was empty: the loop must be woken.
    bool post(std::function<void()> task);
    // Loop thread: runs, in order, what was posted before the call; what they post runs on the
    // next call. A task that throws is logged, and the others still run (one failed request must
    // not drop the rest of a batch). Returns how many ran.
    std::size_t run_posted();

private:
    std::mutex mutex_;
    std::vector<std::function<void()>> tasks_;
};

}  // namespace rp::sidecar
