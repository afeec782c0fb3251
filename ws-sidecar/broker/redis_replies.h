#pragma once
// The broker's replies from Redis, checked before use: a reply of another shape or type (another
// program's keys, a proxy, a bug) becomes a "broker_bad_reply" error, never a crash or a guess.

#include <string>

#include "broker.h"
#include "roompush/error.h"

struct redisReply;

namespace rp::sidecar {

// One stream entry as XRANGE gives it: [id, [field, value, ...]].
Result<BrokerEntry> parse_entry(const redisReply* reply);
// The fetch script's {epoch, head, entries}; entries that do not parse are left out and counted.
Result<RoomSnapshot> parse_snapshot(const std::string& room, const redisReply* reply);

}  // namespace rp::sidecar
