#pragma once
// Whether Redis keeps what it acknowledges. A publish is acked once Redis has run its script;
// if Redis then dies before the write reached its disk, the room's seq goes back and the
// messages acked meanwhile reach nobody, without a reset (tests/faults: redis-kill-slow-fsync).
// Only `appendonly yes` with `appendfsync always` writes before it answers (docs/scaling.md).

#include <optional>
#include <string>

namespace rp {
class RedisConnection;
}

namespace rp::sidecar {

// What is wrong with the durability of the Redis behind `connection`, in words for the log;
// nothing when it fsyncs before it answers, or when it will not say (CONFIG renamed away).
std::optional<std::string> durability_problem(RedisConnection& connection);

// The same judgement from INFO persistence's text and CONFIG GET appendfsync's value (empty:
// unknown), for the unit tests.
std::optional<std::string> durability_problem(const std::string& persistence_info,
                                              const std::string& appendfsync);

}  // namespace rp::sidecar
