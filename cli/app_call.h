#pragma once
// pushctl's calls to the app's operator routes (GET /jobs, DELETE /jobs/ID, …) through the
// site, as the machine itself: HTTP/1.0 on loopback (or wherever --app-url says), one request
// per connection, the whole answer read until the server closes.

#include <string>

#include "roompush/error.h"

namespace rp::cli {

struct AppAnswer {
    int status = 0;
    std::string body;
};

// `base`: http://HOST[:PORT] (a name, an IPv4 address, or [IPv6]). Errors: "bad_url" for a base
// that is not one, "connect_failed" when nothing answers there, "timeout" when the answer does
// not come within timeout_ms (each read), "io_error", "bad_answer" for a reply that is not HTTP.
Result<AppAnswer> call_app(const std::string& base, const std::string& method,
                           const std::string& target, int timeout_ms);

}  // namespace rp::cli
