#pragma once
// One blocking hiredis connection (connect, AUTH, SELECT) and its commands, with every reply
// checked for its type before use. Used only on the broker's own threads, never on the loop.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "roompush/broker_url.h"
#include "roompush/error.h"

struct redisContext;
struct redisReply;

namespace rp {

struct RedisCredentials {
    std::string user;      // --broker-user: an ACL user; empty: the default user
    std::string password;  // from --broker-password-file; empty: no AUTH
};

struct ReplyFree {
    void operator()(redisReply* reply) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

class RedisConnection {
public:
    // Error codes: "broker_io" (no connection: try again later), "broker_auth" (refused).
    // A url of kind redis_tcp or redis_unix; `user` empty: AUTH with the password alone.
    static Result<std::unique_ptr<RedisConnection>> open(const BrokerUrl& url,
                                                         const RedisCredentials& credentials,
                                                         int timeout_ms);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // An error reply is "broker_error"; a lost connection "broker_io" (the connection is then
    // unusable: broken() is true).
    Result<ReplyPtr> command(const std::vector<std::string>& argv);
    // Pipelining: append() buffers a command, answer() sends what is buffered and reads the
    // oldest reply not yet read (errors as for command()).
    Status append(const std::vector<std::string>& argv);
    Status append_views(const std::vector<std::string_view>& argv);  // the same, without copies
    Result<ReplyPtr> answer();
    // Pub/sub without blocking: flush() writes what append() buffered, read_some() takes what
    // the socket has (call it only when poll says readable), parsed() the next whole reply in
    // what was read, or null when there is none yet.
    Status flush();
    Status read_some();
    Result<ReplyPtr> parsed();
    // The next reply pushed by the server (pub/sub), blocking.
    Result<ReplyPtr> next_reply();
    bool broken() const { return broken_; }
    // Not to be used again (e.g. it turned out to reach a replica).
    void mark_broken() { broken_ = true; }
    // Pub/sub waits for as long as it takes; commands keep their timeout.
    void wait_forever();
    int fd() const;
    // Where it goes, as BrokerUrl::describe() says it ("redis://10.0.0.5:6379/0").
    const std::string& where() const { return where_; }

private:
    RedisConnection(redisContext* context, int timeout_ms, std::string where)
        : context_(context), timeout_ms_(timeout_ms), where_(std::move(where)) {}
    Error io_error();

    redisContext* context_;
    int timeout_ms_;  // a command's reply must come within this
    std::string where_;
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
// A reply of a shape we did not ask for (another program's keys, a proxy, a bug):
// "broker_bad_reply", never a crash or a guess.
Error bad_reply(const char* what);
std::size_t size_of(const redisReply* reply);
// Element `index` of an array reply, taken out of it (freeing the array skips it), as answer()
// gives a reply: an error element is "broker_error", a missing one "broker_bad_reply".
Result<ReplyPtr> take_element(redisReply* array, std::size_t index);

}  // namespace rp
