#include "broker_url.h"

#include <charconv>

namespace rp::sidecar {
namespace {

constexpr int kMaxDb = 15;  // Redis' default `databases 16`

Error bad_url(std::string_view text, const std::string& why) {
    return make_error("invalid_broker",
                      "--broker " + std::string(text) + ": " + why +
                          " (expected memory, redis://HOST:PORT[/DB] or unix:/PATH[?db=DB])");
}

bool parse_int(std::string_view text, int low, int high, int& out) {
    if (text.empty() || text.size() > 6) return false;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    return error == std::errc() && end == text.data() + text.size() && out >= low && out <= high;
}

bool valid_host(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    for (char c : host) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

Result<BrokerUrl> parse_tcp(std::string_view text, std::string_view rest) {
    BrokerUrl url;
    url.kind = BrokerUrl::Kind::redis_tcp;
    if (rest.find('@') != std::string_view::npos) {
        // The URL is not echoed: it holds a secret.
        return make_error("invalid_broker",
                          "--broker: a password does not belong in the URL (it shows in ps); "
                          "use --broker-password-file");
    }
    std::string_view authority = rest.substr(0, rest.find('/'));
    if (authority.size() < rest.size()) {
        std::string_view db = rest.substr(authority.size() + 1);
        if (!parse_int(db, 0, kMaxDb, url.db)) return bad_url(text, "the database must be 0 to 15");
    }
    std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
        if (!parse_int(authority.substr(colon + 1), 1, 65535, url.port)) {
            return bad_url(text, "the port must be 1 to 65535");
        }
        authority = authority.substr(0, colon);
    }
    if (!valid_host(authority)) return bad_url(text, "missing or invalid host");
    url.host = std::string(authority);
    return url;
}

Result<BrokerUrl> parse_unix(std::string_view text, std::string_view rest) {
    BrokerUrl url;
    url.kind = BrokerUrl::Kind::redis_unix;
    if (rest.starts_with("//")) rest.remove_prefix(2);  // unix:///path is accepted too
    std::size_t query = rest.find('?');
    if (query != std::string_view::npos) {
        std::string_view param = rest.substr(query + 1);
        if (!param.starts_with("db=") || !parse_int(param.substr(3), 0, kMaxDb, url.db)) {
            return bad_url(text, "the only parameter is db=0..15");
        }
        rest = rest.substr(0, query);
    }
    if (!rest.starts_with('/') || rest.size() < 2)
        return bad_url(text, "the path must be absolute");
    if (rest.size() > 107) return bad_url(text, "the socket path is too long");
    url.path = std::string(rest);
    return url;
}

}  // namespace

std::string BrokerUrl::describe() const {
    switch (kind) {
        case Kind::memory:
            return "memory";
        case Kind::redis_tcp:
            return "redis://" + host + ":" + std::to_string(port) + "/" + std::to_string(db);
        case Kind::redis_unix:
            return "unix:" + path + "?db=" + std::to_string(db);
    }
    return "memory";
}

Result<BrokerUrl> parse_broker_url(std::string_view text) {
    if (text == "memory") return BrokerUrl{};
    if (text.starts_with("redis://")) return parse_tcp(text, text.substr(8));
    if (text.starts_with("unix:")) return parse_unix(text, text.substr(5));
    if (text.starts_with("rediss://")) return bad_url(text, "TLS to Redis is not supported");
    return bad_url(text, "unknown broker");
}

}  // namespace rp::sidecar
