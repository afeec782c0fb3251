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

int report(const Error& error, int code) {
    std::cerr << "pushctl: " << error.message;
    if (error.code != "error") std::cerr << " (" << error.code << ")";
    std::cerr << "\n";
    return code;
}

int report_call_error(const GlobalOptions& global, const Error& error) {
    if (error.code == "connect_failed" || error.code == "bad_socket_path") {
        std::cerr << "pushctl: " << error.message << "\n"
                  << "  Is roompush-sidecar running? Point pushctl at its control socket with "
                     "--socket PATH or ROOMPUSH_CONTROL (tried "
                  << global.socket << ").\n";
        return kCannotConnect;
    }
    if (error.code == "bad_response") {
        std::cerr << "pushctl: " << global.socket << " did not answer like roompush-sidecar: "
                  << error.message << "\n";
        return kSidecarError;
    }
    return report(error, kSidecarError);
}

void print_json(const cJSON* json) { std::cout << to_json(json) << "\n"; }

}  // namespace rp::cli
