#include "sidecar_call.h"

#include <iostream>

namespace rp::cli {

Result<ControlClient> connect(const GlobalOptions& global) {
    return ControlClient::connect(global.socket, global.timeout_ms);
}

Result<JsonPtr> call(const GlobalOptions& global, const std::string& line) {
    auto client = connect(global);
    if (!client) return client.error();
    return client->call(line);
}

void print_json(const cJSON* json) { std::cout << to_json(json) << "\n"; }

}  // namespace rp::cli
