#include "sharded_broker.h"

namespace rp::sidecar {

ShardedBroker::ShardedBroker(std::vector<std::unique_ptr<RedisBroker>> shards)
    : shards_(std::move(shards)) {}

RedisBroker& ShardedBroker::of(const std::string& room) {
    return *shards_[shard_of(room, shards_.size())];
}

Status ShardedBroker::start(BrokerListener listener) {
    for (auto& shard : shards_) {
        if (auto started = shard->start(listener); !started) return started;
    }
    return ok_status();
}

void ShardedBroker::stop() {
    for (auto& shard : shards_) shard->stop();
}

Result<PublishAck> ShardedBroker::publish(const ControlRequest& request, int64_t now_ms) {
    return of(request.room).publish(request, now_ms);
}

void ShardedBroker::publish_async(const ControlRequest& request, int64_t now_ms, PublishDone done) {
    of(request.room).publish_async(request, now_ms, std::move(done));
}

Result<std::optional<HistoryPage>> ShardedBroker::history(const std::string& room, uint64_t since,
                                                          std::size_t limit) {
    return of(room).history(room, since, limit);
}

void ShardedBroker::fetch(const std::string& room, std::optional<uint64_t> after) {
    of(room).fetch(room, after);
}

void ShardedBroker::forget(const std::string& room) { of(room).forget(room); }

void ShardedBroker::report_members(std::string json) {
    for (auto& shard : shards_) shard->report_members(json);
}

// Any shard that answers has every node's report; the first one up is asked.
Result<std::vector<std::string>> ShardedBroker::cluster_reports() {
    Result<std::vector<std::string>> last =
        make_error("unavailable", "no Redis shard is reachable");
    for (auto& shard : shards_) {
        if (!shard->up()) continue;
        last = shard->cluster_reports();
        if (last) return last;
    }
    return last;
}

void ShardedBroker::announce_presence(const std::string& room, const std::string& type,
                                      const std::string& member) {
    of(room).announce_presence(room, type, member);
}

}  // namespace rp::sidecar
