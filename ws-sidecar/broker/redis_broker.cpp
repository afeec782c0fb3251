// The Redis broker's worker and every command it sends (docs/scaling.md). Over 400 lines
// because each command's reply checking sits next to the command; what needs no connection is
// elsewhere and unit-tested: redis_replies (reply shapes), redis_wire (pub/sub payloads),
// redis_durability (the persistence check), redis_scripts.h (the Lua); the pipeline, the
// subscriber and the endpoint (Sentinel) have files of their own. The broker itself is tested
// against real redis-server and redis-sentinel processes (tests/integration/test_scaling.py,
// test_presence.py, test_redis_topologies.py).

#include "redis_broker.h"

#include "redis_durability.h"

#include <cstdio>
#include <future>
#include <random>
#include <unordered_set>

#include "redis_replies.h"
#include "redis_scripts.h"
#include "redis_wire.h"
#include "roompush/json_text.h"
#include "roompush/log.h"
#include "roompush/redis_endpoint.h"
#include "ws_codec.h"

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

constexpr int kCommandTimeoutMs = 2000;
constexpr auto kAnswerTimeout = std::chrono::milliseconds(kSidecarAnswerDeadlineMs);
// A command is not sent (again) after this: its caller hears `unavailable` at kAnswerTimeout,
// and a publish sent after that could be doubled by the caller's own retry.
constexpr auto kSendDeadline = kAnswerTimeout - 500ms;
constexpr auto kMaxBackoff = 5000ms;
constexpr std::size_t kMaxBatch = 512;
// The idempotency keys the broker gives id-less publishes need only outlive its own retries.
// They live as fields of one hash per room and minute (the publish's own ts picks it, so a
// resend finds it): Redis creates, expires and logs a key per room and minute, not per publish.
constexpr unsigned kOwnIdTtlS = 120;
constexpr int64_t kOwnIdBucketMs = 60000;
// Redis may have run a command whose answer never came: only the idempotency key makes sending
// it again safe.
constexpr const char* kSendAgain =
    "; send it again later, with the same id (it may have been published)";
const std::string kNodes = "rp:nodes";

std::string room_key(const std::string& room) { return "rp:{" + room + "}"; }
std::string stream_key(const std::string& room) { return "rp:{" + room + "}:log"; }
std::string id_key(const std::string& room, const std::string& id) {
    return "rp:{" + room + "}:id:" + id;
}
std::string own_ids_key(const std::string& room, int64_t now_ms) {
    return "rp:{" + room + "}:own:" + std::to_string(now_ms / kOwnIdBucketMs);
}
std::string node_key(const std::string& node) { return "rp:node:" + node; }

// Errors Redis gives while it cannot take writes for a while (out of memory, a failed
// snapshot, too few replicas, a busy script, loading, a failover): the publish is worth sending
// again later, unlike WRONGTYPE and the like.
bool is_transient(const Error& error) {
    if (error.code != "broker_error") return false;
    for (const char* prefix : {"OOM", "MISCONF", "NOREPLICAS", "BUSY", "LOADING", "MASTERDOWN",
                               "TRYAGAIN", "CLUSTERDOWN", "NOSCRIPT"}) {
        if (error.message.starts_with(prefix)) return true;
    }
    return false;
}

// As RoomRegistry::frame_of writes it: a `d` that is not checked JSON text becomes null.
std::string message_json(const std::string& room, const std::string& epoch,
                         const BrokerEntry& entry) {
    std::string_view data = is_verbatim_json(entry.data) ? std::string_view(entry.data) : "null";
    return encode_message(
        {room, entry.seq, epoch, entry.event, data, entry.ts_ms, sender_of(entry)});
}

}  // namespace

RedisBroker::RedisBroker(RedisBrokerConfig config, SidecarMetrics& metrics,
                         BrokerShardMetrics& shard, Post post)
    : config_(std::move(config)),
      metrics_(metrics),
      post_(std::move(post)),
      shard_(shard),
      marks_(config_.room_ttl_s) {
    metrics_.broker_up = 0;
    id_prefix_ = "~" + config_.node_id + "." + epochs_.next() + ".";
}

RedisBroker::~RedisBroker() { stop(); }

Status RedisBroker::start(BrokerListener listener) {
    listener_ = std::move(listener);
    subscriber_ = std::make_unique<RedisSubscriber>(
        [this] { return open_redis(config_.url, config_.credentials, kCommandTimeoutMs); },
        RedisSubscriber::Events{
            .message = [this](const std::string& payload) { hear(payload); },
            .idle = [this] { pass_on_heard(); },
            .resubscribed = [this] { resubscribed(); },
            .lost = [this](const Error& error, bool was_up) { subscriber_lost(error, was_up); },
        });
    {
        std::unique_lock lock(mutex_);
        ensure_connected(lock);
    }
    worker_ = std::thread([this] { worker_loop(); });
    subscriber_->start();
    return ok_status();
}

void RedisBroker::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !worker_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (subscriber_) subscriber_->stop();
    if (worker_.joinable()) worker_.join();
}

// A caller that waited its whole deadline: the publish may still have happened.
Error RedisBroker::no_answer() {
    metrics_.broker_unavailable++;
    shard_.unavailable++;
    return make_error("unavailable", "Redis did not answer within " +
                                         std::to_string(kSidecarAnswerDeadlineMs / 1000) + " s" +
                                         kSendAgain);
}

bool RedisBroker::up() {
    std::lock_guard lock(mutex_);
    return worker_up_ && subscriber_up_;
}

// Offered to the scripts for a room Redis does not have yet. Not with mutex_ held.
std::string RedisBroker::new_epoch() {
    std::lock_guard lock(mutex_);
    return epochs_.next();
}

Error RedisBroker::unavailable() const {
    return make_error("unavailable", "Redis (" + config_.url.describe() + ") is unreachable" +
                                         (last_error_.empty() ? "" : ": " + last_error_) +
                                         "; nothing was published, send it again later");
}

// Called with mutex_ held. The gauge and the log say when publishing stops or works again.
void RedisBroker::set_state(bool worker_up, bool subscriber_up) {
    bool was_up = worker_up_ && subscriber_up_;
    worker_up_ = worker_up;
    subscriber_up_ = subscriber_up;
    bool up = worker_up_ && subscriber_up_;
    shard_.up = up ? 1 : 0;
    if (config_.state_changed) {
        config_.state_changed();
    } else {
        metrics_.broker_up = up ? 1 : 0;
    }
    if (up && !was_up) log_info("broker_up").kv("broker", config_.url.describe());
    if (!up && was_up) {
        log_error("broker_down").kv("broker", config_.url.describe()).kv("error", last_error_);
    }
}

void RedisBroker::count_error() {
    metrics_.broker_errors++;
    shard_.errors++;
}

// Called with mutex_ held; drops it while connecting.
void RedisBroker::ensure_connected(std::unique_lock<std::mutex>& lock) {
    auto now = std::chrono::steady_clock::now();
    if (connection_ || now < next_attempt_ || stopping_) return;
    lock.unlock();
    auto opened = open_redis(config_.url, config_.credentials, kCommandTimeoutMs);
    // Asked before the lock is taken again: against a Redis that hangs, these commands take
    // their timeouts, and a publish waiting for the lock must not wait for them.
    std::optional<std::string> durability;
    if (opened) {
        durability = durability_problem(**opened);
        if (auto loaded = shas_.load(**opened); !loaded) opened = loaded.error();
    }
    lock.lock();
    if (!opened) {
        count_error();
        if (last_error_ != opened.error().message) {
            log_warn("broker_connect_failed")
                .kv("broker", config_.url.describe())
                .kv("code", opened.error().code)
                .kv("error", opened.error().message);
        }
        last_error_ = opened.error().message;
        next_attempt_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, kMaxBackoff);
        set_state(false, subscriber_up_);
        return;
    }
    if (durability && *durability != durability_warned_) {
        log_warn("broker_not_durable")
            .kv("broker", config_.url.describe())
            .kv("problem", *durability);
        durability_warned_ = *durability;
    }
    connection_ = std::move(*opened);
    marks_.forget_all();  // a new server, or one that may have lost what the last was told
    note_master(connection_->where());
    backoff_ = 100ms;
    next_heartbeat_ = now;
    set_state(true, subscriber_up_);
    // Rooms that could not be read while Redis was away are asked for again; a load goes
    // through the subscription again (it may have been lost too).
    for (const auto& waiting : waiting_fetches_) {
        const std::string& room = waiting.first;
        if (waiting.second) {
            queue_.push_back(Work{fetch_command(room, waiting.second, epochs_.next()), {}});
        } else {
            queue_.push_back(Work{{}, [this, room](RedisConnection*) { fetch(room, {}); }});
        }
    }
    waiting_fetches_.clear();
}

// Called with mutex_ held. With Sentinel, a new master means a failover happened.
void RedisBroker::note_master(const std::string& where) {
    if (!last_master_.empty() && where != last_master_) {
        // The subscriber may still hang on the old master's dead socket: it reconnects too.
        if (subscriber_) subscriber_->reconnect();
        shard_.failovers++;
        log_info("broker_failover")
            .kv("broker", config_.url.describe())
            .kv("from", last_master_)
            .kv("to", where);
    }
    last_master_ = where;
}

void RedisBroker::worker_loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (worker_stale_ && connection_) {
            // Reconnect now rather than find out with the next publish, which would then fail.
            connection_.reset();
            next_attempt_ = std::chrono::steady_clock::now();
            set_state(false, subscriber_up_);
        }
        worker_stale_ = false;
        ensure_connected(lock);
        auto now = std::chrono::steady_clock::now();
        if (connection_ && now >= next_heartbeat_) {
            next_heartbeat_ = now + std::chrono::milliseconds(config_.heartbeat_ms);
            lock.unlock();
            heartbeat(*connection_);
            lock.lock();
        } else if (!connection_) {
            settle_without_connection(lock);
        } else if (queue_.empty()) {
            wake_.wait_until(lock, next_heartbeat_,
                             [this] { return stopping_ || worker_stale_ || !queue_.empty(); });
            continue;
        } else {
            run_next(lock);
        }
        if (connection_ && connection_->broken()) {
            count_error();
            last_error_ = "connection lost";
            connection_.reset();
            next_attempt_ = std::chrono::steady_clock::now();
            metrics_.broker_reconnects++;
            set_state(false, subscriber_up_);
        }
    }
    drain_on_stop(lock);
    lock.unlock();
    // A node that stops leaves the cluster view now, not when its report expires.
    if (connection_ && !connection_->broken()) {
        (void)connection_->command({"DEL", node_key(config_.node_id)});
        (void)connection_->command({"SREM", kNodes, config_.node_id});
    }
}

// Worker, connected: the job at the front alone, or the commands at the front as one pipeline.
void RedisBroker::run_next(std::unique_lock<std::mutex>& lock) {
    if (queue_.front().job) {
        Job job = std::move(queue_.front().job);
        queue_.pop_front();
        lock.unlock();
        job(connection_.get());
        lock.lock();
        return;
    }
    std::deque<RedisCommand> batch;
    std::vector<RedisCommand> late;
    auto now = std::chrono::steady_clock::now();
    std::unordered_set<std::string> late_rooms;
    while (!queue_.empty() && !queue_.front().job && batch.size() < kMaxBatch) {
        RedisCommand command = std::move(queue_.front().command);
        queue_.pop_front();
        // A publish behind one that is given up must not overtake it: it is given up too.
        bool give_up = command.deadline <= now ||
                       (!command.order_key.empty() && late_rooms.contains(command.order_key));
        if (give_up && !command.order_key.empty()) late_rooms.insert(command.order_key);
        (give_up ? late.emplace_back(std::move(command)) : batch.emplace_back(std::move(command)));
    }
    lock.unlock();
    for (RedisCommand& command : late) {
        fail_command(command, make_error("broker_io", "Redis did not take it in time"));
    }
    for (RedisCommand& command : batch) mark(command);
    std::deque<RedisCommand> unanswered =
        run_pipeline(*connection_, shas_, std::move(batch), config_.min_replicas);
    lock.lock();
    // The connection broke: these go first on the next one (or fail; see below).
    for (auto it = unanswered.rbegin(); it != unanswered.rend(); ++it) {
        queue_.push_front(Work{std::move(*it), {}});
    }
}

// Worker: a publish's flags for this connection (publish_marks.h). A resend (always on a new
// connection) is marked again.
void RedisBroker::mark(RedisCommand& command) {
    if (command.script != Script::publish) return;
    using namespace publish_args;
    std::string& flags = command.argv[kFlagsAt];
    bool own_id = !command.argv[kFieldAt].empty();
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    std::string_view own_hash = own_id ? std::string_view(command.argv[kOwnHashAt]) : "";
    std::string told = marks_.flags(command.order_key, own_hash, now_ms);
    flags = (is_first_send(flags) ? "n" : "") + told;
    if (told.empty()) return;
    // Told once Redis ran it ({1, …}; a repeat returns before the flags' calls). Only the
    // worker answers a publish that has run, so only the worker touches marks_.
    command.done = [this, room = command.order_key, own_hash = std::string(own_hash), told, now_ms,
                    done = std::move(command.done)](Result<ReplyPtr> reply) {
        if (reply && is_integer(element(reply->get(), 0)) &&
            integer_of(element(reply->get(), 0)) == 1) {
            marks_.told(room, own_hash, told, now_ms);
        }
        done(std::move(reply));
    };
}

// Worker, no connection: what may wait for the next connection (a publish with its key, in
// time) waits; the rest is answered now, as "Redis is away".
void RedisBroker::settle_without_connection(std::unique_lock<std::mutex>& lock) {
    auto now = std::chrono::steady_clock::now();
    auto until = next_attempt_;
    std::deque<Work> keep;
    std::vector<Work> give_up;
    for (Work& work : queue_) {
        if (!work.job && work.command.resend && work.command.deadline > now) {
            until = std::min(until, work.command.deadline);
            keep.push_back(std::move(work));
        } else {
            give_up.push_back(std::move(work));
        }
    }
    queue_ = std::move(keep);
    if (!give_up.empty()) {
        Error away = make_error(
            "broker_io", "Redis (" + config_.url.describe() + ") is unreachable: " + last_error_);
        lock.unlock();
        for (Work& work : give_up) {
            work.job ? work.job(nullptr) : fail_command(work.command, away);
        }
        lock.lock();
        return;
    }
    std::size_t kept = queue_.size();
    wake_.wait_until(lock, until,
                     [this, kept] { return stopping_ || worker_stale_ || queue_.size() != kept; });
}

// Whoever still waits hears "unavailable" now rather than at its timeout.
void RedisBroker::drain_on_stop(std::unique_lock<std::mutex>& lock) {
    std::deque<Work> left = std::move(queue_);
    queue_.clear();
    lock.unlock();
    Error stopping = make_error("broker_io", "the sidecar is stopping");
    for (Work& work : left) work.job ? work.job(nullptr) : fail_command(work.command, stopping);
    lock.lock();
}

// After the worker drained its queue on stop, work is answered at once instead.
void RedisBroker::enqueue(Work work) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            queue_.push_back(std::move(work));
            work = {};
        }
    }
    if (work.job) {
        work.job(nullptr);
    } else if (work.command.done) {
        fail_command(work.command, make_error("broker_io", "the sidecar is stopping"));
    }
    wake_.notify_all();
}

template <class T>
Result<T> RedisBroker::run_and_wait(std::function<Result<T>(RedisConnection*)> work) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto answer = promise->get_future();
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || !worker_up_) {
            metrics_.broker_unavailable++;
            shard_.unavailable++;
            return unavailable();
        }
        Error away = unavailable();
        queue_.push_back(Work{{}, [promise, work = std::move(work), away](RedisConnection* c) {
                                  promise->set_value(c ? work(c) : Result<T>(away));
                              }});
    }
    wake_.notify_all();
    if (answer.wait_for(kAnswerTimeout) != std::future_status::ready) {
        return no_answer();
    }
    Result<T> result = answer.get();
    if (!result && result.error().code == "broker_io") {
        metrics_.broker_unavailable++;
        shard_.unavailable++;
        return make_error("unavailable", result.error().message + kSendAgain);
    }
    return result;
}

// Any thread. A publish without an id gets one of the broker's own, so that sending it again
// after a lost answer or a failover cannot deliver it twice.
void RedisBroker::publish_async(const ControlRequest& request, int64_t now_ms, PublishDone done) {
    bool own_id = request.id.empty();
    std::string id;
    std::string epoch;
    {
        std::unique_lock lock(mutex_);
        if (stopping_ || !worker_up_) {
            metrics_.broker_unavailable++;
            shard_.unavailable++;
            Error away = unavailable();
            lock.unlock();
            done(away);
            return;
        }
        id = own_id ? id_prefix_ + std::to_string(next_id_++) : request.id;
        epoch = epochs_.next();
    }
    RedisCommand command;
    command.script = Script::publish;
    command.argv = {"EVALSHA",
                    "",
                    "3",
                    room_key(request.room),
                    stream_key(request.room),
                    own_id ? own_ids_key(request.room, now_ms) : id_key(request.room, id),
                    "1",
                    std::to_string(config_.stream_length),
                    std::to_string(config_.room_ttl_s),
                    std::move(epoch),
                    request.room,
                    request.event,
                    request.data,
                    std::to_string(now_ms),
                    std::to_string(own_id ? kOwnIdTtlS : config_.dedupe_ttl_s),
                    room_channel(request.room),
                    request.from,
                    own_id ? id : "",
                    own_id ? "n" : ""};  // the rest of the flags when sent (mark)
    command.deadline = std::chrono::steady_clock::now() + kSendDeadline;
    command.resend = true;
    command.order_key = request.room;
    command.done = [this, own_id, done = std::move(done)](Result<ReplyPtr> reply) {
        done(publish_answered(reply, own_id));
    };
    enqueue(Work{std::move(command), {}});
}

// Worker. A repeat of a key the broker made itself can only be its own resend: the publish
// happened once, by this request.
Result<PublishAck> RedisBroker::publish_answered(const Result<ReplyPtr>& reply, bool own_id) {
    Result<PublishAck> ack = [&]() -> Result<PublishAck> {
        if (!reply) return reply.error();
        const redisReply* root = reply->get();
        const redisReply* fresh = element(root, 0);
        const redisReply* seq = element(root, 1);
        if (!is_integer(fresh) || !is_integer(seq) || !is_string(element(root, 2)) ||
            integer_of(seq) <= 0) {
            return bad_reply("a publish");
        }
        const redisReply* receivers = element(root, 3);
        uint64_t nodes = is_integer(receivers) ? static_cast<uint64_t>(integer_of(receivers)) : 0;
        bool duplicate = integer_of(fresh) == 0 && !own_id;
        return PublishAck{static_cast<uint64_t>(integer_of(seq)), nodes, duplicate};
    }();
    if (ack) {
        (ack->duplicate ? metrics_.duplicates : metrics_.published)++;
        if (!ack->duplicate) shard_.published++;
        return ack;
    }
    if (ack.error().code == "broker_io" || is_transient(ack.error())) {
        metrics_.broker_unavailable++;
        shard_.unavailable++;
        return make_error("unavailable", ack.error().message + kSendAgain);
    }
    count_error();
    return ack;
}

Result<PublishAck> RedisBroker::publish(const ControlRequest& request, int64_t now_ms) {
    auto promise = std::make_shared<std::promise<Result<PublishAck>>>();
    auto answer = promise->get_future();
    publish_async(request, now_ms,
                  [promise](Result<PublishAck> ack) { promise->set_value(std::move(ack)); });
    if (answer.wait_for(kAnswerTimeout) != std::future_status::ready) {
        return no_answer();
    }
    return answer.get();
}

Result<std::optional<HistoryPage>> RedisBroker::history(const std::string& room, uint64_t since,
                                                        std::size_t limit) {
    std::vector<std::string> argv{"",
                                  "2",
                                  room_key(room),
                                  stream_key(room),
                                  new_epoch(),
                                  "read",
                                  std::to_string(since),
                                  std::to_string(std::max<std::size_t>(limit, 1)),
                                  std::to_string(config_.room_ttl_s)};
    using Page = std::optional<HistoryPage>;
    return run_and_wait<Page>([this, argv, room, limit](RedisConnection* c) -> Result<Page> {
        auto reply = eval_fetch(*c, argv);
        if (!reply) return reply.error();
        if (is_array(reply->get()) && size_of(reply->get()) == 0) return Page{};
        auto snapshot = parse_snapshot(room, reply->get());
        if (!snapshot) return snapshot.error();
        HistoryPage page{snapshot->epoch, snapshot->head, {}};
        for (const BrokerEntry& entry : snapshot->entries) {
            if (page.messages.size() >= limit) break;
            page.messages.push_back(message_json(room, snapshot->epoch, entry));
        }
        return Page{std::move(page)};
    });
}

// Worker: the fetch script by its SHA1, loaded again if Redis lost it. argv[0] is the SHA1's
// place, the rest as EVALSHA takes it.
Result<ReplyPtr> RedisBroker::eval_fetch(RedisConnection& connection,
                                         std::vector<std::string> argv) {
    argv[0] = shas_.sha(Script::fetch);
    argv.insert(argv.begin(), "EVALSHA");
    auto reply = connection.command(argv);
    if (reply || reply.error().code != "broker_error" ||
        !reply.error().message.starts_with("NOSCRIPT")) {
        return reply;
    }
    if (auto loaded = shas_.load(connection); !loaded) return loaded.error();
    argv[1] = shas_.sha(Script::fetch);
    return connection.command(argv);
}

// Loop thread. A room's load reads the stream only once its channel is subscribed, so that
// every message after what the load reads arrives live.
void RedisBroker::fetch(const std::string& room, std::optional<uint64_t> after) {
    if (after) {
        enqueue(Work{fetch_command(room, after, new_epoch()), {}});
        return;
    }
    subscriber_->want(room, [this, room] {
        enqueue(Work{fetch_command(room, {}, new_epoch()), {}});
    });
}

void RedisBroker::forget(const std::string& room) { subscriber_->drop(room); }

// `epoch`: offered for a room Redis does not have (new_epoch(), or epochs_ under mutex_).
RedisCommand RedisBroker::fetch_command(const std::string& room, std::optional<uint64_t> after,
                                        std::string epoch) {
    std::size_t count = after ? std::max<std::size_t>(config_.stream_length * 2, 1000)
                              : std::max<std::size_t>(config_.stream_length, 1);
    RedisCommand command;
    command.script = Script::fetch;
    command.argv = {"EVALSHA",
                    "",
                    "2",
                    room_key(room),
                    stream_key(room),
                    std::move(epoch),
                    after ? "after" : "tail",
                    std::to_string(after.value_or(0)),
                    std::to_string(count),
                    std::to_string(config_.room_ttl_s)};
    command.done = [this, room, after](Result<ReplyPtr> reply) {
        fetch_answered(room, after, std::move(reply));
    };
    return command;
}

// Worker. A fetch that cannot be answered now waits for the next connection: the joins it
// holds stay pending rather than being told something false.
void RedisBroker::fetch_answered(const std::string& room, std::optional<uint64_t> after,
                                 Result<ReplyPtr> reply) {
    auto snapshot =
        reply ? parse_snapshot(room, reply->get()) : Result<RoomSnapshot>(reply.error());
    if (!snapshot) {
        if (snapshot.error().code == "broker_io") {
            std::lock_guard lock(mutex_);
            if (!stopping_) waiting_fetches_.emplace_back(room, after);
            return;
        }
        count_error();
        log_warn("broker_fetch_failed")
            .kv("room", room)
            .kv("code", snapshot.error().code)
            .kv("error", snapshot.error().message);
        // Redis answered, and asking again will not change that: the room says so.
        post_([failed = listener_.fetch_failed, room, load = !after, error = snapshot.error()] {
            failed(room, load, error);
        });
        return;
    }
    if (snapshot->bad_entries > 0) {
        metrics_.broker_bad_messages += snapshot->bad_entries;
        log_warn("broker_bad_entries").kv("room", room).kv("count", snapshot->bad_entries);
    }
    snapshot->load = !after;
    post_([deliver = listener_.snapshot, snapshot = std::move(*snapshot)] { deliver(snapshot); });
}

void RedisBroker::report_members(std::string json) {
    std::lock_guard lock(mutex_);
    members_json_ = std::move(json);
}

void RedisBroker::heartbeat(RedisConnection& connection) {
    std::string json;
    {
        std::lock_guard lock(mutex_);
        json = members_json_;
    }
    if (json.empty()) return;
    auto set = connection.command(
        {"SET", node_key(config_.node_id), json, "PX", std::to_string(config_.member_ttl_ms)});
    if (!set) {
        log_warn("broker_heartbeat_failed").kv("error", set.error().message);
        return;
    }
    auto added = connection.command({"SADD", kNodes, config_.node_id});
    if (!added) log_warn("broker_heartbeat_failed").kv("error", added.error().message);
}

// Presence is live only, on the room's channel: a join or leave missed while Redis is away is
// made good by the next `presence` answer, which comes from the nodes' reports.
void RedisBroker::announce_presence(const std::string& room, const std::string& type,
                                    const std::string& member) {
    RedisCommand command;
    command.argv = {"SPUBLISH", room_channel(room),
                    encode_presence_payload({room, config_.node_id, type, member})};
    command.done = [](Result<ReplyPtr> sent) {
        if (!sent) log_warn("broker_presence_failed").kv("error", sent.error().message);
    };
    enqueue(Work{std::move(command), {}});
}

// Subscriber thread: one pub/sub message, for the rooms or a presence change.
void RedisBroker::hear(const std::string& payload) {
    metrics_.broker_received++;
    shard_.received++;
    if (is_presence_payload(payload)) {
        hear_presence(payload);
        return;
    }
    auto message = decode_pubsub_payload(payload);
    if (!message) {
        metrics_.broker_bad_messages++;
        log_warn("broker_bad_message").kv("error", message.error().message);
        return;
    }
    heard_.push_back(
        [deliver = listener_.message, message = std::move(*message)] { deliver(message); });
}

// Subscriber thread: what one read brought goes to the loop as one task (one wake-up).
void RedisBroker::pass_on_heard() {
    if (heard_.empty()) return;
    post_([heard = std::move(heard_)] {
        for (const auto& deliver : heard) deliver();
    });
    heard_.clear();
}

// Subscriber thread. A node hears its own announcements too; it told its members already.
void RedisBroker::hear_presence(const std::string& payload) {
    auto change = decode_presence_payload(payload);
    if (!change) {
        metrics_.broker_bad_messages++;
        log_warn("broker_bad_message").kv("error", change.error().message);
        return;
    }
    if (change->node == config_.node_id || !listener_.presence) return;
    heard_.push_back([tell = listener_.presence, change = std::move(*change)] { tell(change); });
}

// Subscriber thread: every wanted room is subscribed (again). Whatever was published while
// nobody listened is in the streams: every room checks.
void RedisBroker::resubscribed() {
    {
        std::lock_guard lock(mutex_);
        if (subscribed_before_) metrics_.broker_reconnects++;
        subscribed_before_ = true;
        set_state(worker_up_, true);
    }
    post_([resubscribed = listener_.resubscribed] { resubscribed(); });
}

// Subscriber thread. A connection that was up and broke means the worker's is likely dead too.
void RedisBroker::subscriber_lost(const Error& error, bool was_up) {
    {
        std::lock_guard lock(mutex_);
        count_error();
        last_error_ = error.message;
        if (was_up) worker_stale_ = true;
        set_state(worker_up_, false);
    }
    wake_.notify_all();
}

Result<std::vector<std::string>> RedisBroker::cluster_reports() {
    using Reports = std::vector<std::string>;
    return run_and_wait<Reports>([](RedisConnection* connection) -> Result<Reports> {
        auto nodes = connection->command({"SMEMBERS", kNodes});
        if (!nodes) return nodes.error();
        if (!is_array(nodes->get())) return bad_reply("SMEMBERS");
        Reports reports;
        for (std::size_t i = 0; i < size_of(nodes->get()); ++i) {
            const redisReply* node = element(nodes->get(), i);
            if (!is_string(node)) return bad_reply("SMEMBERS");
            auto report = connection->command({"GET", node_key(string_of(node))});
            if (!report) return report.error();
            if (is_string(report->get())) {
                reports.push_back(string_of(report->get()));
            } else if (is_nil(report->get())) {  // its heartbeat stopped: the node is gone
                (void)connection->command({"SREM", kNodes, string_of(node)});
            }
        }
        return reports;
    });
}

}  // namespace rp::sidecar
