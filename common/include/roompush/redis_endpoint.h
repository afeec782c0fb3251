#pragma once
// Where a broker's connections go (docs/scaling.md): the one Redis a redis:// or unix: URL
// names, or, for sentinel://, the master the sentinels name now. Asked again for every new
// connection, so a failover is followed by reconnecting: a lost connection, or a write refused
// READONLY because the server we reached was demoted.

#include <memory>
#include <string>

#include "roompush/broker_url.h"
#include "roompush/redis_connection.h"

namespace rp {

// A sentinel's answer for the master, checked: "HOST", PORT.
struct MasterAddress {
    std::string host;
    int port = 0;
};
Result<MasterAddress> parse_master_address(const redisReply* reply);

// "broker_io" when nothing can be reached now (the caller retries with backoff).
Result<std::unique_ptr<RedisConnection>> open_redis(const BrokerUrl& url,
                                                    const RedisCredentials& credentials,
                                                    int timeout_ms);

}  // namespace rp
