#pragma once
// Retention (--keep): a thread that removes finished jobs, with their upload and work dir, once
// they have been finished for longer than the retention time. Queued and running jobs, and
// finished ones whose final event is not journaled yet, are never touched.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

#include "job_store.h"

namespace rp::app {

class JobSweeper {
public:
    JobSweeper(JobStore& store, std::chrono::seconds keep);
    ~JobSweeper();

    // Nothing to do when keep is 0 (keep forever).
    void start();
    void stop();

    // One pass at `now_ms`; returns how many jobs were removed.
    std::size_t sweep(int64_t now_ms);

private:
    void run();

    JobStore& store_;
    std::chrono::seconds keep_;
    std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace rp::app
