#pragma once
// Many commands in flight on one Redis connection (docs/scaling.md, "Pipelining"): a batch is
// written at once and its replies read in order, so a node's publishes cost one round trip per
// batch instead of one each. Scripts go by EVALSHA; a server that lost them (NOSCRIPT: a
// restart, SCRIPT FLUSH, a failover to a replica) gets them again and the commands are resent.

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "roompush/redis_connection.h"

namespace rp::sidecar {

enum class Script { none, publish, fetch };

struct RedisCommand {
    using Clock = std::chrono::steady_clock;
    // With a script, argv[1] is left empty and filled with its SHA1 when sent (EVALSHA). A
    // publish is the publish script's call for one message (redis_scripts.h); the publishes
    // queued together go to Redis as one call of it.
    Script script = Script::none;
    std::vector<std::string> argv;
    // Called exactly once, on the thread that runs the pipeline: with the reply, an error reply
    // ("broker_error") or "broker_io" when Redis could not be asked (or its answer never came).
    std::function<void(Result<ReplyPtr>)> done;
    // Not sent after this; a command whose answer was lost is sent again only when `resend`
    // (its effect is idempotent: a publish with its idempotency key, a read) and still in time.
    Clock::time_point deadline = Clock::time_point::max();
    bool resend = false;
    // Commands with the same key keep their order: one given up takes the later ones with it
    // (a room's publishes).
    std::string order_key;
};

// A publish's argv (RedisBroker::publish_async): EVALSHA, SHA1, "3", its 3 keys, "1", maxlen,
// room ttl, then its 10 own arguments, the last its flags (publish_marks.h).
namespace publish_args {
inline constexpr std::size_t kKeysAt = 3, kCommonAt = 7, kOwnAt = 9, kOwnCount = 10;
inline constexpr std::size_t kOwnHashAt = kKeysAt + 2, kFlagsAt = kOwnAt + kOwnCount - 1;
inline constexpr std::size_t kFieldAt = kFlagsAt - 1;  // "" unless the key is node-made
}  // namespace publish_args

// The SHA1s of the broker's scripts on one server, loaded when a connection opens.
class ScriptShas {
public:
    Status load(RedisConnection& connection);
    const std::string& sha(Script script) const;

private:
    std::string publish_;
    std::string fetch_;
};

// Runs `batch` on `connection`. Every command answered is done(); when the connection breaks,
// the commands whose answer did not come are returned, oldest first, for the caller to send
// again on the next connection or to fail. With min_replicas, a WAIT follows the batch, and its
// publishes are acknowledged only once that many replicas have them (a failover to a replica
// then loses none of them); fewer in time, and they fail "broker_io" (send again, same key).
std::deque<RedisCommand> run_pipeline(RedisConnection& connection, ScriptShas& shas,
                                      std::deque<RedisCommand> batch, int min_replicas = 0);

// What a command that cannot be sent any more is told.
void fail_command(RedisCommand& command, const Error& error);

}  // namespace rp::sidecar
