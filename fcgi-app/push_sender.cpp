#include "push_sender.h"

#include <algorithm>

#include "roompush/control_codec.h"
#include "roompush/log.h"

namespace rp::app {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
// Bounds one connect or one wait for an ack, so that a hung sidecar cannot hold a stop for long;
// longer than the sidecar takes to answer even when Redis does not (then: push_deferred).
constexpr int kCallTimeoutMs = kControlCallTimeoutMs;

}  // namespace

PushSender::PushSender(std::string control_socket, std::string outbox_dir, std::size_t limit)
    : socket_(std::move(control_socket)), limit_(limit), outbox_(std::move(outbox_dir)) {
    stats_.limit = limit;
}

PushSender::~PushSender() { stop(std::chrono::milliseconds(0)); }

Status PushSender::open() {
    std::lock_guard lock(mutex_);
    if (auto opened = outbox_.open(); !opened) return opened;
    if (!outbox_.empty())
        log_info("outbox_loaded").kv("pending", outbox_.size()).kv("dir", outbox_.dir());
    note_fill_level();
    return ok_status();
}

void PushSender::start() {
    thread_ = std::thread([this] { run(); });
}

// Under the lock, so that the entry numbers (the send order) follow the callers' order.
Result<uint64_t> PushSender::journal(const std::string& room, std::string_view event,
                                     const std::string& id, const std::string& line) {
    auto appended = outbox_.append(line);
    if (!appended) {
        stats_.failed++;
        log_error("push_lost")
            .kv("room", room)
            .kv("event", event)
            .kv("id", id)
            .kv("code", appended.error().code)
            .kv("error", appended.error().message);
        return appended;
    }
    note_fill_level();
    return appended;
}

bool PushSender::push(const std::string& room, std::string_view event, const cJSON* data,
                      const std::string& id, PushKind kind) {
    std::string line = encode_publish_request(room, event, data, id);
    {
        std::lock_guard lock(mutex_);
        if (kind == PushKind::best_effort && outbox_.size() >= limit_) {
            stats_.dropped++;
            log_warn("push_dropped")
                .kv("room", room)
                .kv("event", event)
                .kv("id", id)
                .kv("reason", "outbox_full")
                .kv("pending", outbox_.size());
            return false;
        }
        if (!journal(room, event, id, line)) return false;
    }
    wake_.notify_one();
    return true;
}

PushSender::Delivery PushSender::push_and_wait(const std::string& room, std::string_view event,
                                               const cJSON* data, const std::string& id,
                                               std::chrono::milliseconds wait) {
    std::string line = encode_publish_request(room, event, data, id);
    std::unique_lock lock(mutex_);
    auto entry = journal(room, event, id, line);
    if (!entry) return Delivery{};
    auto& outcome = waited_[*entry];
    wake_.notify_one();
    acked_.wait_for(lock, wait, [&] { return outcome.has_value(); });
    Delivery delivery{true, std::nullopt, false};
    if (outcome) {
        delivery.ack = outcome->ack;
        delivery.refused = !outcome->ack;
    }
    waited_.erase(*entry);
    return delivery;
}

void PushSender::note_fill_level() {
    stats_.pending = outbox_.size();
    stats_.full = outbox_.size() >= limit_;
    if (stats_.full && !reported_full_) {
        log_error("outbox_full")
            .kv("pending", outbox_.size())
            .kv("limit", limit_)
            .kv("dir", outbox_.dir())
            .kv("effect", "uploads refused with 503, progress dropped");
    } else if (!stats_.full && reported_full_) {
        log_info("outbox_below_limit").kv("pending", outbox_.size()).kv("limit", limit_);
    }
    reported_full_ = stats_.full;
}

void PushSender::stop(std::chrono::milliseconds flush_for) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
        give_up_at_ = std::chrono::steady_clock::now() + flush_for;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    if (!outbox_.empty()) {
        log_warn("outbox_kept")
            .kv("pending", outbox_.size())
            .kv("dir", outbox_.dir())
            .kv("effect", "sent after the next start");
    }
}

bool PushSender::full() const {
    std::lock_guard lock(mutex_);
    return stats_.full;
}

PushStats PushSender::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

PushSender::SendResult PushSender::send(std::optional<ControlClient>& client,
                                        const std::string& line, std::optional<PublishAck>& ack) {
    if (!client) {
        auto connected = ControlClient::connect(socket_, kCallTimeoutMs);
        if (!connected) {
            log_warn("sidecar_unreachable")
                .kv("socket", socket_)
                .kv("error", connected.error().message);
            return SendResult::unreachable;
        }
        client.emplace(std::move(*connected));
    }
    auto response = client->call(line);
    if (!response && ControlClient::is_transport_error(response.error())) {
        log_warn("sidecar_connection_lost").kv("error", response.error().message);
        client.reset();
        return SendResult::unreachable;
    }
    if (!response && ControlClient::is_retryable(response.error())) {
        // The sidecar is there but cannot publish now (Redis away): keep it, try again later.
        log_warn("push_deferred")
            .kv("code", response.error().code)
            .kv("error", response.error().message);
        return SendResult::unreachable;
    }
    if (!response) {  // the sidecar refused this push: sending it again cannot help
        log_error("push_refused")
            .kv("code", response.error().code)
            .kv("error", response.error().message)
            .kv("request", line.substr(0, 200));
        return SendResult::refused;
    }
    if (auto decoded = decode_publish_response(response->get())) ack = *decoded;
    return SendResult::acked;
}

void PushSender::run() {
    std::optional<ControlClient> client;
    auto backoff = kFirstBackoff;
    auto gave_up = [&] { return stopping_ && std::chrono::steady_clock::now() >= give_up_at_; };
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || !outbox_.empty(); });
        if (outbox_.empty() || gave_up()) return;
        uint64_t entry = outbox_.front();
        lock.unlock();
        auto line = outbox_.read(entry);
        std::optional<PublishAck> ack;
        SendResult result = line ? send(client, *line, ack) : SendResult::refused;
        if (!line)
            log_error("outbox_unreadable").kv("entry", entry).kv("error", line.error().message);
        lock.lock();
        if (result != SendResult::unreachable) {
            outbox_.pop_front();  // only this thread pops, so the front is still `entry`
            (result == SendResult::acked ? stats_.sent : stats_.refused)++;
            note_fill_level();
            if (auto waiter = waited_.find(entry); waiter != waited_.end()) {
                waiter->second = Sent{result == SendResult::acked ? ack : std::nullopt};
                acked_.notify_all();
            }
            backoff = kFirstBackoff;
            continue;
        }
        // The sidecar is away: pause, doubling up to 5 s, and try the same push again. New
        // pushes do not cut the pause short; only a stop does.
        stats_.retries++;
        auto until = std::chrono::steady_clock::now() + backoff;
        if (stopping_) until = std::min(until, give_up_at_);
        bool was_stopping = stopping_;
        wake_.wait_until(lock, until, [&] { return stopping_ != was_stopping; });
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

}  // namespace rp::app
