#include "roompush/broker_url.h"

#include <charconv>
#include <cstdint>

namespace rp {
namespace {

constexpr int kMaxDb = 15;  // Redis' default `databases 16`

Error bad_url(std::string_view text, const std::string& why) {
    return make_error("invalid_broker",
                      "--broker " + std::string(text) + ": " + why +
                          " (expected memory, redis://HOST:PORT[/DB], unix:/PATH[?db=DB] or "
                          "sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB])");
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

bool valid_master_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

// sentinel://HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
Result<BrokerUrl> parse_sentinel(std::string_view text, std::string_view rest) {
    BrokerUrl url;
    url.kind = BrokerUrl::Kind::sentinel;
    if (rest.find('@') != std::string_view::npos) {
        return make_error("invalid_broker",
                          "--broker: a password does not belong in the URL (it shows in ps); "
                          "use --broker-password-file");
    }
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return bad_url(text, "the master's name is missing");
    std::string_view hosts = rest.substr(0, slash);
    std::string_view path = rest.substr(slash + 1);
    std::size_t db_slash = path.find('/');
    if (db_slash != std::string_view::npos) {
        if (!parse_int(path.substr(db_slash + 1), 0, kMaxDb, url.db)) {
            return bad_url(text, "the database must be 0 to 15");
        }
        path = path.substr(0, db_slash);
    }
    if (!valid_master_name(path)) return bad_url(text, "missing or invalid master name");
    url.master = std::string(path);
    for (bool more = true; more;) {
        std::size_t comma = hosts.find(',');
        more = comma != std::string_view::npos;
        std::string_view one = hosts.substr(0, comma);
        if (more) hosts.remove_prefix(comma + 1);
        auto sentinel = parse_tcp(text, std::string(one) + "/0");
        if (!sentinel) return sentinel.error();
        bool has_port = one.rfind(':') != std::string_view::npos;
        url.sentinels.emplace_back(sentinel->host, has_port ? sentinel->port : 26379);
        if (url.sentinels.size() > 16) return bad_url(text, "at most 16 sentinels");
    }
    if (url.sentinels.empty()) return bad_url(text, "no sentinel given");
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
        case Kind::sentinel: {
            std::string out = "sentinel://";
            for (const auto& [sentinel_host, sentinel_port] : sentinels) {
                if (out.size() > 11) out += ",";
                out += sentinel_host + ":" + std::to_string(sentinel_port);
            }
            return out + "/" + master + "/" + std::to_string(db);
        }
    }
    return "memory";
}

Result<BrokerUrl> parse_broker_url(std::string_view text) {
    if (text == "memory") return BrokerUrl{};
    if (text.starts_with("redis://")) return parse_tcp(text, text.substr(8));
    if (text.starts_with("unix:")) return parse_unix(text, text.substr(5));
    if (text.starts_with("sentinel://")) return parse_sentinel(text, text.substr(11));
    if (text.starts_with("rediss://")) return bad_url(text, "TLS to Redis is not supported");
    return bad_url(text, "unknown broker");
}

std::string BrokerSpec::describe() const {
    std::string out;
    for (const BrokerUrl& shard : shards) out += (out.empty() ? "" : " ") + shard.describe();
    return out;
}

Result<BrokerSpec> parse_broker_spec(std::string_view text) {
    BrokerSpec spec;
    spec.shards.clear();
    constexpr std::string_view kSpaces = " \t";
    while (true) {
        std::size_t start = text.find_first_not_of(kSpaces);
        if (start == std::string_view::npos) break;
        text.remove_prefix(start);
        std::string_view one = text.substr(0, text.find_first_of(kSpaces));
        text.remove_prefix(one.size());
        auto url = parse_broker_url(one);
        if (!url) return url.error();
        spec.shards.push_back(std::move(*url));
    }
    if (spec.shards.empty()) return bad_url(text, "empty");
    if (spec.shards.size() > 1) {
        for (const BrokerUrl& shard : spec.shards) {
            if (!shard.redis()) {
                return make_error("invalid_broker",
                                  "--broker: shards must all be Redis URLs (memory is one "
                                  "process's rooms and cannot be a shard)");
            }
        }
        for (std::size_t i = 0; i < spec.shards.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (spec.shards[i].describe() == spec.shards[j].describe()) {
                    return make_error(
                        "invalid_broker",
                        "--broker: the shard " + spec.shards[i].describe() + " is given twice");
                }
            }
        }
        if (spec.shards.size() > 64) {
            return make_error("invalid_broker", "--broker: at most 64 shards");
        }
    }
    return spec;
}

std::size_t shard_of(std::string_view key, std::size_t shards) {
    uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
    for (unsigned char c : key) hash = (hash ^ c) * 1099511628211ull;
    int64_t bucket = -1;
    int64_t next = 0;
    while (next < static_cast<int64_t>(shards)) {
        bucket = next;
        hash = hash * 2862933555777941757ull + 1;
        next = static_cast<int64_t>(
            static_cast<double>(bucket + 1) *
            (static_cast<double>(1ll << 31) / static_cast<double>((hash >> 33) + 1)));
    }
    return static_cast<std::size_t>(bucket < 0 ? 0 : bucket);
}

}  // namespace rp
