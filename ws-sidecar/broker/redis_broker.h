#pragma once
// The shared broker: rooms in Redis (docs/scaling.md). Two threads of its own: the worker runs
// commands from a queue on one hiredis connection, many at once (redis_pipeline.h), and the
// subscriber hears the rooms this node has members in (redis_subscriber.h). Answers for the
// loop go through `post` (the sidecar's task queue plus lws_cancel_service), so the event loop
// never waits on Redis. One RedisBroker is one Redis (or one Sentinel group); shards are several
// of them behind a ShardedBroker.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "broker.h"
#include "publish_marks.h"
#include "redis_pipeline.h"
#include "redis_subscriber.h"
#include "room_epoch.h"
#include "roompush/broker_url.h"
#include "roompush/redis_connection.h"
#include "sidecar_metrics.h"

namespace rp::sidecar {

struct RedisBrokerConfig {
    BrokerUrl url;
    RedisCredentials credentials;     // --broker-user, --broker-password-file
    std::size_t stream_length = 100;  // MAXLEN of each room's stream (and the tail a join loads)
    unsigned dedupe_ttl_s = 86400;    // how long an idempotency key is remembered
    unsigned room_ttl_s = 7 * 86400;  // an idle room's keys expire after this
    std::string node_id;              // this sidecar in the cluster view
    unsigned heartbeat_ms = 2000;     // members are reported this often...
    unsigned member_ttl_ms = 6000;    // ...and forgotten this long after the last report
    int min_replicas =
        0;  // --broker-min-replicas: publishes acked once this many replicas have them
    // Called (under the broker's lock) when it goes up or down; unset: it sets broker_up itself.
    std::function<void()> state_changed;
};

class RedisBroker : public Broker {
public:
    using Post = std::function<void(std::function<void()>)>;
    // `shard`: this Redis' own figures (one of metrics.broker_shards).
    RedisBroker(RedisBrokerConfig config, SidecarMetrics& metrics, BrokerShardMetrics& shard,
                Post post);
    ~RedisBroker() override;

    bool shared() const override { return true; }
    Status start(BrokerListener listener) override;
    void stop() override;
    Result<PublishAck> publish(const ControlRequest& request, int64_t now_ms) override;
    void publish_async(const ControlRequest& request, int64_t now_ms, PublishDone done) override;
    Result<std::optional<HistoryPage>> history(const std::string& room, uint64_t since,
                                               std::size_t limit) override;
    void fetch(const std::string& room, std::optional<uint64_t> after) override;
    void forget(const std::string& room) override;
    void report_members(std::string json) override;
    Result<std::vector<std::string>> cluster_reports() override;
    void announce_presence(const std::string& room, const std::string& type,
                           const std::string& member) override;

    bool up();  // can take publishes now

private:
    // A job runs on the worker with the connection (null while Redis is away), alone.
    using Job = std::function<void(RedisConnection*)>;
    struct Work {
        RedisCommand command;  // pipelined with its neighbours...
        Job job;               // ...unless this is set
    };

    template <class T>
    Result<T> run_and_wait(std::function<Result<T>(RedisConnection*)> work);
    void enqueue(Work work);
    void worker_loop();
    void run_next(std::unique_lock<std::mutex>& lock);
    void mark(RedisCommand& command);
    void settle_without_connection(std::unique_lock<std::mutex>& lock);
    void drain_on_stop(std::unique_lock<std::mutex>& lock);
    void ensure_connected(std::unique_lock<std::mutex>& lock);
    void note_master(const std::string& where);
    void heartbeat(RedisConnection& connection);
    Result<PublishAck> publish_answered(const Result<ReplyPtr>& reply, bool own_id);
    Result<ReplyPtr> eval_fetch(RedisConnection& connection, std::vector<std::string> argv);
    RedisCommand fetch_command(const std::string& room, std::optional<uint64_t> after,
                               std::string epoch);
    void fetch_answered(const std::string& room, std::optional<uint64_t> after,
                        Result<ReplyPtr> reply);
    void hear(const std::string& payload);
    void hear_presence(const std::string& payload);
    void pass_on_heard();
    void resubscribed();
    void subscriber_lost(const Error& error, bool was_up);
    void set_state(bool worker_up, bool subscriber_up);
    void count_error();
    Error unavailable() const;
    Error no_answer();
    std::string new_epoch();

    RedisBrokerConfig config_;
    SidecarMetrics& metrics_;
    Post post_;
    BrokerListener listener_;
    BrokerShardMetrics& shard_;
    std::unique_ptr<RedisSubscriber> subscriber_;
    std::vector<std::function<void()>> heard_;  // the subscriber's, not yet passed on

    std::mutex mutex_;  // guards everything below
    std::condition_variable wake_;
    std::deque<Work> queue_;
    std::vector<std::pair<std::string, std::optional<uint64_t>>> waiting_fetches_;
    std::string members_json_;
    bool stopping_ = false;
    bool worker_up_ = false;
    bool subscriber_up_ = false;
    bool worker_stale_ = false;  // pub/sub lost Redis: the worker's connection is likely dead too
    bool subscribed_before_ = false;
    std::string durability_warned_;  // the durability problem last logged (once each)
    std::string last_error_;
    std::string last_master_;  // where the last connection went (a failover changes it)
    RoomEpochs epochs_;        // under mutex_
    std::string id_prefix_;    // of the idempotency keys the broker gives id-less publishes
    uint64_t next_id_ = 0;

    std::unique_ptr<RedisConnection> connection_;  // the worker's
    ScriptShas shas_;                              // the worker's
    PublishMarks marks_;  // the worker's: what connection_'s server was told (publish flags)
    std::chrono::steady_clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_{100};
    std::chrono::steady_clock::time_point next_heartbeat_{};
    std::thread worker_;
};

}  // namespace rp::sidecar
