#include "shared_jobs.h"

#include <chrono>

#include "roompush/json.h"
#include "roompush/log.h"
#include "roompush/redis_endpoint.h"

namespace rp::app {
namespace {

constexpr int kTimeoutMs = 2000;
constexpr const char* kRunning = "rp:jobs:running";
// Seen without a lease this many scans in a row (half a lease apart) before a job is taken
// over: a node that has just got Redis back renews within a third of a lease.
constexpr int kLapsedScans = 2;

std::string job_key(const std::string& id) { return "rp:job:{" + id + "}"; }
std::string lease_key(const std::string& id) { return job_key(id) + ":lease"; }
std::string announce_key(const std::string& node) { return "rp:jobs:to-announce:" + node; }

// KEYS: job hash. ARGV: node, json, ttl s (0: none). Not over another node's final state.
constexpr const char* kPut =
    "local ended = redis.call('HGET', KEYS[1], 'ended_by')\n"
    "if ended and ended ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'json', ARGV[2], 'node', ARGV[1])\n"
    "if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end\n"
    "return 1\n";

// KEYS: job hash, lease, running set. ARGV: id, node, lease ms. A new run: no end yet.
constexpr const char* kStartRunning =
    "redis.call('HDEL', KEYS[1], 'ended_by')\n"
    "redis.call('PERSIST', KEYS[1])\n"
    "redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])\n"
    "redis.call('SADD', KEYS[3], ARGV[1])\n"
    "return 1\n";

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
    "if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('SREM', KEYS[3], ARGV[1])\n"
    "if redis.call('HEXISTS', KEYS[1], 'ended_by') == 1 then return 0 end\n"
    "if redis.call('HGET', KEYS[1], 'json') ~= ARGV[5] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'json', ARGV[3], 'ended_by', ARGV[2])\n"
    "if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end\n"
    "redis.call('SADD', KEYS[4], ARGV[1])\n"
    "return 1\n";

Result<Job> job_of(const std::string& json) {
    auto parsed = parse_json(json);
    if (!parsed) return make_error("bad_job", "a shared job record is not JSON");
    return job_from_json(parsed->get());
}

}  // namespace

SharedJobs::~SharedJobs() { stop(); }

template <typename Call>
auto SharedJobs::with_connection(Call call) -> decltype(call(std::declval<RedisConnection&>())) {
    std::lock_guard lock(connection_mutex_);
    if (!connection_ || connection_->broken()) {
        auto opened = open_redis(config_.url, config_.credentials, kTimeoutMs);
        if (!opened) return opened.error();
        connection_ = std::move(*opened);
    }
    return call(*connection_);
}

Result<ReplyPtr> SharedJobs::run(const std::vector<std::string>& argv) {
    return with_connection([&](RedisConnection& redis) { return redis.command(argv); });
}

void SharedJobs::put(const Job& job, const std::string& json) {
    auto done = run({"EVAL", kPut, "1", job_key(job.id), config_.node, json,
                     is_finished(job.status) ? std::to_string(config_.keep_s) : "0"});
    if (!done) {
        log_warn("shared_job_not_written")
            .kv("job", job.id)
            .kv("error", done.error().message)
            .kv("effect", "other nodes see an older state until the next save");
    }
}

Result<std::optional<std::string>> SharedJobs::get(const std::string& id) {
    auto reply = run({"HGET", job_key(id), "json"});
    if (!reply) return reply.error();
    if (is_nil(reply->get())) return std::optional<std::string>();
    if (!is_string(reply->get())) return bad_reply("HGET of a job");
    return std::optional<std::string>(string_of(reply->get()));
}

Result<std::optional<std::string>> SharedJobs::ended_by_other(const std::string& id) {
    auto reply = run({"HMGET", job_key(id), "ended_by", "json"});
    if (!reply) return reply.error();
    const redisReply* ended = element(reply->get(), 0);
    const redisReply* json = element(reply->get(), 1);
    if (!is_string(ended) || !is_string(json) || string_of(ended) == config_.node) {
        return std::optional<std::string>();
    }
    return std::optional<std::string>(string_of(json));
}

void SharedJobs::remove(const std::string& id) {
    auto done = run({"DEL", job_key(id), lease_key(id)});
    if (!done) log_warn("shared_job_not_removed").kv("job", id).kv("error", done.error().message);
}

Status SharedJobs::start_running(const std::string& id) {
    {
        std::lock_guard lock(leases_mutex_);
        running_here_.insert(id);
    }
    auto done = run({"EVAL", kStartRunning, "3", job_key(id), lease_key(id), kRunning, id,
                     config_.node, std::to_string(config_.lease_ms)});
    if (!done) return done.error();
    return ok_status();
}

void SharedJobs::stop_running(const std::string& id) {
    {
        std::lock_guard lock(leases_mutex_);
        running_here_.erase(id);
    }
    auto done = with_connection([&](RedisConnection& redis) -> Result<ReplyPtr> {
        if (auto appended = redis.append({"SREM", kRunning, id}); !appended)
            return appended.error();
        if (auto appended = redis.append({"DEL", lease_key(id)}); !appended) {
            return appended.error();
        }
        if (auto first = redis.answer(); !first) return first;
        return redis.answer();
    });
    if (!done) log_warn("shared_job_not_stopped").kv("job", id).kv("error", done.error().message);
}

Result<std::optional<std::string>> SharedJobs::end(const Job& job, const std::string& json) {
    {
        std::lock_guard lock(leases_mutex_);
        running_here_.erase(job.id);
    }
    auto reply = run({"EVAL", kEnd, "3", job_key(job.id), lease_key(job.id), kRunning, job.id,
                      config_.node, json, std::to_string(config_.keep_s)});
    if (!reply) return reply.error();
    const redisReply* first = element(reply->get(), 0);
    if (!is_integer(first)) return bad_reply("the end of a job");
    if (integer_of(first) == 1) return std::optional<std::string>();
    const redisReply* theirs = element(reply->get(), 1);
    if (!is_string(theirs)) return bad_reply("the end of a job");
    return std::optional<std::string>(string_of(theirs));
}

void SharedJobs::renew_leases() {
    std::vector<std::string> ids;
    {
        std::lock_guard lock(leases_mutex_);
        ids.assign(running_here_.begin(), running_here_.end());
    }
    if (ids.empty()) return;
    auto renewed = with_connection([&](RedisConnection& redis) -> Status {
        for (const std::string& id : ids) {
            if (auto appended = redis.append(
                    {"SET", lease_key(id), config_.node, "PX", std::to_string(config_.lease_ms)});
                !appended) {
                return appended;
            }
        }
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (auto answered = redis.answer(); !answered) return answered.error();
        }
        return ok_status();
    });
    if (!renewed) {
        log_warn("job_leases_not_renewed")
            .kv("jobs", ids.size())
            .kv("error", renewed.error().message)
            .kv("effect", "another node may end them as interrupted");
    }
}

std::vector<Job> SharedJobs::take_over_lapsed() {
    std::vector<Job> taken;
    auto members = run({"SMEMBERS", kRunning});
    if (!members || !is_array(members->get())) return taken;
    std::map<std::string, int> seen;
    std::vector<std::string> lapsed;
    for (std::size_t i = 0; i < size_of(members->get()); ++i) {
        const redisReply* member = element(members->get(), i);
        if (!is_string(member)) continue;
        std::string id = string_of(member);
        if (!is_valid_job_id(id)) continue;
        auto lease = run({"EXISTS", lease_key(id)});
        if (!lease || !is_integer(lease->get()) || integer_of(lease->get()) != 0) continue;
        std::lock_guard lock(leases_mutex_);
        if (running_here_.count(id) > 0) continue;  // ours, being renewed
        seen[id] = lapsed_scans_[id] + 1;
        if (seen[id] >= kLapsedScans) lapsed.push_back(id);
    }
    {
        std::lock_guard lock(leases_mutex_);
        lapsed_scans_ = seen;
    }
    for (const std::string& id : lapsed) {
        auto stored = get(id);
        if (!stored || !*stored) continue;
        auto job = job_of(**stored);
        if (!job || job->status != JobStatus::running) continue;
        mark_interrupted(*job, "the app node running it stopped renewing its lease");
        job->announced = false;
        std::string json = to_json(job_to_json(*job, true).get());
        auto won = run({"EVAL", kTakeOver, "4", job_key(id), lease_key(id), kRunning,
                        announce_key(config_.node), id, config_.node, json,
                        std::to_string(config_.keep_s), **stored});
        if (won && is_integer(won->get()) && integer_of(won->get()) == 1) {
            log_warn("job_taken_over").kv("job", id).kv("room", job->room).kv("node", config_.node);
            taken.push_back(std::move(*job));
        }
    }
    return taken;
}

std::vector<Job> SharedJobs::to_announce() {
    std::vector<Job> jobs;
    auto members = run({"SMEMBERS", announce_key(config_.node)});
    if (!members || !is_array(members->get())) return jobs;
    for (std::size_t i = 0; i < size_of(members->get()); ++i) {
        const redisReply* member = element(members->get(), i);
        if (!is_string(member)) continue;
        auto stored = get(string_of(member));
        if (!stored || !*stored) {
            announced(string_of(member));
            continue;
        }
        if (auto job = job_of(**stored)) jobs.push_back(std::move(*job));
    }
    return jobs;
}

void SharedJobs::announced(const std::string& id) {
    auto done = run({"SREM", announce_key(config_.node), id});
    if (!done) log_warn("shared_job_not_marked").kv("job", id).kv("error", done.error().message);
}

void SharedJobs::start(std::function<void(const Job&)> announce) {
    lease_thread_ = std::thread([this, announce = std::move(announce)] { run_leases(announce); });
}

void SharedJobs::stop() {
    {
        std::lock_guard lock(leases_mutex_);
        stopping_ = true;
    }
    leases_wake_.notify_all();
    if (lease_thread_.joinable()) lease_thread_.join();
}

// Renews every third of a lease; looks for lapsed leases every half of one, and first for the
// jobs this node ended for others before it stopped (their events may not be journaled).
void SharedJobs::run_leases(std::function<void(const Job&)> announce) {
    auto hand_over = [&](const std::vector<Job>& jobs) {
        for (const Job& job : jobs) {
            announce(job);
            announced(job.id);
        }
    };
    hand_over(to_announce());
    auto renew_every = std::chrono::milliseconds(config_.lease_ms / 3);
    auto scan_every = std::chrono::milliseconds(config_.lease_ms / 2);
    auto next_scan = std::chrono::steady_clock::now() + scan_every;
    std::unique_lock lock(leases_mutex_);
    while (!stopping_) {
        leases_wake_.wait_for(lock, renew_every, [&] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        renew_leases();
        if (std::chrono::steady_clock::now() >= next_scan) {
            hand_over(take_over_lapsed());
            next_scan = std::chrono::steady_clock::now() + scan_every;
        }
        lock.lock();
    }
}

}  // namespace rp::app
