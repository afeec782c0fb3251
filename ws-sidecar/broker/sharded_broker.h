#pragma once
// Several Redis servers (or Sentinel groups) for one cluster of sidecars (docs/scaling.md,
// "Shards"): each room lives on one shard, chosen by its id with a jump consistent hash over the
// shards in the order --broker lists them (every sidecar must list them in the same order;
// adding a shard at the end moves about 1/N of the rooms). A shard that is down affects only its
// rooms. Every shard carries every node's member report, so the cluster view needs any one.

#include <memory>
#include <vector>

#include "broker.h"
#include "redis_broker.h"
#include "roompush/broker_url.h"

namespace rp::sidecar {

class ShardedBroker : public Broker {
public:
    explicit ShardedBroker(std::vector<std::unique_ptr<RedisBroker>> shards);

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

private:
    RedisBroker& of(const std::string& room);

    std::vector<std::unique_ptr<RedisBroker>> shards_;
};

}  // namespace rp::sidecar
