#include "redis_subscriber.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

constexpr auto kMaxBackoff = 5000ms;
constexpr std::string_view kChannelHead = "rp:{";
constexpr std::string_view kChannelTail = "}:ch";

// The room of one of our channels, or empty.
std::string room_of(const std::string& channel) {
    if (channel.size() <= kChannelHead.size() + kChannelTail.size() ||
        !channel.starts_with(kChannelHead) || !channel.ends_with(kChannelTail)) {
        return {};
    }
    return channel.substr(kChannelHead.size(),
                          channel.size() - kChannelHead.size() - kChannelTail.size());
}

void run_all(std::vector<std::function<void()>>& calls) {
    for (auto& call : calls) call();
    calls.clear();
}

}  // namespace

std::string room_channel(const std::string& room) {
    return std::string(kChannelHead) + room + std::string(kChannelTail);
}

RedisSubscriber::RedisSubscriber(Connect connect, Events events)
    : connect_(std::move(connect)),
      events_(std::move(events)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

RedisSubscriber::~RedisSubscriber() { stop(); }

void RedisSubscriber::start() {
    thread_ = std::thread([this] { run(); });
}

void RedisSubscriber::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
}

bool RedisSubscriber::up() const {
    std::lock_guard lock(mutex_);
    return up_;
}

void RedisSubscriber::wake() {
    uint64_t one = 1;
    (void)!::write(wake_fd_.get(), &one, sizeof one);
}

void RedisSubscriber::want(const std::string& room, std::function<void()> then) {
    {
        std::lock_guard lock(mutex_);
        RoomState& state = rooms_[room];
        state.wanted = true;
        if (!state.subscribed || state.pending) {
            state.then.push_back(std::move(then));
            dirty_.push_back(room);
            then = nullptr;
        }
    }
    if (then) {
        then();
    } else {
        wake();
    }
}

void RedisSubscriber::drop(const std::string& room) {
    {
        std::lock_guard lock(mutex_);
        auto found = rooms_.find(room);
        if (found == rooms_.end()) return;
        found->second.wanted = false;
        found->second.then.clear();
        dirty_.push_back(room);
    }
    wake();
}

void RedisSubscriber::reconnect() {
    std::lock_guard lock(mutex_);
    if (connection_fd_ >= 0) ::shutdown(connection_fd_, SHUT_RDWR);
}

void RedisSubscriber::run() {
    auto backoff = 100ms;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
        }
        auto opened = connect_();
        if (opened) {
            backoff = 100ms;
            (*opened)->wait_forever();
            bool clean = serve(**opened);
            std::lock_guard lock(mutex_);
            up_ = false;
            connection_fd_ = -1;
            for (auto& [room, state] : rooms_) state.subscribed = state.pending = false;
            if (stopping_ || clean) return;
        }
        if (opened) {
            events_.lost(make_error("broker_io", "pub/sub connection lost"), true);
        } else {
            events_.lost(opened.error(), false);
        }
        // Wait out the backoff. Rooms wanted meanwhile wake the eventfd: it is read, or every
        // wait would end at once; they are subscribed when the connection is back.
        auto until = std::chrono::steady_clock::now() + backoff;
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_) return;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd wait{wake_fd_.get(), POLLIN, 0};
            if (::poll(&wait, 1, static_cast<int>(left.count())) > 0) {
                uint64_t count = 0;
                (void)!::read(wake_fd_.get(), &count, sizeof count);
            }
        }
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

// Until the connection breaks (false) or the subscriber stops (true).
bool RedisSubscriber::serve(RedisConnection& connection) {
    {
        std::lock_guard lock(mutex_);
        up_ = true;
        connection_fd_ = connection.fd();
        resubscribe_told_ = false;
        awaited_.clear();
        dirty_.clear();
        for (auto& [room, state] : rooms_) {
            if (!state.wanted) continue;
            dirty_.push_back(room);
            awaited_.insert(room);
        }
    }
    if (!reconcile(connection)) return false;
    if (now_resubscribed()) events_.resubscribed();
    std::vector<std::function<void()>> calls;
    for (;;) {
        pollfd fds[2] = {{connection.fd(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) return false;
        if (fds[1].revents != 0) {
            uint64_t count = 0;
            (void)!::read(wake_fd_.get(), &count, sizeof count);
            std::lock_guard lock(mutex_);
            if (stopping_) return true;
        }
        if (fds[0].revents != 0) {
            if (!connection.read_some()) return false;
            for (;;) {
                auto reply = connection.parsed();
                if (!reply) return false;
                if (!*reply) {
                    events_.idle();
                    break;
                }
                const redisReply* root = reply->get();
                if (root->type == REDIS_REPLY_ERROR) {
                    events_.lost(make_error("broker_error",
                                            "sharded pub/sub refused (Redis 7 or later is "
                                            "needed): " +
                                                std::string(root->str, root->len)),
                                 true);
                    return false;
                }
                const redisReply* kind = element(root, 0);
                const redisReply* channel = element(root, 1);
                const redisReply* payload = element(root, 2);
                if (!is_string(kind) || !is_string(channel)) continue;
                std::string what = string_of(kind);
                if (what == "smessage" && is_string(payload)) {
                    events_.message(string_of(payload));
                } else if (what == "ssubscribe" || what == "sunsubscribe") {
                    calls = confirmed(what, string_of(channel));
                    run_all(calls);
                }
            }
        }
        if (!reconcile(connection)) return false;
        if (now_resubscribed()) events_.resubscribed();
    }
}

// Once per connection: true when every room wanted at its start is subscribed (or dropped).
bool RedisSubscriber::now_resubscribed() {
    std::lock_guard lock(mutex_);
    if (!awaited_.empty() || resubscribe_told_) return false;
    resubscribe_told_ = true;
    return true;
}

// Sends what brings Redis' subscriptions in line with the wishes that changed.
bool RedisSubscriber::reconcile(RedisConnection& connection) {
    std::lock_guard lock(mutex_);
    if (dirty_.empty()) return true;
    std::sort(dirty_.begin(), dirty_.end());
    dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
    for (const std::string& room : dirty_) {
        auto found = rooms_.find(room);
        if (found == rooms_.end()) continue;
        RoomState& state = found->second;
        if (state.pending) continue;  // looked at again when Redis confirms
        if (state.wanted != state.subscribed) {
            auto sent = connection.append(
                {state.wanted ? "SSUBSCRIBE" : "SUNSUBSCRIBE", room_channel(room)});
            if (!sent) return false;
            state.pending = true;
        } else if (!state.wanted) {
            awaited_.erase(room);  // dropped before it was subscribed again: not waited for
            rooms_.erase(found);
        }
    }
    dirty_.clear();
    return static_cast<bool>(connection.flush());
}

// Subscriber thread: Redis confirmed a (un)subscription; returns what now may run.
std::vector<std::function<void()>> RedisSubscriber::confirmed(const std::string& kind,
                                                              const std::string& channel) {
    std::vector<std::function<void()>> calls;
    std::string room = room_of(channel);
    std::lock_guard lock(mutex_);
    auto found = rooms_.find(room);
    if (room.empty() || found == rooms_.end()) return calls;
    RoomState& state = found->second;
    state.pending = false;
    state.subscribed = kind == "ssubscribe";
    awaited_.erase(room);
    if (state.subscribed && state.wanted) {
        for (auto& then : state.then) calls.push_back(std::move(then));
        state.then.clear();
    }
    if (state.wanted != state.subscribed || !state.wanted) dirty_.push_back(room);
    return calls;
}

}  // namespace rp::sidecar
