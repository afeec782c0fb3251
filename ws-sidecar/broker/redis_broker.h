#pragma once
// The shared broker: rooms in Redis (docs/scaling.md). Two threads of its own, each with one
// blocking hiredis connection: the worker runs commands (publish, fetch, history, heartbeat) from
// a queue, the subscriber reads pub/sub. Answers for the loop go through `post` (the sidecar's
// task queue plus lws_cancel_service), so the event loop never waits on Redis.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "broker.h"
#include "broker_url.h"
#include "redis_connection.h"
#include "room_epoch.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

struct RedisBrokerConfig {
    BrokerUrl url;
    std::string password;             // from --broker-password-file; empty: no AUTH
    std::size_t stream_length = 100;  // MAXLEN of each room's stream (and the tail a join loads)
    unsigned dedupe_ttl_s = 86400;    // how long an idempotency key is remembered
    unsigned room_ttl_s = 7 * 86400;  // an idle room's keys expire after this
    std::string node_id;              // this sidecar in the cluster view
    unsigned heartbeat_ms = 2000;     // members are reported this often...
    unsigned member_ttl_ms = 6000;    // ...and forgotten this long after the last report
};

class RedisBroker : public Broker {
public:
    using Post = std::function<void(std::function<void()>)>;
    RedisBroker(RedisBrokerConfig config, SidecarMetrics& metrics, Post post);
    ~RedisBroker() override;

    bool shared() const override { return true; }
    Status start(BrokerListener listener) override;
    void stop() override;
    Result<PublishAck> publish(const ControlRequest& request, int64_t now_ms) override;
    Result<std::optional<HistoryPage>> history(const std::string& room, uint64_t since,
                                               std::size_t limit) override;
    void fetch(const std::string& room, std::optional<uint64_t> after) override;
    void report_members(std::string json) override;
    Result<std::vector<std::string>> cluster_reports() override;
    void announce_presence(const std::string& room, const std::string& type,
                           const std::string& member) override;

private:
    // A job runs on the worker with the connection (null while Redis is away).
    using Job = std::function<void(RedisConnection*)>;

    template <class T>
    Result<T> run_and_wait(std::function<Result<T>(RedisConnection*)> work);
    void enqueue(Job job);
    void worker_loop();
    void subscriber_loop();
    void ensure_connected(std::unique_lock<std::mutex>& lock);
    void heartbeat(RedisConnection& connection);
    void run_fetch(RedisConnection* connection, const std::string& room,
                   std::optional<uint64_t> after);
    void hear(const redisReply* reply);
    void hear_presence(const std::string& payload);
    void set_state(bool worker_up, bool subscriber_up);
    void pause(std::chrono::milliseconds duration);
    Error unavailable() const;
    std::string new_epoch();

    RedisBrokerConfig config_;
    SidecarMetrics& metrics_;
    Post post_;
    BrokerListener listener_;

    std::mutex mutex_;  // guards everything below
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::vector<std::pair<std::string, std::optional<uint64_t>>> waiting_fetches_;
    std::string members_json_;
    bool stopping_ = false;
    bool worker_up_ = false;
    bool subscriber_up_ = false;
    bool worker_stale_ = false;  // pub/sub lost Redis: the worker's connection is likely dead too
    std::string durability_warned_;  // the durability problem last logged (once each)
    std::string last_error_;
    int subscriber_fd_ = -1;
    RoomEpochs epochs_;  // under mutex_

    std::unique_ptr<RedisConnection> connection_;  // the worker's
    std::chrono::steady_clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_{100};
    std::chrono::steady_clock::time_point next_heartbeat_{};
    std::thread worker_;
    std::thread subscriber_;
};

}  // namespace rp::sidecar
