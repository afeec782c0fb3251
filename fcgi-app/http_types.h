#pragma once
// Requests and responses as plain C++ values, so the app's logic never sees libfcgi.

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "roompush/error.h"
#include "roompush/json.h"

namespace rp::app {

// The request body, read in chunks. read() returns 0 at the end, -1 on a transport error.
class BodyReader {
public:
    virtual ~BodyReader() = default;
    virtual ssize_t read(char* buffer, std::size_t capacity) = 0;
};

struct HttpRequest {
    std::string method;
    std::string path;   // without the query
    std::string query;  // without the '?'
    std::string content_type;
    std::optional<std::size_t> content_length;
    std::string prefer;  // the Prefer header
    std::string remote_addr;
    BodyReader* body = nullptr;
};

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

HttpResponse json_response(int status, const cJSON* body);
// {"error":{"code","message"}}
HttpResponse error_response(int status, const Error& error);
const char* status_text(int status);

// Reads and throws away what is left of the body (bounded), so that nginx never sees its
// request cut off when the app answers early.
void drain_body(BodyReader& body, std::size_t limit);

// The value of `key` in an application/x-www-form-urlencoded query ("" if absent). Values here
// are plain numbers, so no percent-decoding is done.
std::string query_param(const std::string& query, std::string_view key);

}  // namespace rp::app
