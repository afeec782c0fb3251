#include "push_sender.h"

#include <algorithm>

#include "disk_io.h"
#include "roompush/control_codec.h"
#include "roompush/log.h"

namespace rp::app {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
// Bounds one connect or one wait for an ack, so that a hung sidecar cannot hold a stop for long;
// longer than the sidecar takes to answer even when Redis does not (then: push_deferred).
constexpr int kCallTimeoutMs = kControlCallTimeoutMs;
// Pushes in flight on the control connection at once (pipelined, acked in order). Safe with the
// memory broker, which forgets keys when killed, because the sidecar writes an answer before any
// frame of its publish (ws-sidecar/answer_writer.h): an unacked push reached nobody.
constexpr std::size_t kWindow = 64;
// What was written without a sync (job records, job.queued/job.started) and has not ridden on
// anyone's sync after this long is synced by the sender itself: on disk within moments, at
// the cost of a sync only when the app is quiet.
constexpr auto kIdleSyncAfter = std::chrono::milliseconds(50);

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
                                     const std::string& id, const std::string& line, bool durable) {
    auto appended = outbox_.append(line, durable);
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
    bool durable = kind != PushKind::best_effort;
    uint64_t record = 0;
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
        auto journaled = journal(room, event, id, line, durable);
        if (!journaled) return false;
        record = outbox_.written();
    }
    wake_.notify_one();
    // Outside the lock: pushes of other jobs written meanwhile share this sync.
    return kind != PushKind::must_deliver || synced(room, event, id, record);
}

// The push is on disk; false (and a log line) when the sync failed.
bool PushSender::synced(const std::string& room, std::string_view event, const std::string& id,
                        uint64_t record) {
    auto synced = outbox_.sync_through(record);
    if (synced) return true;
    std::lock_guard lock(mutex_);
    stats_.failed++;
    log_error("push_not_durable")
        .kv("room", room)
        .kv("event", event)
        .kv("id", id)
        .kv("error", synced.error().message);
    return false;
}

PushSender::Delivery PushSender::push_and_wait(const std::string& room, std::string_view event,
                                               const cJSON* data, const std::string& id,
                                               std::chrono::milliseconds wait) {
    std::string line = encode_publish_request(room, event, data, id);
    std::unique_lock lock(mutex_);
    auto entry = journal(room, event, id, line, true);
    if (!entry) return Delivery{};
    uint64_t record = outbox_.written();
    auto& outcome = waited_[*entry];
    wake_.notify_one();
    lock.unlock();
    bool durable = synced(room, event, id, record);
    lock.lock();
    if (!durable) {
        waited_.erase(*entry);
        return Delivery{};
    }
    acked_.wait_for(lock, wait, [&] { return outcome.has_value(); });
    Delivery delivery{true, std::nullopt, false};
    if (outcome) {
        delivery.ack = outcome->ack;
        delivery.refused = !outcome->ack;
    }
    waited_.erase(*entry);
    return delivery;
}

Result<uint64_t> PushSender::write_job_record(const std::string& id, std::string_view json) {
    std::lock_guard lock(mutex_);
    if (auto written = outbox_.append_job(id, json); !written) {
        stats_.failed++;
        return written.error();
    }
    // The sender syncs it when it has nothing else to do, if no one has by then.
    wake_.notify_one();
    return outbox_.written();
}

void PushSender::job_copy_written(bool written) { outbox_.job_copy_written(written); }

Status PushSender::make_durable(uint64_t record) { return outbox_.sync_through(record); }

std::map<std::string, std::string> PushSender::take_job_records() {
    std::lock_guard lock(mutex_);
    return outbox_.take_job_records();
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
    std::unique_lock lock(mutex_);
    if (!outbox_.all_synced()) sync_while_idle(lock);
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

std::vector<std::string> PushSender::waiting() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < outbox_.size(); ++i) lines.push_back(outbox_.line_at(i));
    return lines;
}

PushStats PushSender::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

Result<ControlClient*> PushSender::connected(std::optional<ControlClient>& client) {
    if (!client) {
        auto made = ControlClient::connect(socket_, kCallTimeoutMs);
        if (!made) {
            log_warn("sidecar_unreachable").kv("socket", socket_).kv("error", made.error().message);
            return made.error();
        }
        client.emplace(std::move(*made));
    }
    return &*client;
}

// Sends the batch as one write and reads the answers in order. The answers stop at the first
// push that could not be delivered now (the rest are read, to keep the connection in step, and
// sent again later, in order: their idempotency keys make a second copy harmless).
std::vector<PushSender::Sent> PushSender::send_batch(std::optional<ControlClient>& client,
                                                     const std::vector<std::string>& lines) {
    std::vector<Sent> answers;
    auto connection = connected(client);
    if (!connection) return answers;
    std::string joined;
    for (const std::string& line : lines) joined.append(line).push_back('\n');
    joined.pop_back();
    if (auto sent = (*connection)->send_line(joined); !sent) {
        log_warn("sidecar_connection_lost").kv("error", sent.error().message);
        client.reset();
        return answers;
    }
    bool deferred = false;
    for (const std::string& line : lines) {
        auto text = (*connection)->read_line();
        if (!text) {
            log_warn("sidecar_connection_lost").kv("error", text.error().message);
            client.reset();
            break;
        }
        auto response = decode_response(*text);
        if (deferred) continue;
        if (!response && ControlClient::is_retryable(response.error())) {
            // The sidecar is there but cannot publish now (Redis away): keep it, try later.
            log_warn("push_deferred")
                .kv("code", response.error().code)
                .kv("error", response.error().message);
            deferred = true;
            continue;
        }
        if (!response) {  // the sidecar refused this push: sending it again cannot help
            log_error("push_refused")
                .kv("code", response.error().code)
                .kv("error", response.error().message)
                .kv("request", line.substr(0, 200));
            answers.push_back(Sent{std::nullopt});
            continue;
        }
        auto ack = decode_publish_response(response->get());
        answers.push_back(Sent{ack ? *ack : PublishAck{}});
    }
    return answers;
}

void PushSender::run() {
    std::optional<ControlClient> client;
    auto backoff = kFirstBackoff;
    auto gave_up = [&] { return stopping_ && std::chrono::steady_clock::now() >= give_up_at_; };
    std::unique_lock lock(mutex_);
    auto work = [&] { return stopping_ || !outbox_.empty(); };
    for (;;) {
        if (outbox_.all_synced()) {
            wake_.wait(lock, [&] { return work() || !outbox_.all_synced(); });
            if (!work()) continue;  // written unsynced: it may ride on a sync soon
        } else if (!wake_.wait_for(lock, kIdleSyncAfter, work)) {
            sync_while_idle(lock);
            continue;
        }
        if (outbox_.empty()) {
            if (!outbox_.all_synced()) sync_while_idle(lock);
            return;
        }
        if (gave_up()) return;
        std::vector<std::string> lines;
        std::vector<uint64_t> entries;
        for (std::size_t i = 0; i < std::min(outbox_.size(), kWindow); ++i) {
            lines.push_back(outbox_.line_at(i));
            entries.push_back(outbox_.number_at(i));
        }
        lock.unlock();
        std::vector<Sent> answers = send_batch(client, lines);
        lock.lock();
        // Only this thread pops, so the front is still entries[0].
        for (std::size_t i = 0; i < answers.size(); ++i) {
            outbox_.pop_front();
            (answers[i].ack ? stats_.sent : stats_.refused)++;
            if (auto waiter = waited_.find(entries[i]); waiter != waited_.end()) {
                waiter->second = answers[i];
                acked_.notify_all();
            }
        }
        note_fill_level();
        checkpoint_if_due(lock);
        if (answers.size() == lines.size()) {
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

// A failed sync is logged and tried again after a pause, not in a loop.
// The syncfs of a checkpoint flushes the whole file system: never under the lock, which every
// upload and job save takes.
void PushSender::checkpoint_if_due(std::unique_lock<std::mutex>& lock) {
    auto checkpoint = outbox_.checkpoint_due();
    if (!checkpoint) return;
    lock.unlock();
    bool synced = sync_file_system(checkpoint->journal->get());
    lock.lock();
    outbox_.checkpoint_done(*checkpoint, synced);
}

void PushSender::sync_while_idle(std::unique_lock<std::mutex>& lock) {
    uint64_t record = outbox_.written();
    lock.unlock();
    auto synced = outbox_.sync_through(record);
    lock.lock();
    if (synced) return;
    log_error("outbox_sync_failed").kv("dir", outbox_.dir()).kv("error", synced.error().message);
    if (!stopping_) {
        wake_.wait_for(lock, kMaxBackoff, [&] { return stopping_ || !outbox_.empty(); });
    }
}

}  // namespace rp::app
