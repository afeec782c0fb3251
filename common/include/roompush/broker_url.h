#pragma once
// `--broker`: where room messages meet. "memory" keeps everything in this process; a Redis URL
// shares rooms between sidecars (docs/scaling.md).
//   memory
//   redis://HOST[:PORT][/DB]        TCP, port 6379 by default
//   unix:/PATH/redis.sock[?db=DB]   a Unix-domain socket
//   sentinel://HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
//                                   the master Sentinel names MASTER (sentinel port 26379)
// Several Redis URLs separated by spaces are shards: rooms are spread over them by room id.
// A password is never part of the URL (it would show in `ps`): see --broker-password-file.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "roompush/error.h"

namespace rp {

struct BrokerUrl {
    enum class Kind { memory, redis_tcp, redis_unix, sentinel } kind = Kind::memory;
    std::string host;                                    // redis_tcp
    int port = 6379;                                     // redis_tcp
    std::string path;                                    // redis_unix
    std::vector<std::pair<std::string, int>> sentinels;  // sentinel: where to ask
    std::string master;                                  // sentinel: the name they know it by
    int db = 0;

    bool redis() const { return kind != Kind::memory; }
    // For logs and errors: "redis://127.0.0.1:6379/0", "unix:/run/redis.sock?db=0".
    std::string describe() const;
};

Result<BrokerUrl> parse_broker_url(std::string_view text);

// --broker as given: memory, one Redis, or several Redis shards.
struct BrokerSpec {
    std::vector<BrokerUrl> shards{BrokerUrl{}};  // never empty

    bool redis() const { return shards.front().redis(); }
    std::string describe() const;  // the shards' descriptions, separated by spaces
};

Result<BrokerSpec> parse_broker_spec(std::string_view text);

// The shard of `key` (a room, a job id) among `shards` (Lamping and Veach's jump consistent hash
// of FNV-1a): every process that lists the shards in the same order agrees.
std::size_t shard_of(std::string_view key, std::size_t shards);

}  // namespace rp
