#pragma once
// Requests that wait for their job to finish (POST /cad?wait=SECONDS): the upload thread
// watches the job before queueing it, the runner says when it has finished, and a stopping app
// releases every waiter at once so that shutdown never waits on a client's patience.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

namespace rp::app {

class JobWaiters {
public:
    // Before the job can run, so that a job that finishes at once is not missed.
    void watch(const std::string& job_id);
    // True when the job finished within `timeout`; false on timeout or when the app stops.
    // Forgets the job either way.
    bool wait(const std::string& job_id, std::chrono::milliseconds timeout);
    void forget(const std::string& job_id);
    bool released() const;  // release_all() was called: the app stops
    // Called by the runner once the job's final state is saved.
    void finished(const std::string& job_id);
    void release_all();

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    struct Watch {
        bool finished = false;
        int watchers = 0;  // an upload's ?wait and a DELETE may watch one job at once
    };
    void unwatch(const std::string& job_id);  // with mutex_ held
    std::map<std::string, Watch> watched_;    // only jobs someone waits for
    bool released_ = false;
};

}  // namespace rp::app
