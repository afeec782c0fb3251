#include "broker_factory.h"

#include "memory_broker.h"
#include "redis_broker.h"
#include "roompush/log.h"
#include "roompush/wall_clock.h"
#include "sharded_broker.h"

namespace rp::sidecar {
namespace {

// Loop thread: what a shared broker hears becomes frames for this node's members.
BrokerListener registry_listener(RoomRegistry& registry, LoopPort& loop, RoomPresence& presence) {
    return {
        .message =
            [&registry, &loop](BrokerMessage message) {
                loop.wake(registry.apply_message(message, now_ms()));
            },
        .snapshot =
            [&registry, &loop](RoomSnapshot snapshot) {
                loop.wake(registry.apply_snapshot(snapshot, now_ms()));
            },
        .resubscribed = [&registry] { registry.resubscribed(); },
        .fetch_failed =
            [&registry, &loop](const std::string& room, bool load, const Error& error) {
                loop.wake(registry.fetch_failed(room, load, error));
            },
        .presence =
            [&registry, &loop, &presence](const PresenceChange& change) {
                loop.wake(
                    send_notice(registry, presence.relay(change.room, change.type, change.member)));
            },
    };
}

std::unique_ptr<RedisBroker> make_shard(const SidecarConfig& config, const BrokerUrl& url,
                                        SidecarMetrics& metrics, LoopPort& loop,
                                        std::function<void()> state_changed) {
    RedisBrokerConfig redis{
        .url = url,
        .credentials = config.broker_credentials,
        .stream_length = config.history.max_messages,
        .dedupe_ttl_s = config.broker_dedupe_ttl_s,
        .room_ttl_s = config.broker_room_ttl_s,
        .node_id = config.node_id,
        .min_replicas = config.broker_min_replicas,
        .state_changed = std::move(state_changed),
    };
    BrokerShardMetrics& shard = metrics.broker_shards.emplace_back(url.describe());
    return std::make_unique<RedisBroker>(
        std::move(redis), metrics, shard,
        [&loop](std::function<void()> task) { loop.post(std::move(task)); });
}

// One Redis, or a ShardedBroker over several. broker_up is 1 while every shard is up.
std::unique_ptr<Broker> make_redis_broker(const SidecarConfig& config, RoomRegistry& registry,
                                          SidecarMetrics& metrics, LoopPort& loop,
                                          RoomPresence& presence) {
    std::unique_ptr<Broker> broker;
    if (config.broker.shards.size() == 1) {
        broker = make_shard(config, config.broker.shards.front(), metrics, loop, nullptr);
    } else {
        auto all_up = [&metrics] {
            bool up = true;
            for (const BrokerShardMetrics& shard : metrics.broker_shards) up = up && shard.up;
            metrics.broker_up = up ? 1 : 0;
        };
        std::vector<std::unique_ptr<RedisBroker>> shards;
        for (const BrokerUrl& url : config.broker.shards) {
            shards.push_back(make_shard(config, url, metrics, loop, all_up));
        }
        metrics.broker_up = 0;
        broker = std::make_unique<ShardedBroker>(std::move(shards));
    }
    Broker* shared = broker.get();
    registry.set_fetcher([shared](const std::string& room, std::optional<uint64_t> after) {
        shared->fetch(room, after);
    });
    registry.set_forgetter([shared](const std::string& room) { shared->forget(room); });
    (void)broker->start(registry_listener(registry, loop, presence));
    log_info("broker").kv("broker", config.broker.describe()).kv("node", config.node_id);
    return broker;
}

}  // namespace

std::unique_ptr<Broker> make_broker(const SidecarConfig& config, RoomRegistry& registry,
                                    SidecarMetrics& metrics, LoopPort& loop,
                                    RoomPresence& presence) {
    if (config.broker.redis()) return make_redis_broker(config, registry, metrics, loop, presence);
    auto broker = std::make_unique<MemoryBroker>(loop, registry);
    (void)broker->start({});
    return broker;
}

}  // namespace rp::sidecar
