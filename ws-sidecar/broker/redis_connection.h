#pragma once
// One blocking hiredis connection (connect, AUTH, SELECT) and its commands, with every reply
// checked for its type before use. Used only on the broker's own threads, never on the loop.

#include <memory>
#include <string>
#include <vector>

#include "broker_url.h"
#include "roompush/error.h"

struct redisContext;
struct redisReply;

namespace rp::sidecar {

struct ReplyFree {
    void operator()(redisReply* reply) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

class RedisConnection {
public:
    // Error codes: "broker_io" (no connection: try again later), "broker_auth" (refused).
    static Result<std::unique_ptr<RedisConnection>> open(const BrokerUrl& url,
                                                         const std::string& password,
                                                         int timeout_ms);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // An error reply is "broker_error"; a lost connection "broker_io" (the connection is then
    // unusable: broken() is true).
    Result<ReplyPtr> command(const std::vector<std::string>& argv);
    // The next reply pushed by the server (pub/sub), blocking.
    Result<ReplyPtr> next_reply();
    bool broken() const { return broken_; }
    // Pub/sub waits for as long as it takes; commands keep their timeout.
    void wait_forever();
    int fd() const;

private:
    RedisConnection(redisContext* context, int timeout_ms)
        : context_(context), timeout_ms_(timeout_ms) {}
    Error io_error();

    redisContext* context_;
    int timeout_ms_;  // a command's reply must come within this
    bool broken_ = false;
};

// Reply checks for the parsers of the broker's replies.
bool is_array(const redisReply* reply, std::size_t at_least = 0);
bool is_string(const redisReply* reply);  // bulk or status
bool is_integer(const redisReply* reply);
bool is_nil(const redisReply* reply);
std::string string_of(const redisReply* reply);
long long integer_of(const redisReply* reply);
const redisReply* element(const redisReply* reply, std::size_t index);
std::size_t size_of(const redisReply* reply);

}  // namespace rp::sidecar
