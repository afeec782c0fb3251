#include "app_call.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "roompush/unix_socket.h"

namespace rp::cli {
namespace {

constexpr std::size_t kMaxAnswer = 16 << 20;

struct Endpoint {
    std::string host;
    std::string port = "80";
};

Result<Endpoint> endpoint_of(const std::string& base) {
    constexpr std::string_view kScheme = "http://";
    if (!base.starts_with(kScheme)) {
        return make_error("bad_url", "--app-url must start with http:// (got \"" + base + "\")");
    }
    std::string rest = base.substr(kScheme.size());
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (rest.empty() || rest.find('/') != std::string::npos) {
        return make_error("bad_url",
                          "--app-url is http://HOST[:PORT], no path (got \"" + base + "\")");
    }
    Endpoint endpoint;
    std::size_t colon = rest.rfind(':');
    if (rest.front() == '[') {  // [IPv6]:port
        std::size_t close = rest.find(']');
        if (close == std::string::npos) return make_error("bad_url", "an unclosed [ in --app-url");
        endpoint.host = rest.substr(1, close - 1);
        if (close + 1 < rest.size()) {
            if (rest[close + 1] != ':') return make_error("bad_url", "junk after ] in --app-url");
            endpoint.port = rest.substr(close + 2);
        }
    } else if (colon != std::string::npos) {
        endpoint.host = rest.substr(0, colon);
        endpoint.port = rest.substr(colon + 1);
    } else {
        endpoint.host = rest;
    }
    // A name or an IPv4 address, or the IPv6 address between brackets: nothing else reaches the
    // resolver or the Host header.
    bool bracketed = rest.front() == '[';
    const char* allowed = bracketed
                              ? "0123456789abcdefABCDEF:."
                              : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
    if (endpoint.host.find_first_not_of(allowed) != std::string::npos) {
        return make_error("bad_url", "--app-url's host is a name, an IPv4 address or [IPv6]");
    }
    bool port_ok = !endpoint.port.empty() && endpoint.port.size() <= 5 &&
                   endpoint.port.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoi(endpoint.port) > 0 && std::stoi(endpoint.port) < 65536;
    if (endpoint.host.empty() || !port_ok) {
        return make_error("bad_url", "--app-url needs a host and a port from 1 to 65535");
    }
    return endpoint;
}

Result<UniqueFd> connect_to(const Endpoint& endpoint, int timeout_ms) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int failed = ::getaddrinfo(endpoint.host.c_str(), endpoint.port.c_str(), &hints, &found);
        failed != 0) {
        return make_error("connect_failed",
                          "cannot resolve " + endpoint.host + ": " + ::gai_strerror(failed));
    }
    std::string why = "no address";
    for (addrinfo* at = found; at != nullptr; at = at->ai_next) {
        UniqueFd fd(::socket(at->ai_family, at->ai_socktype | SOCK_CLOEXEC, at->ai_protocol));
        if (!fd.valid()) continue;
        timeval limit{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        if (::connect(fd.get(), at->ai_addr, at->ai_addrlen) == 0) {
            ::freeaddrinfo(found);
            return fd;
        }
        why = std::strerror(errno);
    }
    ::freeaddrinfo(found);
    return make_error("connect_failed",
                      "cannot connect to " + endpoint.host + ":" + endpoint.port + ": " + why);
}

Result<AppAnswer> parse_answer(const std::string& raw) {
    std::size_t end = raw.find("\r\n\r\n");
    if (!raw.starts_with("HTTP/1.") || end == std::string::npos || raw.size() < 12) {
        return make_error("bad_answer", "the answer is not HTTP");
    }
    AppAnswer answer;
    std::string code = raw.substr(9, 3);
    if (code.find_first_not_of("0123456789") != std::string::npos) {
        return make_error("bad_answer", "the answer has no status code");
    }
    answer.status = std::stoi(code);
    answer.body = raw.substr(end + 4);
    return answer;
}

}  // namespace

Result<AppAnswer> call_app(const std::string& base, const std::string& method,
                           const std::string& target, int timeout_ms) {
    auto endpoint = endpoint_of(base);
    if (!endpoint) return endpoint.error();
    auto fd = connect_to(*endpoint, timeout_ms);
    if (!fd) return fd.error();
    std::string host =
        endpoint->host.find(':') != std::string::npos ? "[" + endpoint->host + "]" : endpoint->host;
    std::string request = method + " " + target + " HTTP/1.0\r\nHost: " + host + ":" +
                          endpoint->port +
                          "\r\nAccept: application/json\r\nContent-Length: 0\r\n"
                          "User-Agent: pushctl\r\n\r\n";
    if (auto sent = write_all(fd->get(), request); !sent) {
        return make_error("connect_failed", "cannot send to the app: " + sent.error().message);
    }
    std::string raw;
    char buffer[65536];
    for (;;) {
        ssize_t got = ::read(fd->get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return make_error("timeout", "the app did not answer within " +
                                             std::to_string(timeout_ms) +
                                             " ms (what was asked may still happen)");
        }
        if (got < 0) return make_error("io_error", std::string("read: ") + std::strerror(errno));
        if (got == 0) break;
        raw.append(buffer, static_cast<std::size_t>(got));
        if (raw.size() > kMaxAnswer) return make_error("bad_answer", "the answer is over 16 MiB");
    }
    return parse_answer(raw);
}

}  // namespace rp::cli
