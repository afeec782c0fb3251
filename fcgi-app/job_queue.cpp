#include "job_queue.h"

#include <algorithm>

namespace rp::app {

JobQueue::JobQueue(std::size_t capacity, std::size_t workers,
                   std::function<void(const std::string&)> run)
    : capacity_(capacity), worker_count_(workers), run_(std::move(run)) {}

JobQueue::~JobQueue() { stop(); }

void JobQueue::start() {
    for (std::size_t i = 0; i < worker_count_; ++i) workers_.emplace_back([this] { work(); });
}

bool JobQueue::try_push(const std::string& job_id, const std::function<void()>& on_accepted) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || ids_.size() >= capacity_) return false;
        on_accepted();
        ids_.push_back(job_id);
    }
    ready_.notify_one();
    return true;
}

void JobQueue::push_recovered(const std::string& job_id) {
    {
        std::lock_guard lock(mutex_);
        ids_.push_back(job_id);
    }
    ready_.notify_one();
}

void JobQueue::push_later(const std::string& job_id, std::chrono::steady_clock::time_point due) {
    {
        std::lock_guard lock(mutex_);
        later_.emplace(due, job_id);
    }
    ready_.notify_all();  // a sleeping worker may now have an earlier time to wake at
}

bool JobQueue::remove(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    auto found = std::find(ids_.begin(), ids_.end(), job_id);
    if (found != ids_.end()) {
        ids_.erase(found);
        return true;
    }
    for (auto it = later_.begin(); it != later_.end(); ++it) {
        if (it->second == job_id) {
            later_.erase(it);
            return true;
        }
    }
    return false;
}

void JobQueue::stop_taking() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
}

bool JobQueue::wait_idle(std::chrono::milliseconds grace) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, grace, [&] { return running_ == 0; });
}

void JobQueue::join() {
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
}

void JobQueue::stop() {
    stop_taking();
    join();
}

std::size_t JobQueue::depth() const {
    std::lock_guard lock(mutex_);
    return ids_.size() + later_.size();
}

std::size_t JobQueue::running() const {
    std::lock_guard lock(mutex_);
    return running_;
}

void JobQueue::work() {
    for (;;) {
        std::string id;
        {
            std::unique_lock lock(mutex_);
            for (;;) {
                auto now = std::chrono::steady_clock::now();
                while (!later_.empty() && later_.begin()->first <= now) {
                    ids_.push_back(std::move(later_.begin()->second));
                    later_.erase(later_.begin());
                }
                if (stopping_ || !ids_.empty()) break;
                if (later_.empty()) {
                    ready_.wait(lock);
                } else {
                    ready_.wait_until(lock, later_.begin()->first);
                }
            }
            if (stopping_) return;
            id = std::move(ids_.front());
            ids_.pop_front();
            ++running_;
        }
        run_(id);
        {
            std::lock_guard lock(mutex_);
            --running_;
        }
        idle_.notify_all();
    }
}

}  // namespace rp::app
