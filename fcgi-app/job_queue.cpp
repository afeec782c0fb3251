#include "job_queue.h"

#include <algorithm>

namespace rp::app {

JobQueue::JobQueue(std::size_t capacity, std::size_t workers,
                   std::function<void(const std::string&)> run, RoomLimits limits)
    : capacity_(capacity), worker_count_(workers), run_(std::move(run)), limits_(limits) {}

JobQueue::~JobQueue() { stop(); }

void JobQueue::start() {
    for (std::size_t i = 0; i < worker_count_; ++i) workers_.emplace_back([this] { work(); });
}

JobQueue::Admission JobQueue::try_push(const QueuedJob& job,
                                       const std::function<void()>& on_accepted) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || jobs_.size() >= capacity_) return Admission::queue_full;
        if (limits_.max_room_jobs > 0 && rooms_[job.room].jobs >= limits_.max_room_jobs) {
            return Admission::room_full;
        }
        on_accepted();
        enqueue(job);
    }
    ready_.notify_all();
    return Admission::accepted;
}

void JobQueue::push_recovered(const QueuedJob& job) {
    {
        std::lock_guard lock(mutex_);
        enqueue(job);
    }
    ready_.notify_all();
}

void JobQueue::push_later(const QueuedJob& job, std::chrono::steady_clock::time_point due) {
    {
        std::lock_guard lock(mutex_);
        later_.emplace(due, job);
        rooms_[job.room].jobs++;
    }
    ready_.notify_all();  // a sleeping worker may now have an earlier time to wake at
}

void JobQueue::enqueue(QueuedJob job) {
    rooms_[job.room].jobs++;
    jobs_.push_back(std::move(job));
}

bool JobQueue::remove(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    auto found = std::find_if(jobs_.begin(), jobs_.end(),
                              [&](const QueuedJob& job) { return job.id == job_id; });
    if (found != jobs_.end()) {
        leave(found->room, false);
        jobs_.erase(found);
        return true;
    }
    for (auto it = later_.begin(); it != later_.end(); ++it) {
        if (it->second.id == job_id) {
            leave(it->second.room, false);
            later_.erase(it);
            return true;
        }
    }
    return false;
}

void JobQueue::leave(const std::string& room, bool was_running) {
    auto found = rooms_.find(room);
    if (found == rooms_.end()) return;
    if (found->second.jobs > 0) found->second.jobs--;
    if (was_running && found->second.running > 0) found->second.running--;
    if (found->second.jobs == 0) rooms_.erase(found);
}

// Highest priority first, the oldest among equals; a room at its running cap waits (its jobs
// keep their places).
bool JobQueue::next_job(QueuedJob& job) {
    auto now = std::chrono::steady_clock::now();
    while (!later_.empty() && later_.begin()->first <= now) {
        jobs_.push_back(std::move(later_.begin()->second));
        later_.erase(later_.begin());
    }
    auto best = jobs_.end();
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
        if (limits_.max_room_running > 0 && rooms_[it->room].running >= limits_.max_room_running) {
            continue;
        }
        if (best == jobs_.end() || it->priority > best->priority) best = it;
    }
    if (best == jobs_.end()) return false;
    job = std::move(*best);
    jobs_.erase(best);
    rooms_[job.room].running++;
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
    return jobs_.size() + later_.size();
}

std::size_t JobQueue::ready() const {
    std::lock_guard lock(mutex_);
    return jobs_.size();
}

std::size_t JobQueue::running() const {
    std::lock_guard lock(mutex_);
    return running_;
}

void JobQueue::work() {
    for (;;) {
        QueuedJob job;
        {
            std::unique_lock lock(mutex_);
            for (;;) {
                if (stopping_) return;
                if (next_job(job)) break;
                if (later_.empty()) {
                    ready_.wait(lock);
                } else {
                    // A copy: the entry may be removed (a cancel) while this thread sleeps, and
                    // wait_until reads its deadline again when it wakes.
                    auto due = later_.begin()->first;
                    ready_.wait_until(lock, due);
                }
            }
            ++running_;
        }
        run_(job.id);
        {
            std::lock_guard lock(mutex_);
            --running_;
            leave(job.room, true);
        }
        idle_.notify_all();
        ready_.notify_all();  // a room below its running cap again may have a job waiting
    }
}

}  // namespace rp::app
