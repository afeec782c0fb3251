#pragma once
// --shared-spool: takes jobs from the work stream (rp:jobs:work, shared_jobs.h) as this node's
// workers come free, and hands them to the node's own queue. At start it first takes back
// what the stream had given this node before (a restart): those jobs were never finished.
//
// A node takes no more entries than it has idle workers, so a burst of uploads on one node
// waits in the stream, where every other node's free workers can take it. With a sharded job
// store each shard's stream has a reader thread of its own, and the readers share the free
// workers out among themselves before each read.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "job_queue.h"
#include "roompush/redis_connection.h"
#include "shared_jobs.h"

namespace rp::app {

class WorkFeeder {
public:
    // How many jobs this node could start now; where a taken job goes.
    struct Hooks {
        std::function<std::size_t()> free_workers;
        std::function<void(const QueuedJob&)> take;
    };

    WorkFeeder(const SharedJobsConfig& config, Hooks hooks);
    ~WorkFeeder();

    void start();
    void stop();  // takes nothing more; what it took stays in the queue

private:
    // One shard's reader: its connection's thread state.
    struct Reader {
        BrokerUrl url;
        // The entries handed to the queue, so that reading this node's pending entries again
        // (after a lost connection) does not run a job twice; and the ones a pass has seen.
        std::set<std::string> given;
        std::set<std::string> still_pending;
    };
    void run(Reader& reader);
    bool read_entries(Reader& reader, RedisConnection& redis, bool own_pending, std::string& after,
                      std::size_t count);
    std::size_t claim_workers();
    void release_workers(std::size_t claimed);
    bool take_entry(Reader& reader, const redisReply* entry, RedisConnection& redis);
    bool wait_unless_stopping(std::chrono::milliseconds pause);

    const SharedJobsConfig& config_;
    Hooks hooks_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;        // under mutex_
    std::size_t claimed_ = 0;      // under mutex_: free workers a reader's read may fill
    std::vector<Reader> readers_;  // one per shard, each its thread's
    std::vector<std::thread> threads_;
};

}  // namespace rp::app
