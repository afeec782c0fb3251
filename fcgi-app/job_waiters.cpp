#include "job_waiters.h"

namespace rp::app {

void JobWaiters::watch(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    watched_[job_id].watchers++;
}

bool JobWaiters::wait(const std::string& job_id, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] {
        auto found = watched_.find(job_id);
        return released_ || (found != watched_.end() && found->second.finished);
    });
    auto found = watched_.find(job_id);
    bool finished = found != watched_.end() && found->second.finished;
    unwatch(job_id);
    return finished;
}

void JobWaiters::forget(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    unwatch(job_id);
}

void JobWaiters::unwatch(const std::string& job_id) {
    auto found = watched_.find(job_id);
    if (found != watched_.end() && --found->second.watchers <= 0) watched_.erase(found);
}

void JobWaiters::finished(const std::string& job_id) {
    {
        std::lock_guard lock(mutex_);
        auto found = watched_.find(job_id);
        if (found == watched_.end()) return;
        found->second.finished = true;
    }
    // Few threads ever wait (one per FastCGI thread at most), so waking them all is cheap.
    changed_.notify_all();
}

bool JobWaiters::released() const {
    std::lock_guard lock(mutex_);
    return released_;
}

void JobWaiters::release_all() {
    {
        std::lock_guard lock(mutex_);
        released_ = true;
    }
    changed_.notify_all();
}

}  // namespace rp::app
