#include "shared_jobs.h"

#include <poll.h>

#include <algorithm>
#include <chrono>

#include "roompush/json.h"
#include "roompush/log.h"
#include "roompush/redis_endpoint.h"

namespace rp::app {
namespace {

// A command's reply within this, and never more than a quarter of a lease: a node waiting on
// Redis must still renew its leases in time.
// A node's liveness key must have been gone this long, besides two scans, before its entries
// go back to the stream: a live node that was cut off renews within a reconnect pause and a
// third of a lease of Redis' return, and must not see its running jobs run elsewhere.
constexpr int kMaxTimeoutMs = 2000;
constexpr auto kReconnectPause = std::chrono::seconds(1);
constexpr const char* kRunning = "rp:jobs:running";
constexpr const char* kIndex = "rp:jobs:index";
// Seen without a lease this many scans in a row (half a lease apart) before a job is taken
// over: a node that has just got Redis back renews within a third of a lease.
constexpr int kLapsedScans = 2;

// Entries of a dead node moved back per script call: one call must stay short for Redis.
constexpr int kRequeueBatch = 200;

std::string node_key(const std::string& node) { return "rp:jobs:node:" + node; }
std::string lease_key(const std::string& id) { return job_key(id) + ":lease"; }
std::string announce_key(const std::string& node) { return "rp:jobs:to-announce:" + node; }
std::string ask_channel(const std::string& node) { return "rp:jobs:ask:" + node; }

// KEYS: job hash, index. ARGV: node, json, ttl s (0: none), created ms, id. Not over another
// node's final state.
constexpr const char* kPut =
    "local ended = redis.call('HGET', KEYS[1], 'ended_by')\n"
    "if ended and ended ~= ARGV[1] then\n"
    "  if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end\n"
    "  return 0\n"
    "end\n"
    "if ARGV[6] == '1' and not ended then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'json', ARGV[2], 'node', ARGV[1])\n"
    "if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end\n"
    "redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])\n"
    "return 1\n";

// KEYS: job hash, lease, running set. ARGV: id, node, lease ms. A new run of this node's job,
// unless another node ended it: then {0, json}.
constexpr const char* kStartRunning =
    "local ended = redis.call('HGET', KEYS[1], 'ended_by')\n"
    "if ended then return {0, redis.call('HGET', KEYS[1], 'json')} end\n"
    "redis.call('PERSIST', KEYS[1])\n"
    "redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])\n"
    "redis.call('SADD', KEYS[3], ARGV[1])\n"
    "return {1}\n";

// KEYS: job hash, lease, running set. ARGV: id, node, json, ttl s. Returns {1} when this node's
// final state was written, {0, json} when another node's came first.
constexpr const char* kEnd =
    "local ended = redis.call('HGET', KEYS[1], 'ended_by')\n"
    "if ended and ended ~= ARGV[2] then return {0, redis.call('HGET', KEYS[1], 'json')} end\n"
    "redis.call('HSET', KEYS[1], 'json', ARGV[3], 'node', ARGV[2], 'ended_by', ARGV[2])\n"
    "if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end\n"
    "redis.call('SREM', KEYS[3], ARGV[1])\n"
    "if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end\n"
    "return {1}\n";

// KEYS: job hash, lease, running set, this node's to-announce set. ARGV: id, node, json,
// ttl s, the json the decision was made on. Ends a job whose lease lapsed, unless its node
// renewed it or wrote anything meanwhile.
constexpr const char* kTakeOver =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "if redis.call('HEXISTS', KEYS[1], 'entry') == 1 then return 0 end\n"
    "if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then return 0 end\n"
    "if redis.call('HEXISTS', KEYS[1], 'ended_by') == 1 then\n"
    "  redis.call('SREM', KEYS[3], ARGV[1])\n"
    "  return 0\n"
    "end\n"
    "if redis.call('HGET', KEYS[1], 'json') ~= ARGV[5] then return 0 end\n"
    "redis.call('SREM', KEYS[3], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'json', ARGV[3], 'ended_by', ARGV[2])\n"
    "redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])\n"
    "return 1\n";

// KEYS: job hash, work stream. ARGV: id, room, priority, group. Not for a job that has ended
// (cancelled while its upload was being answered). The group is made with the first entry.
constexpr const char* kOffer =
    "if redis.call('HEXISTS', KEYS[1], 'ended_by') == 1 then return 0 end\n"
    "redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[4], '0', 'MKSTREAM')\n"
    "local old = redis.call('HGET', KEYS[1], 'entry')\n"
    "if old then\n"
    "  redis.call('XACK', KEYS[2], ARGV[4], old)\n"
    "  redis.call('XDEL', KEYS[2], old)\n"
    "end\n"
    "local entry = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'room', ARGV[2],\n"
    "                         'priority', ARGV[3])\n"
    "redis.call('HSET', KEYS[1], 'entry', entry)\n"
    "return 1\n";

// KEYS: job hash, work stream. ARGV: group.
constexpr const char* kWorkDone =
    "local entry = redis.call('HGET', KEYS[1], 'entry')\n"
    "if not entry then return 0 end\n"
    "redis.call('XACK', KEYS[2], ARGV[1], entry)\n"
    "redis.call('XDEL', KEYS[2], entry)\n"
    "redis.call('HDEL', KEYS[1], 'entry')\n"
    "return 1\n";

// KEYS: work stream. ARGV: group. Entries no consumer has been given yet.
constexpr const char* kWaiting =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])\n"
    "if not ok then return redis.call('XLEN', KEYS[1]) end\n"
    "return redis.call('XLEN', KEYS[1]) - pending[1]\n";

// KEYS: work stream, the node's liveness key. ARGV: group, node, batch. Unless the node came
// back, its unfinished entries go to the end of the stream as new entries (the job hash names
// the new one); entries of jobs that ended, or are gone, are only dropped.
constexpr const char* kRequeue =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end\n"
    "local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[3]),\n"
    "                           ARGV[2])\n"
    "local moved = 0\n"
    "for _, entry in ipairs(pending) do\n"
    "  local old = entry[1]\n"
    "  local found = redis.call('XRANGE', KEYS[1], old, old)\n"
    "  redis.call('XACK', KEYS[1], ARGV[1], old)\n"
    "  redis.call('XDEL', KEYS[1], old)\n"
    "  local fields = found[1] and found[1][2]\n"
    "  local id = nil\n"
    "  if fields then\n"
    "    for i = 1, #fields, 2 do if fields[i] == 'id' then id = fields[i + 1] end end\n"
    "  end\n"
    "  local job = id and ('rp:job:{' .. id .. '}')\n"
    "  if job and redis.call('EXISTS', job) == 1 and\n"
    "     redis.call('HEXISTS', job, 'ended_by') == 0 then\n"
    "    local new = redis.call('XADD', KEYS[1], '*', unpack(fields))\n"
    "    redis.call('HSET', job, 'entry', new)\n"
    "    moved = moved + 1\n"
    "  end\n"
    "end\n"
    "if #pending == 0 then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) end\n"
    "return moved\n";

bool is_readonly(const Result<ReplyPtr>& reply) {
    return !reply && reply.error().code == "broker_error" &&
           reply.error().message.starts_with("READONLY");
}

// {1} or {0, json}, as kStartRunning and kEnd answer: nullopt, or the other node's record.
Result<std::optional<std::string>> won_or_theirs(const redisReply* reply, const char* what) {
    const redisReply* first = element(reply, 0);
    if (!is_integer(first)) return bad_reply(what);
    if (integer_of(first) == 1) return std::optional<std::string>();
    const redisReply* theirs = element(reply, 1);
    if (!is_string(theirs)) return bad_reply(what);
    return std::optional<std::string>(string_of(theirs));
}

}  // namespace

std::string job_key(const std::string& id) { return "rp:job:{" + id + "}"; }

SharedJobs::SharedJobs(SharedJobsConfig config)
    : config_(std::move(config)),
      timeout_ms_(std::min<int>(kMaxTimeoutMs, static_cast<int>(config_.lease_ms / 4))) {
    for (const BrokerUrl& url : config_.store.shards) {
        shards_.push_back(std::make_unique<Shard>());
        shards_.back()->url = url;
    }
}

std::size_t SharedJobs::home(const std::string& id) const { return shard_of(id, shards_.size()); }

SharedJobs::~SharedJobs() { stop(); }

template <typename Call>
auto SharedJobs::with_connection(std::size_t shard, Call call)
    -> decltype(call(std::declval<RedisConnection&>())) {
    Shard& one = *shards_[shard];
    std::lock_guard lock(one.mutex);
    if (!one.connection || one.connection->broken()) {
        auto now = std::chrono::steady_clock::now();
        if (now < one.retry_connect_at) {
            return make_error("broker_io",
                              "Redis (" + one.url.describe() + ") was unreachable a moment ago");
        }
        auto opened = open_redis(one.url, config_.credentials, timeout_ms_);
        if (!opened) {
            one.retry_connect_at = now + kReconnectPause;
            return opened.error();
        }
        one.connection = std::move(*opened);
    }
    auto result = call(*one.connection);
    // A timeout or a cut: the next callers fail fast for a moment instead of each waiting for
    // a timeout of its own.
    if (one.connection->broken())
        one.retry_connect_at = std::chrono::steady_clock::now() + kReconnectPause;
    return result;
}

Result<ReplyPtr> SharedJobs::run(std::size_t shard, const std::vector<std::string>& argv) {
    return with_connection(shard, [&](RedisConnection& redis) {
        auto reply = redis.command(argv);
        // A demoted master: the next call asks Sentinel again (redis_endpoint.h).
        if (is_readonly(reply)) redis.mark_broken();
        return reply;
    });
}

// Pipelined; every reply is read, so that the connection stays in step whatever one says.
Status SharedJobs::run_all(std::size_t shard,
                           const std::vector<std::vector<std::string>>& commands) {
    auto replies = run_each(shard, commands);
    if (!replies) return replies.error();
    for (auto& reply : *replies) {
        if (!reply) return reply.error();
    }
    return ok_status();
}

void SharedJobs::put(const Job& job, const std::string& json) {
    bool final = is_finished(job.status);
    auto done = run(home(job.id), {"EVAL", kPut, "2", job_key(job.id), kIndex, config_.node, json,
                                   final ? std::to_string(config_.keep_s) : "0",
                                   std::to_string(job.created_ms), job.id, final ? "1" : "0"});
    if (!done) {
        log_warn("shared_job_not_written")
            .kv("job", job.id)
            .kv("error", done.error().message)
            .kv("effect", "other nodes see an older state until the next save");
    }
}

Result<std::optional<std::string>> SharedJobs::get(const std::string& id) {
    auto reply = run(home(id), {"HGET", job_key(id), "json"});
    if (!reply) return reply.error();
    if (is_nil(reply->get())) return std::optional<std::string>();
    if (!is_string(reply->get())) return bad_reply("HGET of a job");
    return std::optional<std::string>(string_of(reply->get()));
}

Result<Job> SharedJobs::get_job(const std::string& id) {
    auto stored = get(id);
    if (!stored) {
        return make_error("job_store_unavailable",
                          "the job store cannot be reached: " + stored.error().message);
    }
    if (!*stored) return make_error("not_found", "no job " + id);
    return job_from_text(**stored);
}

Result<std::optional<std::string>> SharedJobs::ended_by_other(const std::string& id) {
    auto reply = run(home(id), {"HMGET", job_key(id), "ended_by", "json"});
    if (!reply) return reply.error();
    const redisReply* ended = element(reply->get(), 0);
    const redisReply* json = element(reply->get(), 1);
    if (!is_string(ended) || !is_string(json) || string_of(ended) == config_.node) {
        return std::optional<std::string>();
    }
    return std::optional<std::string>(string_of(json));
}

Result<std::optional<std::string>> SharedJobs::holder(const std::string& id) {
    auto reply = run(home(id), {"HGET", job_key(id), "node"});
    if (!reply) return reply.error();
    if (is_nil(reply->get())) return std::optional<std::string>();
    if (!is_string(reply->get())) return bad_reply("HGET of a job's node");
    return std::optional<std::string>(string_of(reply->get()));
}

Result<long long> SharedJobs::ask(const std::string& node, std::string_view what,
                                  const std::string& id) {
    auto reply = run(0, {"PUBLISH", ask_channel(node), std::string(what) + " " + id});
    if (!reply) return reply.error();
    if (!is_integer(reply->get())) return bad_reply("PUBLISH");
    return integer_of(reply->get());
}

// Each shard's index read a page at a time from its own offset, merged by creation time (newest
// first, ties by id as Redis orders them): every id is read once, however deep the walk.
Status SharedJobs::walk_newest(std::size_t page,
                               const std::function<bool(const std::vector<std::string>&)>& take) {
    struct Cursor {
        std::deque<std::pair<double, std::string>> buffered;
        std::size_t offset = 0;
        bool ended = false;
    };
    std::vector<Cursor> cursors(shards_.size());
    auto refill = [&](std::size_t shard) -> Status {
        Cursor& cursor = cursors[shard];
        if (!cursor.buffered.empty() || cursor.ended) return ok_status();
        auto reply = run(shard, {"ZREVRANGE", kIndex, std::to_string(cursor.offset),
                                 std::to_string(cursor.offset + page - 1), "WITHSCORES"});
        if (!reply) return reply.error();
        if (!is_array(reply->get())) return bad_reply("ZREVRANGE of the jobs");
        std::size_t got = size_of(reply->get()) / 2;
        for (std::size_t i = 0; i < got; ++i) {
            const redisReply* id = element(reply->get(), 2 * i);
            const redisReply* score = element(reply->get(), 2 * i + 1);
            if (!is_string(id) || !is_string(score)) continue;
            cursor.buffered.emplace_back(std::strtod(string_of(score).c_str(), nullptr),
                                         string_of(id));
        }
        cursor.offset += got;
        cursor.ended = got < page;
        return ok_status();
    };
    for (;;) {
        std::vector<std::string> ids;
        while (ids.size() < page) {
            std::optional<std::size_t> newest;
            for (std::size_t shard = 0; shard < cursors.size(); ++shard) {
                if (auto filled = refill(shard); !filled) return filled;
                if (cursors[shard].buffered.empty()) continue;
                if (!newest ||
                    cursors[shard].buffered.front() > cursors[*newest].buffered.front()) {
                    newest = shard;
                }
            }
            if (!newest) break;  // every shard's index is read
            ids.push_back(std::move(cursors[*newest].buffered.front().second));
            cursors[*newest].buffered.pop_front();
        }
        if (ids.empty() || !take(ids) || ids.size() < page) return ok_status();
    }
}

Result<std::vector<Result<ReplyPtr>>> SharedJobs::run_each(
    std::size_t shard, const std::vector<std::vector<std::string>>& commands) {
    if (commands.empty()) return std::vector<Result<ReplyPtr>>();
    return with_connection(
        shard, [&](RedisConnection& redis) -> Result<std::vector<Result<ReplyPtr>>> {
            for (const auto& argv : commands) {
                if (auto appended = redis.append(argv); !appended) {
                    redis.mark_broken();
                    return appended.error();
                }
            }
            std::vector<Result<ReplyPtr>> replies;
            for (std::size_t i = 0; i < commands.size(); ++i) {
                auto reply = redis.answer();
                if (!reply && reply.error().code != "broker_error") {
                    redis.mark_broken();  // the replies still due are lost with the connection
                    return reply.error();
                }
                if (is_readonly(reply)) redis.mark_broken();
                replies.push_back(std::move(reply));
            }
            return replies;
        });
}

Result<std::vector<Result<ReplyPtr>>> SharedJobs::run_each_home(
    const std::vector<std::string>& ids, const std::vector<std::vector<std::string>>& commands) {
    std::vector<std::vector<std::size_t>> by_shard(shards_.size());
    for (std::size_t i = 0; i < ids.size(); ++i) by_shard[home(ids[i])].push_back(i);
    std::vector<Result<ReplyPtr>> replies;
    for (std::size_t i = 0; i < ids.size(); ++i) replies.emplace_back(ReplyPtr());
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        std::vector<std::vector<std::string>> mine;
        for (std::size_t i : by_shard[shard]) mine.push_back(commands[i]);
        auto answers = run_each(shard, mine);
        if (!answers) return answers.error();
        for (std::size_t k = 0; k < by_shard[shard].size(); ++k) {
            replies[by_shard[shard][k]] = std::move((*answers)[k]);
        }
    }
    return replies;
}

// One round trip per shard for a page of the listing.
Result<std::vector<std::optional<std::string>>> SharedJobs::get_all(
    const std::vector<std::string>& ids) {
    std::vector<std::vector<std::string>> commands;
    for (const std::string& id : ids) commands.push_back({"HGET", job_key(id), "json"});
    auto replies = run_each_home(ids, commands);
    if (!replies) return replies.error();
    std::vector<std::optional<std::string>> records;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto& answer = (*replies)[i];
        const redisReply* reply = answer ? answer->get() : nullptr;
        records.push_back(is_string(reply) ? std::optional<std::string>(string_of(reply))
                                           : std::nullopt);
    }
    return records;
}

void SharedJobs::unindex(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) (void)run(home(id), {"ZREM", kIndex, id});
}

Result<std::vector<JobPlace>> SharedJobs::places(const std::vector<std::string>& ids) {
    std::vector<std::vector<std::string>> commands;
    for (const std::string& id : ids) commands.push_back({"HMGET", job_key(id), "node", "entry"});
    auto replies = run_each_home(ids, commands);
    if (!replies) return replies.error();
    std::vector<JobPlace> found;
    for (const auto& reply : *replies) {
        if (!reply) return reply.error();
        const redisReply* node = element(reply->get(), 0);
        JobPlace place;
        if (is_string(node)) place.holder = string_of(node);
        place.in_stream = is_string(element(reply->get(), 1));
        found.push_back(std::move(place));
    }
    return found;
}

Status SharedJobs::offer(const Job& job) {
    auto reply = run(home(job.id), {"EVAL", kOffer, "2", job_key(job.id), kWorkStream, job.id,
                                    job.room, std::to_string(job.priority), kWorkGroup});
    if (!reply) return reply.error();
    if (!is_integer(reply->get())) return bad_reply("the offer of a job");
    return ok_status();
}

Result<std::size_t> SharedJobs::waiting() {
    std::size_t waiting = 0;
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        auto reply = run(shard, {"EVAL", kWaiting, "1", kWorkStream, kWorkGroup});
        if (!reply) return reply.error();
        if (!is_integer(reply->get())) return bad_reply("the length of the work stream");
        waiting += static_cast<std::size_t>(std::max<long long>(0, integer_of(reply->get())));
    }
    return waiting;
}

std::chrono::milliseconds SharedJobs::dead_for() const {
    auto renewal = std::chrono::milliseconds(config_.lease_ms / 3);
    return std::max(std::chrono::milliseconds(config_.lease_ms),
                    std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectPause) +
                        renewal + std::chrono::milliseconds(500));
}

Status SharedJobs::say_alive() {
    if (!config_.shared_spool) return ok_status();
    Status first = ok_status();
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        auto done = run(
            shard, {"SET", node_key(config_.node), "1", "PX", std::to_string(config_.lease_ms)});
        if (!done && first) first = done.error();
    }
    return first;
}

Result<bool> SharedJobs::alive(const std::string& node) {
    auto reply = run(0, {"EXISTS", node_key(node)});
    if (!reply) return reply.error();
    if (!is_integer(reply->get())) return bad_reply("EXISTS of a node");
    return integer_of(reply->get()) != 0;
}

Result<bool> SharedJobs::held_by_other_live_node(const std::string& id) {
    auto node = holder(id);
    if (!node) return node.error();
    if (!*node || **node == config_.node) return false;
    return alive(**node);
}

void SharedJobs::work_done(const std::string& id) {
    if (!config_.shared_spool) return;
    auto done = run(home(id), {"EVAL", kWorkDone, "2", job_key(id), kWorkStream, kWorkGroup});
    if (!done) {
        // Left in the stream: whichever node is given it next finds the job ended and drops it.
        log_warn("job_entry_not_removed").kv("job", id).kv("error", done.error().message);
    }
}

// The other nodes with entries pending on `shard` (XINFO CONSUMERS: per consumer, a flat list
// of name/value pairs); nullopt when the shard cannot be asked.
std::optional<std::vector<std::string>> SharedJobs::nodes_with_work(std::size_t shard) {
    std::vector<std::string> names;
    auto consumers = run(shard, {"XINFO", "CONSUMERS", kWorkStream, kWorkGroup});
    if (!consumers) {
        if (consumers.error().code == "broker_error") return names;  // no stream or group yet
        return std::nullopt;
    }
    for (std::size_t i = 0; i < size_of(consumers->get()); ++i) {
        const redisReply* consumer = element(consumers->get(), i);
        std::string name;
        long long pending = 0;
        for (std::size_t f = 0; f + 1 < size_of(consumer); f += 2) {
            const redisReply* field = element(consumer, f);
            const redisReply* value = element(consumer, f + 1);
            if (!is_string(field)) continue;
            if (string_of(field) == "name" && is_string(value)) name = string_of(value);
            if (string_of(field) == "pending" && is_integer(value)) pending = integer_of(value);
        }
        if (!name.empty() && name != config_.node && pending > 0) names.push_back(name);
    }
    return names;
}

// Shard by shard: a node's liveness key there must have been gone for dead_for() (a node cut
// off from one shard still renews on the others), and a shard that does not answer forgets
// only its own sightings.
std::size_t SharedJobs::requeue_from_dead_nodes() {
    std::size_t moved = 0;
    auto now = std::chrono::steady_clock::now();
    std::map<std::pair<std::string, std::size_t>, std::chrono::steady_clock::time_point> seen;
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        auto nodes = nodes_with_work(shard);
        if (!nodes) continue;
        for (const std::string& name : *nodes) {
            auto alive = run(shard, {"EXISTS", node_key(name)});
            if (!alive || !is_integer(alive->get())) break;
            if (integer_of(alive->get()) != 0) continue;
            auto key = std::make_pair(name, shard);
            auto first = dead_node_scans_.find(key);
            seen[key] = first == dead_node_scans_.end() ? now : first->second;
            if (now - seen[key] >= dead_for()) moved += requeue_on(shard, name);
        }
    }
    dead_node_scans_ = seen;
    return moved;
}

std::size_t SharedJobs::requeue_on(std::size_t shard, const std::string& node) {
    auto requeued = run(shard, {"EVAL", kRequeue, "2", kWorkStream, node_key(node), kWorkGroup,
                                node, std::to_string(kRequeueBatch)});
    renew_if_due();  // many dead nodes, or a slow Redis, must not let this node's lapse
    if (!requeued || !is_integer(requeued->get()) || integer_of(requeued->get()) < 0) return 0;
    auto count = static_cast<std::size_t>(integer_of(requeued->get()));
    log_warn("jobs_requeued_from_dead_node")
        .kv("node", node)
        .kv("jobs", count)
        .kv("shard", shards_[shard]->url.describe())
        .kv("effect", "queued again for any node's free worker");
    return count;
}

void SharedJobs::remove(const std::string& id) {
    auto done = run_all(home(id), {{"DEL", job_key(id), lease_key(id)}, {"ZREM", kIndex, id}});
    if (!done) log_warn("shared_job_not_removed").kv("job", id).kv("error", done.error().message);
}

// The lease is renewed from now on, also while Redis is away, so that no node takes the job
// over in the moment Redis is back.
Result<std::optional<std::string>> SharedJobs::start_running(const std::string& id) {
    {
        std::lock_guard lock(leases_mutex_);
        running_here_.insert(id);
    }
    auto reply = run(home(id), {"EVAL", kStartRunning, "3", job_key(id), lease_key(id), kRunning,
                                id, config_.node, std::to_string(config_.lease_ms)});
    if (!reply) return reply.error();
    auto theirs = won_or_theirs(reply->get(), "the start of a job");
    if (theirs && *theirs) {
        std::lock_guard lock(leases_mutex_);
        running_here_.erase(id);
    }
    return theirs;
}

void SharedJobs::stop_running(const std::string& id) {
    auto done = run_all(home(id), {{"SREM", kRunning, id}, {"DEL", lease_key(id)}});
    if (!done) {
        // Still listed, and leased by this node until the next stop or end gives it up: no node
        // takes a job over that is only waiting for its retry.
        log_warn("shared_job_not_stopped").kv("job", id).kv("error", done.error().message);
        return;
    }
    std::lock_guard lock(leases_mutex_);
    running_here_.erase(id);
}

Status SharedJobs::reopen(const std::string& id) {
    auto done = run(home(id), {"HDEL", job_key(id), "ended_by"});
    if (!done) return done.error();
    return ok_status();
}

// The lease is given up only once Redis has answered: until then this node keeps it.
Result<std::optional<std::string>> SharedJobs::end(const std::string& id, const std::string& json) {
    auto reply = run(home(id), {"EVAL", kEnd, "3", job_key(id), lease_key(id), kRunning, id,
                                config_.node, json, std::to_string(config_.keep_s)});
    if (!reply) return reply.error();
    auto theirs = won_or_theirs(reply->get(), "the end of a job");
    if (theirs) {
        std::lock_guard lock(leases_mutex_);
        running_here_.erase(id);
    }
    return theirs;
}

void SharedJobs::defer_end(const Job& job, std::string json) {
    std::lock_guard lock(leases_mutex_);
    running_here_.insert(job.id);
    deferred_ends_[job.id] = std::move(json);
}

void SharedJobs::settle_deferred_ends() {
    std::map<std::string, std::string> deferred;
    {
        std::lock_guard lock(leases_mutex_);
        deferred = deferred_ends_;
    }
    std::set<std::size_t> away;  // shards that did not answer: their jobs wait for the next round
    for (const auto& [id, json] : deferred) {
        if (away.count(home(id)) > 0) continue;
        auto theirs = end(id, json);
        if (!theirs) {
            away.insert(home(id));
            continue;
        }
        {
            std::lock_guard lock(leases_mutex_);
            deferred_ends_.erase(id);
        }
        log_info("job_end_settled").kv("job", id).kv("won", !*theirs);
        auto job = job_from_text(json);
        if (job && callbacks_.end_settled) callbacks_.end_settled(std::move(*job), *theirs);
    }
}

// Each shard's leases in one round trip, with this node's liveness key on every shard.
void SharedJobs::renew_leases() {
    std::vector<std::vector<std::vector<std::string>>> commands(shards_.size());
    std::string lease_ms = std::to_string(config_.lease_ms);
    if (config_.shared_spool) {
        for (auto& mine : commands)
            mine.push_back({"SET", node_key(config_.node), "1", "PX", lease_ms});
    }
    {
        std::lock_guard lock(leases_mutex_);
        for (const std::string& id : running_here_) {
            commands[home(id)].push_back({"SET", lease_key(id), config_.node, "PX", lease_ms});
        }
    }
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        if (commands[shard].empty()) continue;
        auto renewed = run_all(shard, commands[shard]);
        if (!renewed) {
            log_warn("job_leases_not_renewed")
                .kv("jobs", commands[shard].size())
                .kv("error", renewed.error().message)
                .kv("effect", "another node may end them as interrupted");
        }
    }
}

// Seen without a lease two scans in a row, shard by shard: a shard that does not answer forgets
// only its own jobs' sightings (two must not span an outage).
std::vector<Job> SharedJobs::take_over_lapsed() {
    std::vector<Job> taken;
    std::map<std::string, int> seen;
    std::vector<std::string> lapsed;
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        auto members = run(shard, {"SMEMBERS", kRunning});
        if (!members || !is_array(members->get())) continue;
        for (std::size_t i = 0; i < size_of(members->get()); ++i) {
            const redisReply* member = element(members->get(), i);
            if (!is_string(member) || !is_valid_job_id(string_of(member))) continue;
            std::string id = string_of(member);
            auto lease = run(shard, {"EXISTS", lease_key(id)});
            if (!lease || !is_integer(lease->get()) || integer_of(lease->get()) != 0) continue;
            std::lock_guard lock(leases_mutex_);
            if (running_here_.count(id) > 0) continue;  // ours, being renewed
            seen[id] = lapsed_scans_[id] + 1;
            if (seen[id] >= kLapsedScans) lapsed.push_back(id);
        }
    }
    {
        std::lock_guard lock(leases_mutex_);
        lapsed_scans_ = seen;
    }
    for (const std::string& id : lapsed) {
        auto stored = get(id);
        if (!stored || !*stored) continue;
        auto job = job_from_text(**stored);
        if (!job || job->status != JobStatus::running) continue;
        mark_interrupted(*job, "the app node running it stopped renewing its lease");
        job->announced = false;
        std::string json = to_json(job_to_json(*job, true).get());
        auto won = run(home(id), {"EVAL", kTakeOver, "4", job_key(id), lease_key(id), kRunning,
                                  announce_key(config_.node), id, config_.node, json,
                                  std::to_string(config_.keep_s), **stored});
        if (won && is_integer(won->get()) && integer_of(won->get()) == 1) {
            log_warn("job_taken_over").kv("job", id).kv("room", job->room).kv("node", config_.node);
            taken.push_back(std::move(*job));
        }
    }
    return taken;
}

// As they were taken over, not as the record may be now (an operator may have run the job
// again since): the event to send is the end this node wrote.
std::vector<Job> SharedJobs::to_announce() {
    std::vector<Job> jobs;
    for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
        auto pairs = run(shard, {"HGETALL", announce_key(config_.node)});
        if (!pairs || !is_array(pairs->get())) continue;
        for (std::size_t i = 0; i + 1 < size_of(pairs->get()); i += 2) {
            const redisReply* json = element(pairs->get(), i + 1);
            if (!is_string(json)) continue;
            if (auto job = job_from_text(string_of(json))) jobs.push_back(std::move(*job));
        }
    }
    return jobs;
}

void SharedJobs::announced(const std::string& id) {
    auto done = run(home(id), {"HDEL", announce_key(config_.node), id});
    if (!done) log_warn("shared_job_not_marked").kv("job", id).kv("error", done.error().message);
}

void SharedJobs::start(Callbacks callbacks) {
    callbacks_ = std::move(callbacks);
    lease_thread_ = std::thread([this] { run_leases(); });
    if (callbacks_.asked) {
        listen_thread_ = std::thread([this] { run_listener(); });
        ask_thread_ = std::thread([this] { run_asks(); });
    }
}

// A cancel waits for its program to stop (up to the kill grace): the listener hands asks over
// and goes on reading, so that the next ask is heard while one is carried out.
void SharedJobs::hand_to_ask_worker(const std::string& what, const std::string& id) {
    {
        std::lock_guard lock(leases_mutex_);
        asks_.emplace_back(what, id);
    }
    leases_wake_.notify_all();
}

void SharedJobs::run_asks() {
    std::unique_lock lock(leases_mutex_);
    for (;;) {
        leases_wake_.wait(lock, [&] { return stopping_ || !asks_.empty(); });
        if (stopping_) return;
        auto [what, id] = std::move(asks_.front());
        asks_.pop_front();
        lock.unlock();
        callbacks_.asked(what, id);
        lock.lock();
    }
}

bool SharedJobs::wait_unless_stopping(std::chrono::milliseconds pause) {
    std::unique_lock lock(leases_mutex_);
    return !leases_wake_.wait_for(lock, pause, [&] { return stopping_; });
}

// This node's ask channel on a connection of its own, read without blocking (so that a stop
// is noticed within half a second); reconnected a second after it is lost.
void SharedJobs::run_listener() {
    std::unique_ptr<RedisConnection> redis;
    while (wait_unless_stopping(std::chrono::milliseconds(0))) {
        if (!redis) {
            auto opened = open_redis(shards_[0]->url, config_.credentials, timeout_ms_);
            if (opened && (*opened)->append({"SUBSCRIBE", ask_channel(config_.node)}) &&
                (*opened)->flush()) {
                redis = std::move(*opened);
            } else {
                wait_unless_stopping(kReconnectPause);
                continue;
            }
        }
        pollfd ready{redis->fd(), POLLIN, 0};
        if (::poll(&ready, 1, 500) <= 0) continue;
        if (!redis->read_some()) {
            log_warn("job_asks_not_heard").kv("error", "connection lost; listening again");
            redis.reset();
            continue;
        }
        for (;;) {
            auto message = redis->parsed();
            if (!message) {  // not Redis' protocol: start again on a new connection
                redis.reset();
                break;
            }
            if (!*message) break;
            const redisReply* kind = element(message->get(), 0);
            const redisReply* text = element(message->get(), 2);
            if (!is_string(kind) || string_of(kind) != "message" || !is_string(text)) continue;
            std::string line = string_of(text);
            std::size_t space = line.find(' ');
            std::string what = line.substr(0, space);
            std::string id = space == std::string::npos ? "" : line.substr(space + 1);
            if ((what != "cancel" && what != "retry") || !is_valid_job_id(id)) {
                log_warn("job_ask_refused").kv("ask", line.substr(0, 80));
                continue;
            }
            log_info("job_asked").kv("ask", what).kv("job", id);
            hand_to_ask_worker(what, id);
        }
    }
}

void SharedJobs::stop() {
    {
        std::lock_guard lock(leases_mutex_);
        stopping_ = true;
    }
    leases_wake_.notify_all();
    if (lease_thread_.joinable()) lease_thread_.join();
    if (listen_thread_.joinable()) listen_thread_.join();
    if (ask_thread_.joinable()) ask_thread_.join();
    // Gone on purpose: what this node was given and did not finish goes to the others now,
    // not a lease later.
    if (config_.shared_spool && !left_) {
        left_ = true;
        for (std::size_t shard = 0; shard < shards_.size(); ++shard) {
            (void)run(shard, {"DEL", node_key(config_.node)});
        }
    }
}

// A job leaves the to-announce set only once its event is journaled.
void SharedJobs::announce_all(const std::vector<Job>& jobs) {
    for (const Job& job : jobs) {
        if (callbacks_.announce_taken_over && callbacks_.announce_taken_over(job)) {
            announced(job.id);
        }
        renew_if_due();  // many jobs of a dead node must not let this node's own leases lapse
    }
}

void SharedJobs::renew_if_due() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_renewal_ < std::chrono::milliseconds(config_.lease_ms / 3)) return;
    last_renewal_ = now;
    renew_leases();
}

// Renews every third of a lease and tries the deferred ends; every half of a lease announces
// what this node ended for others and has not announced yet (it may have stopped before it
// journaled it, or failed to), then looks for lapsed leases.
void SharedJobs::run_leases() {
    auto renew_every = std::chrono::milliseconds(config_.lease_ms / 3);
    auto scan_every = std::chrono::milliseconds(config_.lease_ms / 2);
    auto next_scan = std::chrono::steady_clock::now();
    std::unique_lock lock(leases_mutex_);
    while (!stopping_) {
        lock.unlock();
        renew_if_due();
        settle_deferred_ends();
        renew_if_due();
        if (std::chrono::steady_clock::now() >= next_scan) {
            announce_all(to_announce());
            // With a shared spool only the jobs outside the work stream are taken over (run
            // where Redis was away when they came); the stream's go back to it.
            if (config_.shared_spool) requeue_from_dead_nodes();
            announce_all(take_over_lapsed());
            next_scan = std::chrono::steady_clock::now() + scan_every;
        }
        lock.lock();
        leases_wake_.wait_for(lock, renew_every, [&] { return stopping_; });
    }
}

}  // namespace rp::app
