#pragma once
// What plain HTTP on the WebSocket socket gets (docs/websocket.md, "Endpoints"): /metrics for
// Prometheus, and the requests refused before an upgrade, answered as the app's errors are,
// {"error":{"code","message"}}. ws_server.cpp writes these with libwebsockets.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/error.h"

namespace rp::sidecar {

struct HttpAnswer {
    int status = 200;
    const char* content_type = "";
    std::string body;
    // One more header, its name with the colon as libwebsockets takes it ("Upgrade:"); or none.
    const char* extra_header = nullptr;
    const char* extra_value = nullptr;
    // An error: written at once, and the connection closed. Otherwise the headers go now, the
    // body when the socket is writeable, and the connection may carry another request.
    bool then_close = false;
};

// An error answer with a JSON body; `extra_header` as in HttpAnswer.
HttpAnswer json_error_answer(int status, const Error& error, const char* extra_header = nullptr,
                             const char* extra_value = nullptr);

// A request for `uri` (the path, without the query) that did not ask for an upgrade: the metrics
// for /metrics (`metrics_text` is called only then), 426 for a WebSocket endpoint, 404 for the
// rest. nginx lets /metrics through from loopback only.
HttpAnswer answer_plain_http(std::string_view uri,
                             const std::function<std::string()>& metrics_text);

// A browser page from another site must not open our rooms: with an allow-list, an upgrade
// whose Origin (empty: none sent) is not on it gets 403. nullopt: the upgrade may go on.
std::optional<HttpAnswer> refuse_origin(const std::vector<std::string>& allowed,
                                        const std::string& origin);

}  // namespace rp::sidecar
