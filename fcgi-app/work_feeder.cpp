#include "work_feeder.h"

#include <algorithm>

#include "roompush/job_names.h"
#include "roompush/log.h"
#include "roompush/redis_endpoint.h"

namespace rp::app {
namespace {

// A blocking read gives up after this (and the stop is noticed); the connection's own timeout
// must be longer.
constexpr int kBlockMs = 500;
constexpr int kConnectionTimeoutMs = 2500;
constexpr auto kReconnectPause = std::chrono::seconds(1);
// No worker free: look again this often (a job ends, a retry comes due).
constexpr auto kBusyPause = std::chrono::milliseconds(20);
constexpr std::size_t kOwnPendingPage = 100;
// This node's pending entries are read again this often, to forget the finished ones.
constexpr auto kOwnPendingEvery = std::chrono::seconds(60);

std::string field(const redisReply* fields, const char* name) {
    for (std::size_t i = 0; i + 1 < size_of(fields); i += 2) {
        const redisReply* key = element(fields, i);
        const redisReply* value = element(fields, i + 1);
        if (is_string(key) && string_of(key) == name && is_string(value)) return string_of(value);
    }
    return "";
}

void drop_entry(RedisConnection& redis, const std::string& entry) {
    (void)redis.command({"XACK", kWorkStream, kWorkGroup, entry});
    (void)redis.command({"XDEL", kWorkStream, entry});
}

bool is_no_group(const Result<ReplyPtr>& reply) {
    return !reply && reply.error().code == "broker_error" &&
           reply.error().message.starts_with("NOGROUP");
}

}  // namespace

WorkFeeder::WorkFeeder(const SharedJobsConfig& config, Hooks hooks)
    : config_(config), hooks_(std::move(hooks)) {
    for (const BrokerUrl& url : config_.store.shards) readers_.push_back(Reader{url, {}, {}});
}

WorkFeeder::~WorkFeeder() { stop(); }

void WorkFeeder::start() {
    for (Reader& reader : readers_) threads_.emplace_back([this, &reader] { run(reader); });
}

void WorkFeeder::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
}

bool WorkFeeder::wait_unless_stopping(std::chrono::milliseconds pause) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, pause, [&] { return stopping_; });
}

// An entry of a deleted stream record (its job ended meanwhile) has no fields, and one that is
// no longer its job's entry (a retry or a requeue made a newer one) is stale: both are dropped.
// Any other goes to the queue; the runner sees what state its job is in.
bool WorkFeeder::take_entry(Reader& reader, const redisReply* entry, RedisConnection& redis) {
    const redisReply* entry_id = element(entry, 0);
    const redisReply* fields = element(entry, 1);
    if (!is_string(entry_id)) return false;
    std::string entry_name = string_of(entry_id);
    QueuedJob job{field(fields, "id"), field(fields, "room"), 0};
    if (!is_valid_job_id(job.id)) {
        drop_entry(redis, entry_name);
        return true;
    }
    auto current = redis.command({"HGET", job_key(job.id), "entry"});
    if (!current) return false;  // asked again with the connection's next use
    if (!is_string(current->get()) || string_of(current->get()) != entry_name) {
        log_info("work_entry_stale").kv("job", job.id).kv("entry", entry_name);
        drop_entry(redis, entry_name);
        return true;
    }
    try {
        job.priority = std::clamp(std::stoi(field(fields, "priority")), 0, 9);
    } catch (...) {
        job.priority = 0;  // a malformed priority costs the job its place, not its run
    }
    log_info("job_taken").kv("job", job.id).kv("room", job.room).kv("node", config_.node);
    hooks_.take(job);
    reader.given.insert(entry_name);
    return true;
}

// Free workers for one reader's next read: its share of those no reader has claimed (all of
// them with one shard), at least one; 0 when none is free. Given back by release().
std::size_t WorkFeeder::claim_workers() {
    std::lock_guard lock(mutex_);
    std::size_t free = hooks_.free_workers();
    std::size_t unclaimed = free > claimed_ ? free - claimed_ : 0;
    if (unclaimed == 0) return 0;
    std::size_t share = std::max<std::size_t>(1, unclaimed / readers_.size());
    claimed_ += share;
    return share;
}

void WorkFeeder::release_workers(std::size_t claimed) {
    std::lock_guard lock(mutex_);
    claimed_ -= claimed;
}

// Own pending entries from `after` (a restart's leftovers), or up to `count` new ones (">").
// False when the connection is of no more use.
bool WorkFeeder::read_entries(Reader& reader, RedisConnection& redis, bool own_pending,
                              std::string& after, std::size_t count) {
    if (own_pending) count = kOwnPendingPage;
    std::vector<std::string> argv{"XREADGROUP", "GROUP", kWorkGroup,
                                  config_.node, "COUNT", std::to_string(count)};
    // Several readers wait in turn for their share: a short block keeps a shard that gets
    // work from waiting on another's read.
    int block_ms = readers_.size() == 1 ? kBlockMs : kBlockMs / 5;
    if (!own_pending) argv.insert(argv.end(), {"BLOCK", std::to_string(block_ms)});
    argv.insert(argv.end(), {"STREAMS", kWorkStream, own_pending ? after : ">"});
    auto reply = redis.command(argv);
    if (is_no_group(reply)) {  // no job offered yet: the group is made here or by the first
        (void)redis.command({"XGROUP", "CREATE", kWorkStream, kWorkGroup, "0", "MKSTREAM"});
        return !redis.broken();
    }
    if (!reply) {
        log_warn("work_not_read").kv("error", reply.error().message);
        return false;
    }
    if (is_nil(reply->get())) return true;  // the block ran out
    const redisReply* stream = element(reply->get(), 0);
    const redisReply* entries = element(stream, 1);
    std::string last;
    for (std::size_t i = 0; i < size_of(entries); ++i) {
        const redisReply* entry = element(entries, i);
        if (!is_string(element(entry, 0))) continue;
        last = string_of(element(entry, 0));
        if (own_pending) {
            reader.still_pending.insert(last);
            if (reader.given.count(last) > 0) continue;  // in this node's queue or running
        }
        if (!take_entry(reader, entry, redis)) return false;  // its own pending read again
    }
    if (own_pending) {
        after = size_of(entries) < count ? "" : last;
        if (after.empty()) {  // a whole pass: what is no longer pending was finished
            std::erase_if(reader.given,
                          [&](const std::string& id) { return !reader.still_pending.count(id); });
            reader.still_pending.clear();
        }
    }
    return !redis.broken();
}

void WorkFeeder::run(Reader& reader) {
    std::unique_ptr<RedisConnection> redis;
    std::string own_after = "0";  // empty once the node's own pending entries are read
    auto last_pass = std::chrono::steady_clock::now();
    while (wait_unless_stopping(std::chrono::milliseconds(0))) {
        if (own_after.empty() && std::chrono::steady_clock::now() - last_pass > kOwnPendingEvery) {
            own_after = "0";
            last_pass = std::chrono::steady_clock::now();
        }
        if (!redis) {
            auto opened = open_redis(reader.url, config_.credentials, kConnectionTimeoutMs);
            if (!opened) {
                wait_unless_stopping(kReconnectPause);
                continue;
            }
            redis = std::move(*opened);
        }
        bool own_pending = !own_after.empty();
        std::size_t claimed = own_pending ? 0 : claim_workers();
        if (!own_pending && claimed == 0) {
            wait_unless_stopping(kBusyPause);
            continue;
        }
        // Given back once what was read is in the queue (and counted there as not free).
        std::size_t given_before = reader.given.size();
        bool read = read_entries(reader, *redis, own_pending, own_after, claimed);
        release_workers(claimed);
        if (read && !own_pending && readers_.size() > 1 && reader.given.size() == given_before) {
            // Its shard had nothing: the other readers' turn to claim the free workers.
            wait_unless_stopping(kBusyPause);
        }
        if (!read) {
            // An entry may have been given to this node and not taken: the next connection
            // reads this node's pending entries again.
            redis.reset();
            own_after = "0";
            reader.still_pending.clear();
            wait_unless_stopping(kReconnectPause);
        }
    }
}

}  // namespace rp::app
