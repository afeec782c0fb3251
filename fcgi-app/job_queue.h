#pragma once
// A bounded queue of jobs and the worker threads that take from it. When the queue is full,
// try_push says so at once: the caller answers 503 rather than holding the upload.
//
// Fair limits (docs/app.md, "Fair limits"): a room may hold at most `max_room_jobs` jobs queued
// or running (more is refused, 429), and at most `max_room_running` of them run at once, so a
// room's burst leaves workers to the other rooms. A worker takes the waiting job of highest
// priority, oldest first among equals, whose room is below its running cap.

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

struct QueuedJob {
    std::string id;
    std::string room;
    int priority = 0;  // higher first
};

struct RoomLimits {
    std::size_t max_room_jobs = 0;     // queued and running per room; 0: no cap
    std::size_t max_room_running = 0;  // running per room; 0: no cap
};

class JobQueue {
public:
    enum class Admission { accepted, queue_full, room_full };

    JobQueue(std::size_t capacity, std::size_t workers, std::function<void(const std::string&)> run,
             RoomLimits limits = {});
    ~JobQueue();

    void start();
    // `on_accepted` runs under the queue's lock before any worker can see the job, so whatever
    // it announces (job.queued) always comes before the job's own events.
    Admission try_push(const QueuedJob& job, const std::function<void()>& on_accepted);
    bool try_push(const std::string& job_id, const std::function<void()>& on_accepted) {
        return try_push(QueuedJob{job_id}, on_accepted) == Admission::accepted;
    }
    // For jobs found queued in the spool at start: they were accepted once and must run, so the
    // bounds do not apply (new uploads get 503 until the queue is short again).
    void push_recovered(const QueuedJob& job);
    void push_recovered(const std::string& job_id) { push_recovered(QueuedJob{job_id}); }
    // A job to run again after a temporary failure (--retries): it joins the queue at `due`,
    // outside the bounds like a recovered one.
    void push_later(const QueuedJob& job, std::chrono::steady_clock::time_point due);
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
    std::size_t ready() const;  // queued now (not the retries still waiting)
    std::size_t running() const;

private:
    struct RoomLoad {
        std::size_t jobs = 0;  // queued, waiting to be retried, running
        std::size_t running = 0;
    };
    void work();
    void enqueue(QueuedJob job);    // with mutex_ held
    bool next_job(QueuedJob& job);  // with mutex_ held: the best job a worker may take now
    void leave(const std::string& room, bool was_running);  // with mutex_ held

    std::size_t capacity_;
    std::size_t worker_count_;
    std::function<void(const std::string&)> run_;
    RoomLimits limits_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::condition_variable idle_;
    std::deque<QueuedJob> jobs_;  // in arrival order
    std::multimap<std::chrono::steady_clock::time_point, QueuedJob> later_;
    std::map<std::string, RoomLoad> rooms_;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

}  // namespace rp::app
