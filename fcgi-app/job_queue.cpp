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

bool JobQueue::remove(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    auto found = std::find(ids_.begin(), ids_.end(), job_id);
    if (found == ids_.end()) return false;
    ids_.erase(found);
    return true;
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
    return ids_.size();
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
            ready_.wait(lock, [&] { return stopping_ || !ids_.empty(); });
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
