#pragma once
// Per-room delivery (docs/scaling.md): a node subscribes, with Redis 7's sharded pub/sub
// (SSUBSCRIBE), to the channel of each room it has members in, and hears nothing of the others.
// One thread with one connection; other threads say which rooms they want, and the thread
// reconciles Redis' subscriptions with that, woken through an eventfd.
//
// A room's load must not miss a message published between the load and the subscription taking
// effect: want() takes what to do once the subscription is confirmed (the load), so that the
// load reads the stream only when every later message is sure to arrive by pub/sub.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "roompush/redis_connection.h"
#include "roompush/unix_socket.h"

namespace rp::sidecar {

// The channel of a room's live messages and presence; its hash tag is the room's keys' one, so a
// Redis Cluster keeps it on the room's shard.
std::string room_channel(const std::string& room);

class RedisSubscriber {
public:
    using Connect = std::function<Result<std::unique_ptr<RedisConnection>>()>;
    struct Events {
        std::function<void(const std::string& payload)> message;  // subscriber thread
        // Every message that had arrived is handed over: a moment to pass them on together.
        std::function<void()> idle;
        // Every wanted room is subscribed again after a (re)connection: what was published
        // meanwhile is in the streams.
        std::function<void()> resubscribed;
        // The connection could not be made, or (was_up) it broke.
        std::function<void(const Error&, bool was_up)> lost;
    };

    RedisSubscriber(Connect connect, Events events);
    ~RedisSubscriber();
    void start();
    void stop();

    // Any thread. `then` runs once the room's subscription is in effect: at once (on the
    // caller's thread) when it already is, else on the subscriber's thread.
    void want(const std::string& room, std::function<void()> then);
    void drop(const std::string& room);
    // Any thread: the connection is dropped and made again (a failover found a new master).
    void reconnect();
    bool up() const;

private:
    struct RoomState {
        bool wanted = false;
        bool subscribed = false;  // as Redis last confirmed
        bool pending = false;     // a (un)subscribe is on its way
        std::vector<std::function<void()>> then;
    };

    void run();
    bool serve(RedisConnection& connection);
    bool reconcile(RedisConnection& connection);
    std::vector<std::function<void()>> confirmed(const std::string& kind,
                                                 const std::string& channel);
    void wake();
    bool now_resubscribed();

    Connect connect_;
    Events events_;
    UniqueFd wake_fd_;
    mutable std::mutex mutex_;  // guards everything below
    std::unordered_map<std::string, RoomState> rooms_;
    std::vector<std::string> dirty_;  // rooms whose wish changed since the last reconcile
    bool stopping_ = false;
    bool up_ = false;
    int connection_fd_ = -1;  // the live connection's socket, for reconnect()
    // The rooms wanted when the connection was made, not yet confirmed (or dropped); once none
    // is left, `resubscribed` is told (resubscribe_told_).
    std::unordered_set<std::string> awaited_;
    bool resubscribe_told_ = false;
    std::thread thread_;
};

}  // namespace rp::sidecar
