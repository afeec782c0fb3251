#pragma once
// The ClientPublisher of the sidecar. With the memory broker a browser's message is published
// on the loop at once, like a control publish; a shared broker takes it without blocking and
// sends it to Redis in the order they came (one connection's messages keep their order), and
// the acks come back through the loop. Cluster queries, which block, have a thread of their own.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "broker.h"
#include "client_publish.h"
#include "loop_port.h"
#include "room_registry.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

class BrokerClientPublisher final : public ClientPublisher {
public:
    // Publishes (and, apart, cluster queries) that may wait for Redis at once; more are refused
    // `unavailable`.
    static constexpr std::size_t kMaxWaiting = 4096;

    BrokerClientPublisher(Broker& broker, RoomRegistry& registry, LoopPort& loop,
                          SidecarMetrics& metrics);
    ~BrokerClientPublisher() override;

    bool submit(SessionId id, ControlRequest request) override;
    void presence_changed(const std::string& room, const char* type,
                          const std::string& member) override;
    bool ask_cluster(std::function<void(Reports)> answer) override;
    // Any thread but the loop's; what still waits is dropped (its senders are gone by then).
    void stop();

private:
    bool enqueue(std::function<void()> job);
    void run();
    void answer(SessionId id, const ControlRequest& request, const Result<PublishAck>& ack);

    Broker& broker_;
    RoomRegistry& registry_;
    LoopPort& loop_;
    SidecarMetrics& metrics_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> waiting_;  // run on thread_, in order
    bool stopping_ = false;
    std::atomic<std::size_t> in_flight_{0};  // publishes the broker has not answered yet
    std::thread thread_;
};

}  // namespace rp::sidecar
