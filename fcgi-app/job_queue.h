#pragma once
// A bounded queue of job ids and the worker threads that take from it. When the queue is full,
// try_push says so at once: the caller answers 503 rather than holding the upload.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rp::app {

class JobQueue {
public:
    JobQueue(std::size_t capacity, std::size_t workers,
             std::function<void(const std::string&)> run);
    ~JobQueue();

    void start();
    // `on_accepted` runs under the queue's lock before any worker can see the job, so whatever
    // it announces (job.queued) always comes before the job's own events.
    bool try_push(const std::string& job_id, const std::function<void()>& on_accepted);
    // For jobs found queued in the spool at start: they were accepted once and must run, so the
    // bound does not apply (new uploads get 503 until the queue is short again).
    void push_recovered(const std::string& job_id);
    // A job to run again after a temporary failure (--retries): it joins the queue at `due`,
    // outside the bound like a recovered one.
    void push_later(const std::string& job_id, std::chrono::steady_clock::time_point due);
    // Takes a job out before a worker has it, also one waiting to be retried (DELETE
    // /jobs/ID); false when it is not waiting.
    bool remove(const std::string& job_id);

    // Shutdown in steps: no job starts any more (queued ones stay in the spool); wait for the
    // running ones up to `grace`; join the workers.
    void stop_taking();
    bool wait_idle(std::chrono::milliseconds grace);
    void join();
    void stop();  // all three, without grace

    std::size_t depth() const;  // queued now, and waiting to be retried
    std::size_t running() const;

private:
    void work();

    std::size_t capacity_;
    std::size_t worker_count_;
    std::function<void(const std::string&)> run_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::condition_variable idle_;
    std::deque<std::string> ids_;
    std::multimap<std::chrono::steady_clock::time_point, std::string> later_;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace rp::app
