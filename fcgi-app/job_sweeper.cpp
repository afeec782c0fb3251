#include "job_sweeper.h"

#include <algorithm>

#include "roompush/log.h"

namespace rp::app {
namespace {

// Often enough that a job outlives its retention by at most a quarter of it (and by at most a
// minute), rarely enough that a long retention costs nothing.
std::chrono::milliseconds sweep_interval(std::chrono::seconds keep) {
    auto quarter = std::chrono::duration_cast<std::chrono::milliseconds>(keep) / 4;
    return std::clamp(quarter, std::chrono::milliseconds(250), std::chrono::milliseconds(60000));
}

}  // namespace

JobSweeper::JobSweeper(JobStore& store, std::chrono::seconds keep)
    : store_(store), keep_(keep), interval_(sweep_interval(keep)) {}

JobSweeper::~JobSweeper() { stop(); }

void JobSweeper::start() {
    if (keep_.count() == 0) return;
    thread_ = std::thread([this] { run(); });
}

void JobSweeper::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::size_t JobSweeper::sweep(int64_t now) {
    int64_t keep_ms = static_cast<int64_t>(keep_.count()) * 1000;
    std::size_t removed = 0;
    for (const std::string& id : store_.list_ids()) {
        auto job = store_.load(id);
        // Unreadable or half-created directories belong to recovery at the next start.
        if (!job || !is_finished(job->status) || !job->announced) continue;
        if (job->finished_ms + keep_ms > now) continue;
        // Read again just before: an operator may have retried it since (POST /jobs/ID/retry).
        auto again = store_.load(id);
        if (!again || !is_finished(again->status) || again->finished_ms + keep_ms > now) continue;
        store_.remove(id);
        ++removed;
        log_info("job_expired")
            .kv("job", id)
            .kv("room", job->room)
            .kv("status", status_name(job->status));
    }
    return removed;
}

void JobSweeper::run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [&] { return stopping_; })) {
        lock.unlock();
        sweep(now_ms());
        lock.lock();
    }
}

}  // namespace rp::app
