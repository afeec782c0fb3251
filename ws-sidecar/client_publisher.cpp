#include "client_publisher.h"

#include "roompush/log.h"
#include "roompush/wall_clock.h"
#include "ws_codec.h"

namespace rp::sidecar {

BrokerClientPublisher::BrokerClientPublisher(Broker& broker, RoomRegistry& registry, LoopPort& loop,
                                             SidecarMetrics& metrics)
    : broker_(broker), registry_(registry), loop_(loop), metrics_(metrics) {
    if (broker_.shared()) thread_ = std::thread([this] { run(); });
}

BrokerClientPublisher::~BrokerClientPublisher() { stop(); }

void BrokerClientPublisher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool BrokerClientPublisher::submit(SessionId id, ControlRequest request) {
    if (!broker_.shared()) {
        PublishOutcome outcome = registry_.publish(request.room, request.event, request.data,
                                                   request.id, now_ms(), request.from);
        loop_.wake(outcome.wake);
        answer(id, request, PublishAck{outcome.seq, outcome.delivered, outcome.duplicate});
        return true;
    }
    if (in_flight_.fetch_add(1) >= kMaxWaiting) {
        in_flight_--;
        return false;
    }
    // The broker keeps the order of submission; its answer comes on its thread.
    broker_.publish_async(request, now_ms(), [this, id, request](Result<PublishAck> ack) mutable {
        in_flight_--;
        loop_.post([this, id, request = std::move(request), ack = std::move(ack)] {
            answer(id, request, ack);
        });
    });
    return true;
}

// Only what a broker does without blocking: Redis sends it on its own worker.
void BrokerClientPublisher::presence_changed(const std::string& room, const char* type,
                                             const std::string& member) {
    if (broker_.shared()) broker_.announce_presence(room, type, member);
}

bool BrokerClientPublisher::ask_cluster(std::function<void(Reports)> answer) {
    if (!broker_.shared()) return false;
    return enqueue([this, answer = std::move(answer)]() mutable {
        Reports reports = broker_.cluster_reports();
        loop_.post([answer = std::move(answer), reports = std::move(reports)]() mutable {
            answer(std::move(reports));
        });
    });
}

bool BrokerClientPublisher::enqueue(std::function<void()> job) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || waiting_.size() >= kMaxWaiting) return false;
        waiting_.push_back(std::move(job));
    }
    ready_.notify_one();
    return true;
}

void BrokerClientPublisher::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        ready_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
        if (stopping_) return;
        std::function<void()> job = std::move(waiting_.front());
        waiting_.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

// Loop thread. The sender may have gone meanwhile: its message is published all the same.
void BrokerClientPublisher::answer(SessionId id, const ControlRequest& request,
                                   const Result<PublishAck>& ack) {
    if (ack) {
        metrics_.client_published++;
        log_debug("client_publish")
            .kv("session", id)
            .kv("room", request.room)
            .kv("event", request.event)
            .kv("seq", ack->seq)
            .kv("duplicate", ack->duplicate);
    } else {
        metrics_.client_publish_refused++;
        log_warn("client_publish_failed")
            .kv("session", id)
            .kv("room", request.room)
            .kv("code", ack.error().code);
    }
    Session* session = registry_.find(id);
    if (session == nullptr || session->closing()) return;
    std::string frame = ack ? encode_published(request.room, request.id, *ack)
                            : encode_ws_error(ack.error(), request.room, request.id);
    registry_.send(id, make_frame(frame));
    loop_.wake({id});
}

}  // namespace rp::sidecar
