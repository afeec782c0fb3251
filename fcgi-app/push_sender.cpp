#include "push_sender.h"

#include <algorithm>

#include "roompush/control_codec.h"
#include "roompush/log.h"

namespace rp::app {

PushSender::PushSender(std::string control_socket, std::size_t max_pending)
    : socket_(std::move(control_socket)), max_pending_(max_pending) {}

PushSender::~PushSender() { stop(std::chrono::milliseconds(0)); }

void PushSender::start() { thread_ = std::thread([this] { run(); }); }

bool PushSender::push(const std::string& room, std::string_view event, const cJSON* data,
                      const std::string& id) {
    std::string line = encode_publish_request(room, event, data, id);
    {
        std::lock_guard lock(mutex_);
        if (lines_.size() >= max_pending_) {
            log_error("push_dropped").kv("room", room).kv("event", event).kv("id", id)
                .kv("reason", "queue_full").kv("pending", lines_.size());
            return false;
        }
        lines_.push_back(std::move(line));
    }
    wake_.notify_one();
    return true;
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
    if (!lines_.empty()) log_error("pushes_lost_at_stop").kv("count", lines_.size());
}

std::size_t PushSender::pending() const {
    std::lock_guard lock(mutex_);
    return lines_.size();
}

bool PushSender::send_front(std::optional<ControlClient>& client, const std::string& line) {
    if (!client) {
        auto connected = ControlClient::connect(socket_, 5000);
        if (!connected) {
            log_warn("sidecar_unreachable").kv("socket", socket_).kv("error", connected.error().message);
            return false;
        }
        client.emplace(std::move(*connected));
    }
    auto response = client->call(line);
    if (!response && ControlClient::is_transport_error(response.error())) {
        log_warn("sidecar_connection_lost").kv("error", response.error().message);
        client.reset();
        return false;
    }
    if (!response) {  // the sidecar refused this push: retrying cannot help
        log_error("push_refused").kv("code", response.error().code).kv("error", response.error().message);
    }
    return true;
}

void PushSender::run() {
    std::optional<ControlClient> client;
    auto backoff = std::chrono::milliseconds(100);
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || !lines_.empty(); });
        if (lines_.empty()) return;  // stopping with nothing left
        if (stopping_ && std::chrono::steady_clock::now() >= give_up_at_) return;
        std::string line = lines_.front();
        lock.unlock();
        bool done = send_front(client, line);
        lock.lock();
        if (done) {
            lines_.pop_front();
            backoff = std::chrono::milliseconds(100);
            continue;
        }
        // The sidecar is away: wait, growing the pause up to 5 s, and try the same push again.
        wake_.wait_for(lock, backoff, [&] { return stopping_ && std::chrono::steady_clock::now() >= give_up_at_; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
}

}  // namespace rp::app
