#pragma once
// `--broker`: where room messages meet. "memory" keeps everything in this process; a Redis URL
// shares rooms between sidecars (docs/scaling.md).
//   memory
//   redis://HOST[:PORT][/DB]        TCP, port 6379 by default
//   unix:/PATH/redis.sock[?db=DB]   a Unix-domain socket
// A password is never part of the URL (it would show in `ps`): see --broker-password-file.

#include <string>
#include <string_view>

#include "roompush/error.h"

namespace rp::sidecar {

struct BrokerUrl {
    enum class Kind { memory, redis_tcp, redis_unix } kind = Kind::memory;
    std::string host;  // redis_tcp
    int port = 6379;   // redis_tcp
    std::string path;  // redis_unix
    int db = 0;

    bool redis() const { return kind != Kind::memory; }
    // For logs and errors: "redis://127.0.0.1:6379/0", "unix:/run/redis.sock?db=0".
    std::string describe() const;
};

Result<BrokerUrl> parse_broker_url(std::string_view text);

}  // namespace rp::sidecar
