#pragma once
// Tests only: an event loop of the test's own behind LoopPort, a thread that runs what is posted
// in order, so that control dispatch, the memory broker and tails are tested without
// libwebsockets. It can be held (posted tasks wait) to play a loop that does not answer.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "loop_call.h"
#include "loop_port.h"

namespace rp::sidecar {

class TestLoop final : public LoopPort {
public:
    TestLoop() : thread_([this] { run(); }) {}
    ~TestLoop() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            held_ = false;
        }
        ready_.notify_all();
        thread_.join();
    }

    void post(std::function<void()> task) override {
        {
            std::lock_guard lock(mutex_);
            tasks_.push_back(std::move(task));
            posted++;
        }
        ready_.notify_all();
    }
    // As WsServer: a session with a sink (a tail) is drained at once.
    void wake(const std::vector<SessionId>& ids) override {
        for (SessionId id : ids) {
            woken.push_back(id);
            if (auto sink = sinks_.find(id); sink != sinks_.end()) sink->second();
        }
    }
    void attach_sink(SessionId id, std::function<void()> drain) override {
        sinks_[id] = std::move(drain);
    }
    void detach_sink(SessionId id) override { sinks_.erase(id); }

    // Posted tasks wait while held.
    void hold(bool held) {
        {
            std::lock_guard lock(mutex_);
            held_ = held;
        }
        ready_.notify_all();
    }
    // Any test thread: `work` on the loop, its result here (the loop's state is the loop's).
    template <class Work>
    auto sync(Work work) {
        return *call_on_loop(*this, std::move(work), std::chrono::seconds(10));
    }

    std::atomic<int> posted{0};    // tasks posted
    std::atomic<int> started{0};   // tasks taken up
    std::vector<SessionId> woken;  // loop thread (read it through sync)
    std::size_t sinks() {
        return sync([this] { return sinks_.size(); });
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        while (true) {
            ready_.wait(lock, [this] { return stopping_ || (!held_ && !tasks_.empty()); });
            if (stopping_) return;  // what is left is dropped, as a stopped loop drops it
            std::function<void()> task = std::move(tasks_.front());
            tasks_.pop_front();
            started++;
            lock.unlock();
            task();
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> tasks_;
    bool held_ = false;
    bool stopping_ = false;
    std::unordered_map<SessionId, std::function<void()>> sinks_;  // loop thread
    std::thread thread_;  // last: it starts once everything above is there
};

}  // namespace rp::sidecar
