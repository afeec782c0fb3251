#pragma once
// A blocking client of the sidecar's control socket, for pushctl and the app's push sender.

#include <string>
#include <string_view>

#include "roompush/error.h"
#include "roompush/json.h"
#include "roompush/line_reader.h"
#include "roompush/unix_socket.h"

namespace rp {

class ControlClient {
public:
    // timeout_ms bounds every send and every wait for a response line.
    static Result<ControlClient> connect(const std::string& socket_path, int timeout_ms);

    // Sends one request line and returns the decoded response (see decode_response).
    Result<JsonPtr> call(std::string_view request_line);

    Status send_line(std::string_view line);
    Result<std::string> read_line();

    // True for errors of the transport (cannot connect, connection lost, timeout) rather than
    // an answer from the sidecar: the caller may retry these.
    static bool is_transport_error(const Error& error);
    // An answer that says "not now" (the sidecar's loop or its Redis broker is away): the same
    // request may succeed later, so an outbox keeps it. Transport errors are retryable too.
    static bool is_retryable(const Error& error);

private:
    ControlClient(UniqueFd fd, std::string path);

    UniqueFd fd_;
    std::string path_;
    LineReader reader_;
};

}  // namespace rp
