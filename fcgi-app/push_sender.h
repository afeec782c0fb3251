#pragma once
// Sends job events to the sidecar's control socket from one thread, in order, retrying with
// backoff while the sidecar is away. Callers never wait on the sidecar.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "roompush/control_client.h"
#include "roompush/json.h"

namespace rp::app {

class PushSender {
public:
    PushSender(std::string control_socket, std::size_t max_pending);
    ~PushSender();

    void start();
    // Queues a publish; false (and a log line) when max_pending pushes already wait.
    bool push(const std::string& room, std::string_view event, const cJSON* data,
              const std::string& id);
    // Gives queued pushes up to `flush_for` to go out, then stops.
    void stop(std::chrono::milliseconds flush_for);

    std::size_t pending() const;

private:
    void run();
    bool send_front(std::optional<ControlClient>& client, const std::string& line);

    std::string socket_;
    std::size_t max_pending_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::string> lines_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point give_up_at_{};
    std::thread thread_;
};

}  // namespace rp::app
