#include "http_answers.h"

#include <algorithm>

#include "roompush/json.h"

namespace rp::sidecar {

HttpAnswer json_error_answer(int status, const Error& error, const char* extra_header,
                             const char* extra_value) {
    HttpAnswer answer;
    answer.status = status;
    answer.content_type = "application/json";
    answer.body = to_json(error_object(error).get()) + "\n";
    answer.extra_header = extra_header;
    answer.extra_value = extra_value;
    answer.then_close = true;
    return answer;
}

HttpAnswer answer_plain_http(std::string_view uri,
                             const std::function<std::string()>& metrics_text) {
    if (uri == "/ws" || uri.starts_with("/ws/")) {
        return json_error_answer(
            426,  // Upgrade Required
            make_error("upgrade_required", std::string(uri) + " is a WebSocket endpoint: open it "
                                                              "with Upgrade: websocket "
                                                              "(docs/websocket.md)"),
            "Upgrade:", "websocket");
    }
    if (uri != "/metrics") {
        return json_error_answer(404, make_error("not_found", "nothing at " + std::string(uri)));
    }
    HttpAnswer answer;
    answer.status = 200;
    answer.content_type = "text/plain; version=0.0.4";
    answer.body = metrics_text();
    return answer;
}

std::optional<HttpAnswer> refuse_origin(const std::vector<std::string>& allowed,
                                        const std::string& origin) {
    if (allowed.empty() || std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) {
        return std::nullopt;
    }
    return json_error_answer(
        403,
        make_error("origin_not_allowed",
                   origin.empty() ? "this server requires an Origin header from its allowed list"
                                  : "WebSockets from " + origin + " are not allowed here"));
}

}  // namespace rp::sidecar
