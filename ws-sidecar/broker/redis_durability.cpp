#include "redis_durability.h"

#include "roompush/redis_connection.h"

namespace rp::sidecar {

std::optional<std::string> durability_problem(const std::string& persistence_info,
                                              const std::string& appendfsync) {
    if (persistence_info.find("aof_enabled:1") == std::string::npos) {
        return "Redis keeps no append-only file (appendonly no): when it restarts, every room "
               "starts again under a new epoch (clients get a reset) or, from an old snapshot, "
               "messages it acknowledged are lost; set appendonly yes and appendfsync always";
    }
    if (!appendfsync.empty() && appendfsync != "always") {
        return "Redis writes its append-only file to disk only every second (appendfsync " +
               appendfsync +
               "): if it dies, messages it already acknowledged can be lost "
               "without a reset; set appendfsync always";
    }
    return std::nullopt;
}

std::optional<std::string> durability_problem(RedisConnection& connection) {
    auto info = connection.command({"INFO", "persistence"});
    if (!info || !is_string(info->get())) return std::nullopt;
    std::string appendfsync;
    auto config = connection.command({"CONFIG", "GET", "appendfsync"});
    if (config && is_array(config->get(), 2) && is_string(element(config->get(), 1))) {
        appendfsync = string_of(element(config->get(), 1));
    }
    return durability_problem(string_of(info->get()), appendfsync);
}

}  // namespace rp::sidecar
