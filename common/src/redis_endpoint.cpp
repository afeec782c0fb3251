#include "roompush/redis_endpoint.h"

namespace rp {
namespace {

// Sentinels are asked quickly, one after the other: one that is down must not hold up the rest.
constexpr int kSentinelTimeoutMs = 500;

Result<MasterAddress> ask_sentinel(const std::string& host, int port, const std::string& master) {
    BrokerUrl sentinel;
    sentinel.kind = BrokerUrl::Kind::redis_tcp;
    sentinel.host = host;
    sentinel.port = port;
    auto connection = RedisConnection::open(sentinel, {}, kSentinelTimeoutMs);
    if (!connection) return connection.error();
    auto reply = (*connection)->command({"SENTINEL", "get-master-addr-by-name", master});
    if (!reply) return reply.error();
    if (is_nil(reply->get())) {
        return make_error("broker_io",
                          "sentinel " + sentinel.describe() + " knows no master " + master);
    }
    return parse_master_address(reply->get());
}

// A server that is not (or no longer) the master would refuse our writes: not used.
Status check_master(RedisConnection& connection, const std::string& where) {
    auto role = connection.command({"ROLE"});
    if (!role) return role.error();
    const redisReply* kind = element(role->get(), 0);
    if (!is_string(kind)) return bad_reply("ROLE");
    if (string_of(kind) != "master") {
        return make_error("broker_io", where + " is a " + string_of(kind) +
                                           ", not the master (a failover is under way)");
    }
    return ok_status();
}

Result<std::unique_ptr<RedisConnection>> open_master(const BrokerUrl& url,
                                                     const RedisCredentials& credentials,
                                                     int timeout_ms) {
    Error last = make_error("broker_io", "no sentinel answered");
    for (const auto& [host, port] : url.sentinels) {
        auto address = ask_sentinel(host, port, url.master);
        if (!address) {
            last = address.error();
            continue;
        }
        BrokerUrl master;
        master.kind = BrokerUrl::Kind::redis_tcp;
        master.host = address->host;
        master.port = address->port;
        master.db = url.db;
        // A sentinel that lags may name a dead or demoted master: the next one is asked.
        auto connection = RedisConnection::open(master, credentials, timeout_ms);
        if (!connection) {
            if (connection.error().code != "broker_io") return connection.error();
            last = connection.error();
            continue;
        }
        std::string where = "the master " + url.master + " at " + master.describe();
        if (auto checked = check_master(**connection, where); !checked) {
            last = make_error("broker_io", checked.error().message);
            continue;
        }
        return connection;
    }
    return make_error("broker_io",
                      "no sentinel of " + url.describe() + " named a master: " + last.message);
}

}  // namespace

Result<MasterAddress> parse_master_address(const redisReply* reply) {
    const redisReply* host = element(reply, 0);
    const redisReply* port = element(reply, 1);
    if (size_of(reply) != 2 || !is_string(host) || !is_string(port)) {
        return bad_reply("SENTINEL get-master-addr-by-name");
    }
    MasterAddress address{string_of(host), 0};
    std::string digits = string_of(port);
    if (digits.empty() || digits.size() > 5 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
        return bad_reply("SENTINEL get-master-addr-by-name");
    }
    address.port = std::stoi(digits);
    if (address.host.empty() || address.port < 1 || address.port > 65535) {
        return bad_reply("SENTINEL get-master-addr-by-name");
    }
    return address;
}

Result<std::unique_ptr<RedisConnection>> open_redis(const BrokerUrl& url,
                                                    const RedisCredentials& credentials,
                                                    int timeout_ms) {
    if (url.kind == BrokerUrl::Kind::sentinel) return open_master(url, credentials, timeout_ms);
    return RedisConnection::open(url, credentials, timeout_ms);
}

}  // namespace rp
