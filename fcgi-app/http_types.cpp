#include "http_types.h"

namespace rp::app {

HttpResponse json_response(int status, const cJSON* body) {
    HttpResponse response;
    response.status = status;
    response.headers.emplace_back("Content-Type", "application/json");
    response.headers.emplace_back("Cache-Control", "no-store");
    response.body = to_json(body) + "\n";
    return response;
}

HttpResponse error_response(int status, const Error& error) {
    return json_response(status, error_object(error).get());
}

const char* status_text(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 411:
            return "Length Required";
        case 413:
            return "Content Too Large";
        case 415:
            return "Unsupported Media Type";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Unknown";
    }
}

void drain_body(BodyReader& body, std::size_t limit) {
    char buffer[65536];
    std::size_t total = 0;
    while (total < limit) {
        ssize_t got = body.read(buffer, sizeof buffer);
        if (got <= 0) return;
        total += static_cast<std::size_t>(got);
    }
}

std::string query_param(const std::string& query, std::string_view key) {
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t end = query.find('&', start);
        if (end == std::string::npos) end = query.size();
        std::string_view pair(query.data() + start, end - start);
        std::size_t equals = pair.find('=');
        if (pair.substr(0, equals) == key) {
            return equals == std::string_view::npos ? "" : std::string(pair.substr(equals + 1));
        }
        start = end + 1;
    }
    return "";
}

}  // namespace rp::app
