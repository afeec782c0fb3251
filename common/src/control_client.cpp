#include "roompush/control_client.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

#include "roompush/control_codec.h"

namespace rp {

ControlClient::ControlClient(UniqueFd fd, std::string path)
    // Responses can be far longer than requests (a whole room's history): bounded, but generous.
    : fd_(std::move(fd)), path_(std::move(path)), reader_(kDefaultMaxControlLine * 64) {}

Result<ControlClient> ControlClient::connect(const std::string& socket_path, int timeout_ms) {
    auto fd = connect_unix(socket_path);
    if (!fd) return fd.error();
    timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    return ControlClient(std::move(*fd), socket_path);
}

Status ControlClient::send_line(std::string_view line) {
    std::string framed(line);
    framed.push_back('\n');
    if (auto sent = write_all(fd_.get(), framed); !sent) {
        return make_error("io_error", "sending to " + path_ + ": " + sent.error().message);
    }
    return ok_status();
}

Result<std::string> ControlClient::read_line() {
    for (;;) {
        if (auto item = reader_.next()) {
            if (item->kind == LineReader::Item::Kind::too_long) {
                return make_error("bad_response", "response line from " + path_ + " is too long");
            }
            return std::move(item->text);
        }
        char buffer[65536];
        ssize_t got = ::read(fd_.get(), buffer, sizeof buffer);
        if (got > 0) {
            reader_.feed(std::string_view(buffer, static_cast<size_t>(got)));
        } else if (got == 0) {
            return make_error("closed", path_ + " closed the connection");
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return make_error("timeout", "no answer from " + path_ + " in time");
        } else if (errno != EINTR) {
            return make_error("io_error", "reading " + path_ + ": " + std::strerror(errno));
        }
    }
}

Result<JsonPtr> ControlClient::call(std::string_view request_line) {
    if (auto sent = send_line(request_line); !sent) {
        // A server that refuses a connection says why and closes, possibly before our request
        // went out: its line is still there to read.
        if (auto line = read_line()) return decode_response(*line);
        return sent.error();
    }
    auto line = read_line();
    if (!line) return line.error();
    return decode_response(*line);
}

bool ControlClient::is_transport_error(const Error& error) {
    return error.code == "connect_failed" || error.code == "io_error" || error.code == "timeout" ||
           error.code == "closed" || error.code == "bad_socket_path";
}

bool ControlClient::is_retryable(const Error& error) {
    return is_transport_error(error) || error.code == "unavailable";
}

}  // namespace rp
