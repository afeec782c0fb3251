// The Redis broker's two threads and every command it sends (docs/scaling.md). Over 400 lines
// because each command's reply checking sits next to the command; what needs no connection is
// elsewhere and unit-tested: redis_replies (reply shapes), redis_wire (pub/sub payloads),
// redis_durability (the persistence check), redis_scripts.h (the Lua). The broker itself is
// tested against a real redis-server (tests/integration/test_scaling.py, test_presence.py).

#include "redis_broker.h"

#include "redis_durability.h"

#include <sys/socket.h>

#include <cstdio>
#include <future>

#include "redis_replies.h"
#include "redis_scripts.h"
#include "redis_wire.h"
#include "roompush/json_text.h"
#include "roompush/log.h"
#include "ws_codec.h"

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

constexpr int kCommandTimeoutMs = 2000;
constexpr auto kAnswerTimeout = std::chrono::milliseconds(kSidecarAnswerDeadlineMs);
constexpr auto kMaxBackoff = 5000ms;
// Redis may have run a command whose answer never came: only the idempotency key makes sending
// it again safe.
constexpr const char* kSendAgain =
    "; send it again later, with the same id (it may have been published)";
const std::string kChannel = "rp:messages";
const std::string kNodes = "rp:nodes";

std::string room_key(const std::string& room) { return "rp:{" + room + "}"; }
std::string stream_key(const std::string& room) { return "rp:{" + room + "}:log"; }
std::string id_key(const std::string& room, const std::string& id) {
    return "rp:{" + room + "}:id:" + id;
}
std::string node_key(const std::string& node) { return "rp:node:" + node; }

// As RoomRegistry::frame_of writes it: a `d` that is not checked JSON text becomes null.
std::string message_json(const std::string& room, const std::string& epoch,
                         const BrokerEntry& entry) {
    std::string_view data = is_verbatim_json(entry.data) ? std::string_view(entry.data) : "null";
    return encode_message(
        {room, entry.seq, epoch, entry.event, data, entry.ts_ms, sender_of(entry)});
}

}  // namespace

RedisBroker::RedisBroker(RedisBrokerConfig config, SidecarMetrics& metrics, Post post)
    : config_(std::move(config)), metrics_(metrics), post_(std::move(post)) {
    metrics_.broker_up = 0;
}

RedisBroker::~RedisBroker() { stop(); }

Status RedisBroker::start(BrokerListener listener) {
    listener_ = std::move(listener);
    {
        std::unique_lock lock(mutex_);
        ensure_connected(lock);
    }
    worker_ = std::thread([this] { worker_loop(); });
    subscriber_ = std::thread([this] { subscriber_loop(); });
    return ok_status();
}

void RedisBroker::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !worker_.joinable()) return;
        stopping_ = true;
        if (subscriber_fd_ >= 0) ::shutdown(subscriber_fd_, SHUT_RDWR);
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (subscriber_.joinable()) subscriber_.join();
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
    metrics_.broker_up = up ? 1 : 0;
    if (up && !was_up) log_info("broker_up").kv("broker", config_.url.describe());
    if (!up && was_up) {
        log_error("broker_down").kv("broker", config_.url.describe()).kv("error", last_error_);
    }
}

void RedisBroker::pause(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, duration, [this] { return stopping_; });
}

// Called with mutex_ held; drops it while connecting.
void RedisBroker::ensure_connected(std::unique_lock<std::mutex>& lock) {
    auto now = std::chrono::steady_clock::now();
    if (connection_ || now < next_attempt_ || stopping_) return;
    lock.unlock();
    auto opened = RedisConnection::open(config_.url, config_.password, kCommandTimeoutMs);
    // Asked before the lock is taken again: against a Redis that hangs, these two commands take
    // their timeouts, and a publish waiting for the lock must not wait for them.
    std::optional<std::string> durability;
    if (opened) durability = durability_problem(**opened);
    lock.lock();
    if (!opened) {
        metrics_.broker_errors++;
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
    backoff_ = 100ms;
    next_heartbeat_ = now;
    set_state(true, subscriber_up_);
    // Rooms that could not be loaded while Redis was away are asked for again.
    for (const auto& waiting : waiting_fetches_) {
        jobs_.push_back(
            [this, waiting](RedisConnection* c) { run_fetch(c, waiting.first, waiting.second); });
    }
    waiting_fetches_.clear();
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
        } else if (jobs_.empty()) {
            auto until = connection_ ? next_heartbeat_ : next_attempt_;
            wake_.wait_until(lock, until, [this] { return stopping_ || !jobs_.empty(); });
            continue;
        } else {
            Job job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job(connection_.get());
            lock.lock();
        }
        if (connection_ && connection_->broken()) {
            metrics_.broker_errors++;
            last_error_ = "connection lost";
            connection_.reset();
            next_attempt_ = std::chrono::steady_clock::now();
            metrics_.broker_reconnects++;
            set_state(false, subscriber_up_);
        }
    }
    // Whoever still waits hears "unavailable" now rather than at its timeout.
    while (!jobs_.empty()) {
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job(nullptr);
        lock.lock();
    }
    lock.unlock();
    // A node that stops leaves the cluster view now, not when its report expires.
    if (connection_ && !connection_->broken()) {
        (void)connection_->command({"DEL", node_key(config_.node_id)});
        (void)connection_->command({"SREM", kNodes, config_.node_id});
    }
}

void RedisBroker::enqueue(Job job) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
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
            return unavailable();
        }
        Error away = unavailable();
        jobs_.push_back([promise, work = std::move(work), away](RedisConnection* connection) {
            promise->set_value(connection ? work(connection) : Result<T>(away));
        });
    }
    wake_.notify_all();
    if (answer.wait_for(kAnswerTimeout) != std::future_status::ready) {
        metrics_.broker_unavailable++;
        return make_error("unavailable", "Redis did not answer within " +
                                             std::to_string(kSidecarAnswerDeadlineMs / 1000) +
                                             " s" + kSendAgain);
    }
    Result<T> result = answer.get();
    if (!result && result.error().code == "broker_io") {
        metrics_.broker_unavailable++;
        return make_error("unavailable", result.error().message + kSendAgain);
    }
    return result;
}

Result<PublishAck> RedisBroker::publish(const ControlRequest& request, int64_t now_ms) {
    std::vector<std::string> argv{"EVAL", scripts::kPublish, request.id.empty() ? "2" : "3",
                                  room_key(request.room), stream_key(request.room)};
    if (!request.id.empty()) argv.push_back(id_key(request.room, request.id));
    for (std::string arg :
         {new_epoch(), request.room, request.event, request.data, std::to_string(now_ms),
          std::to_string(config_.stream_length), std::to_string(config_.dedupe_ttl_s),
          std::to_string(config_.room_ttl_s), kChannel, request.from}) {
        argv.push_back(std::move(arg));
    }
    auto ack = run_and_wait<PublishAck>([argv](RedisConnection* connection) -> Result<PublishAck> {
        auto reply = connection->command(argv);
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
        return PublishAck{static_cast<uint64_t>(integer_of(seq)), nodes, integer_of(fresh) == 0};
    });
    if (ack) (ack->duplicate ? metrics_.duplicates : metrics_.published)++;
    if (!ack && ack.error().code != "unavailable") metrics_.broker_errors++;
    return ack;
}

Result<std::optional<HistoryPage>> RedisBroker::history(const std::string& room, uint64_t since,
                                                        std::size_t limit) {
    std::vector<std::string> argv{"EVAL",
                                  scripts::kFetch,
                                  "2",
                                  room_key(room),
                                  stream_key(room),
                                  new_epoch(),
                                  "read",
                                  std::to_string(since),
                                  std::to_string(std::max<std::size_t>(limit, 1)),
                                  std::to_string(config_.room_ttl_s)};
    using Page = std::optional<HistoryPage>;
    return run_and_wait<Page>([argv, room, limit](RedisConnection* connection) -> Result<Page> {
        auto reply = connection->command(argv);
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

void RedisBroker::fetch(const std::string& room, std::optional<uint64_t> after) {
    enqueue(
        [this, room, after](RedisConnection* connection) { run_fetch(connection, room, after); });
}

// On the worker. A fetch that cannot be answered now waits for the next connection: the joins
// it holds stay pending rather than being told something false.
void RedisBroker::run_fetch(RedisConnection* connection, const std::string& room,
                            std::optional<uint64_t> after) {
    auto wait = [&] {
        std::lock_guard lock(mutex_);
        if (!stopping_) waiting_fetches_.emplace_back(room, after);
    };
    if (connection == nullptr) return wait();
    std::size_t count = after ? std::max<std::size_t>(config_.stream_length * 2, 1000)
                              : std::max<std::size_t>(config_.stream_length, 1);
    std::string epoch = new_epoch();
    auto reply =
        connection->command({"EVAL", scripts::kFetch, "2", room_key(room), stream_key(room), epoch,
                             after ? "after" : "tail", std::to_string(after.value_or(0)),
                             std::to_string(count), std::to_string(config_.room_ttl_s)});
    auto snapshot =
        reply ? parse_snapshot(room, reply->get()) : Result<RoomSnapshot>(reply.error());
    if (!snapshot) {
        metrics_.broker_errors++;
        log_warn("broker_fetch_failed")
            .kv("room", room)
            .kv("code", snapshot.error().code)
            .kv("error", snapshot.error().message);
        if (snapshot.error().code == "broker_io") return wait();
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

// Presence is live only: a join or leave missed while Redis is away is made good by the next
// `presence` answer, which comes from the nodes' reports.
void RedisBroker::announce_presence(const std::string& room, const std::string& type,
                                    const std::string& member) {
    std::string payload = encode_presence_payload({room, config_.node_id, type, member});
    enqueue([this, payload = std::move(payload)](RedisConnection* connection) {
        if (connection == nullptr) return;
        if (auto sent = connection->command({"PUBLISH", kChannel, payload}); !sent) {
            log_warn("broker_presence_failed").kv("error", sent.error().message);
        }
    });
}

// Subscriber thread: one pub/sub reply, a message for the rooms or a presence change.
void RedisBroker::hear(const redisReply* reply) {
    const redisReply* kind = element(reply, 0);
    const redisReply* payload = element(reply, 2);
    if (!is_string(kind) || string_of(kind) != "message") return;
    if (is_string(payload) && is_presence_payload(string_of(payload))) {
        hear_presence(string_of(payload));
        return;
    }
    auto message = is_string(payload) ? decode_pubsub_payload(string_of(payload))
                                      : Result<BrokerMessage>(bad_reply("pub/sub"));
    if (!message) {
        metrics_.broker_bad_messages++;
        log_warn("broker_bad_message").kv("error", message.error().message);
        return;
    }
    post_([deliver = listener_.message, message = std::move(*message)] { deliver(message); });
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
    post_([tell = listener_.presence, change = std::move(*change)] { tell(change); });
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

void RedisBroker::subscriber_loop() {
    auto backoff = std::chrono::milliseconds(100);
    bool subscribed_before = false;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
        }
        auto opened = RedisConnection::open(config_.url, config_.password, kCommandTimeoutMs);
        auto subscribed =
            opened ? (*opened)->command({"SUBSCRIBE", kChannel}) : Result<ReplyPtr>(opened.error());
        if (!subscribed) {
            metrics_.broker_errors++;
            {
                std::lock_guard lock(mutex_);
                last_error_ = subscribed.error().message;
                set_state(worker_up_, false);
            }
            pause(backoff);
            backoff = std::min(backoff * 2, kMaxBackoff);
            continue;
        }
        RedisConnection& connection = **opened;
        connection.wait_forever();
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            subscriber_fd_ = connection.fd();
            set_state(worker_up_, true);
        }
        backoff = std::chrono::milliseconds(100);
        if (subscribed_before) metrics_.broker_reconnects++;
        subscribed_before = true;
        // Whatever was published while nobody listened is in the streams: every room checks.
        post_([resubscribed = listener_.resubscribed] { resubscribed(); });
        while (auto reply = connection.next_reply()) hear(reply->get());
        std::lock_guard lock(mutex_);
        subscriber_fd_ = -1;
        if (stopping_) return;
        metrics_.broker_errors++;
        last_error_ = "pub/sub connection lost";
        worker_stale_ = true;
        set_state(worker_up_, false);
        wake_.notify_all();
    }
}

}  // namespace rp::sidecar
