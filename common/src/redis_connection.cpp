#include "roompush/redis_connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace rp {

void ReplyFree::operator()(redisReply* reply) const { freeReplyObject(reply); }

namespace {

timeval to_timeval(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

redisContext* connect_to(const BrokerUrl& url, int timeout_ms) {
    timeval timeout = to_timeval(timeout_ms);
    if (url.kind == BrokerUrl::Kind::redis_unix) {
        return redisConnectUnixWithTimeout(url.path.c_str(), timeout);
    }
    return redisConnectWithTimeout(url.host.c_str(), url.port, timeout);
}

// The errors a sandbox gives a TCP connection it forbids: no such address family
// (RestrictAddressFamilies=AF_UNIX), refused by a firewall (IPAddressDeny=), no route (an empty
// PrivateNetwork=). Said plainly, since "Network is unreachable" points at the wrong thing.
std::string sandbox_hint(const BrokerUrl& url, int error) {
    if (url.kind == BrokerUrl::Kind::redis_unix) return "";
    if (error != EAFNOSUPPORT && error != EPERM && error != ENETUNREACH) return "";
    return " (if this runs under systemd: the unit must allow the broker's network; see "
           "\"More than one sidecar\" in docs/deploy.md)";
}

}  // namespace

Result<std::unique_ptr<RedisConnection>> RedisConnection::open(const BrokerUrl& url,
                                                               const RedisCredentials& credentials,
                                                               int timeout_ms) {
    redisContext* context = connect_to(url, timeout_ms);
    int connect_errno = errno;
    if (context == nullptr) return make_error("broker_io", "out of memory for a Redis connection");
    if (context->err != 0) {
        Error error =
            make_error("broker_io", "cannot connect to " + url.describe() + ": " + context->errstr +
                                        sandbox_hint(url, connect_errno));
        redisFree(context);
        return error;
    }
    std::unique_ptr<RedisConnection> connection(
        new RedisConnection(context, timeout_ms, url.describe()));
    timeval timeout = to_timeval(timeout_ms);
    redisSetTimeout(context, timeout);
    redisEnableKeepAlive(context);
    if (!credentials.password.empty()) {
        auto auth = credentials.user.empty()
                        ? connection->command({"AUTH", credentials.password})
                        : connection->command({"AUTH", credentials.user, credentials.password});
        if (!auth) {
            if (auth.error().code == "broker_io") return auth.error();
            return make_error("broker_auth",
                              url.describe() + " refused the credentials: " + auth.error().message);
        }
    }
    if (url.db != 0) {
        auto selected = connection->command({"SELECT", std::to_string(url.db)});
        if (!selected) return selected.error();
    }
    return connection;
}

RedisConnection::~RedisConnection() { redisFree(context_); }

void RedisConnection::wait_forever() { redisSetTimeout(context_, timeval{0, 0}); }

int RedisConnection::fd() const { return context_->fd; }

Error RedisConnection::io_error() {
    broken_ = true;
    // A read that timed out says EAGAIN ("Resource temporarily unavailable"): say what it means.
    if (context_->err == REDIS_ERR_IO &&
        std::strcmp(context_->errstr, std::strerror(EAGAIN)) == 0) {
        return make_error("broker_io", "Redis did not answer within " +
                                           std::to_string(timeout_ms_) +
                                           " ms (frozen or overloaded); reconnecting");
    }
    std::string why = context_->err != 0 ? context_->errstr : "connection lost";
    return make_error("broker_io", "Redis connection failed: " + why);
}

Result<ReplyPtr> RedisConnection::command(const std::vector<std::string>& argv) {
    if (auto appended = append(argv); !appended) return appended.error();
    return answer();
}

Status RedisConnection::append(const std::vector<std::string>& argv) {
    return append_views(std::vector<std::string_view>(argv.begin(), argv.end()));
}

Status RedisConnection::append_views(const std::vector<std::string_view>& argv) {
    if (broken_) return make_error("broker_io", "Redis connection is broken");
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    args.reserve(argv.size());
    lengths.reserve(argv.size());
    for (std::string_view arg : argv) {
        args.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), args.data(),
                               lengths.data()) != REDIS_OK) {
        return io_error();
    }
    return ok_status();
}

Result<ReplyPtr> RedisConnection::answer() {
    auto reply = next_reply();
    if (!reply) return reply;
    if ((*reply)->type == REDIS_REPLY_ERROR) {
        return make_error("broker_error", std::string((*reply)->str, (*reply)->len));
    }
    return reply;
}

Status RedisConnection::flush() {
    if (broken_) return make_error("broker_io", "Redis connection is broken");
    int done = 0;
    while (!done) {
        if (redisBufferWrite(context_, &done) != REDIS_OK) return io_error();
    }
    return ok_status();
}

Status RedisConnection::read_some() {
    if (broken_) return make_error("broker_io", "Redis connection is broken");
    if (redisBufferRead(context_) != REDIS_OK) return io_error();
    return ok_status();
}

Result<ReplyPtr> RedisConnection::parsed() {
    if (broken_) return make_error("broker_io", "Redis connection is broken");
    void* raw = nullptr;
    if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) return io_error();
    return ReplyPtr(static_cast<redisReply*>(raw));
}

Result<ReplyPtr> RedisConnection::next_reply() {
    if (broken_) return make_error("broker_io", "Redis connection is broken");
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return io_error();
    return ReplyPtr(static_cast<redisReply*>(raw));
}

bool is_array(const redisReply* reply, std::size_t at_least) {
    return reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements >= at_least;
}
bool is_string(const redisReply* reply) {
    return reply != nullptr &&
           (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS);
}
bool is_integer(const redisReply* reply) {
    return reply != nullptr && reply->type == REDIS_REPLY_INTEGER;
}
bool is_nil(const redisReply* reply) { return reply != nullptr && reply->type == REDIS_REPLY_NIL; }
std::string string_of(const redisReply* reply) { return std::string(reply->str, reply->len); }
long long integer_of(const redisReply* reply) { return reply->integer; }
const redisReply* element(const redisReply* reply, std::size_t index) {
    return is_array(reply, index + 1) ? reply->element[index] : nullptr;
}
std::size_t size_of(const redisReply* reply) { return is_array(reply) ? reply->elements : 0; }
Result<ReplyPtr> take_element(redisReply* array, std::size_t index) {
    if (!is_array(array, index + 1) || array->element[index] == nullptr) {
        return make_error("broker_bad_reply", "Redis answered with fewer elements than asked");
    }
    ReplyPtr taken(array->element[index]);
    array->element[index] = nullptr;
    if (taken->type == REDIS_REPLY_ERROR) return make_error("broker_error", string_of(taken.get()));
    return taken;
}

Error bad_reply(const char* what) {
    return make_error("broker_bad_reply", std::string("Redis answered ") + what +
                                              " with something roompush did not expect");
}

}  // namespace rp
