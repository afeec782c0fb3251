#pragma once
// With --job-store redis://…, the jobs of every app node in one Redis, so that any node answers
// GET /jobs/ID, and a lease on every running job, so that the other nodes notice a node that
// died and end its jobs (docs/app.md, "Several app nodes"). A node's own spool and journal stay
// the truth for the jobs it holds; Redis is where the nodes meet.
//
//   rp:job:{ID}              hash: json (the job as stored), node (the node that holds its
//                            input), ended_by (the node that wrote its final state; only that
//                            node's saves of a final state are taken, and no new run starts
//                            until an operator's retry reopens the job)
//   rp:job:{ID}:lease        the node running it, with a TTL that node renews (--lease)
//   rp:jobs:running          set: the jobs whose program runs on some node
//   rp:jobs:to-announce:NODE hash: job id -> the end NODE wrote for a dead node's job, until
//                            NODE has journaled its event
//   rp:jobs:ask:NODE         channel: "cancel ID" or "retry ID", for the node that holds job ID
//   rp:jobs:index            sorted set: every job's id by its creation time (GET /jobs)
//
// With --shared-spool (every node sees the spool), also:
//   rp:jobs:work             stream: one entry (id, room, priority) per job to run, read by
//                            the group "workers", one consumer per node; an entry is
//                            acknowledged and deleted when its job ends (work_done), and the
//                            job hash's field `entry` names it
//   rp:jobs:node:NODE        NODE is alive: renewed with the leases. When it lapses, the
//                            entries NODE was given and had not finished go back to the end of
//                            the stream (a queued job waits for the next free worker; a running
//                            one runs again), and no lease takeover ends them as interrupted
//
// Every final state goes through end(): the first node to write it wins, atomically, and only
// it sends the final event; so a room gets one terminal event per job whichever node dies. A
// node that cannot reach Redis when its job ends keeps the job's lease (as far as it can) and
// sends nothing until Redis has answered (defer_end): it never guesses that it won.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "job.h"
#include "roompush/broker_url.h"
#include "roompush/error.h"
#include "roompush/redis_connection.h"

namespace rp::app {

// The keys above that the work feeder reads too.
inline constexpr const char* kWorkStream = "rp:jobs:work";
inline constexpr const char* kWorkGroup = "workers";
std::string job_key(const std::string& id);  // rp:job:{ID}

struct SharedJobsConfig {
    // One Redis (or Sentinel group), or shards: each job lives on the shard its id hashes to,
    // with the sets, stream and index of its shard's jobs (shard_of, as the broker's rooms).
    BrokerSpec store;
    RedisCredentials credentials;
    std::string node;       // --node-id: stable across restarts of this node
    unsigned lease_ms = 0;  // a running job's lease; renewed every third of it
    unsigned keep_s = 0;    // a finished job's record expires this long after its end (0: never)
    bool shared_spool = false;  // --shared-spool: jobs are handed out through rp:jobs:work
};

// What Redis knows of a job at a node's start (--shared-spool): who holds it, and whether it
// is in the work stream.
struct JobPlace {
    std::optional<std::string> holder;
    bool in_stream = false;
};

class SharedJobs {
public:
    explicit SharedJobs(SharedJobsConfig config);
    ~SharedJobs();

    const std::string& node() const { return config_.node; }

    // The job as this node stored it. Not taken when another node has ended it meanwhile.
    // Errors are logged, not returned: the node's own record stays the truth for it.
    void put(const Job& job, const std::string& json);
    // The job as the nodes last stored it; nullopt when no node knows it.
    Result<std::optional<std::string>> get(const std::string& id);
    // The same, read: "job_store_unavailable", "not_found" or "bad_job" when it cannot be.
    Result<Job> get_job(const std::string& id);
    // The record of the job when another node wrote its final state; nullopt otherwise.
    Result<std::optional<std::string>> ended_by_other(const std::string& id);
    void remove(const std::string& id);
    // Ids of the jobs the nodes know, newest first, handed to `take` `page` at a time until it
    // returns false or every id has been read.
    Status walk_newest(std::size_t page,
                       const std::function<bool(const std::vector<std::string>&)>& take);
    // Their records, in the same order (nullopt: expired).
    Result<std::vector<std::optional<std::string>>> get_all(const std::vector<std::string>& ids);
    // Expired ids leave the index (after a walk: removing them during it would shift the
    // walk's offsets past as many ids).
    void unindex(const std::vector<std::string>& ids);
    // The node that holds the job (its input and its run); nullopt when no node knows it.
    Result<std::optional<std::string>> holder(const std::string& id);
    // Asks `node` to cancel or retry a job it holds ("cancel", "retry"); how many nodes heard
    // (0: that node is not listening now).
    Result<long long> ask(const std::string& node, std::string_view what, const std::string& id);

    // The job's program starts here: a lease, renewed until stop_running() or end(). Refused,
    // with that node's record, when another node has ended the job (this node was cut off).
    Result<std::optional<std::string>> start_running(const std::string& id);
    // The program stopped without an end (a retry waits): no lease, not running.
    void stop_running(const std::string& id);
    // An operator runs an ended job again (POST /jobs/ID/retry): whoever ended it, it is open.
    Status reopen(const std::string& id);

    // Writes the job's final state unless another node wrote one first; then returns that
    // node's record (and this node must not announce the job).
    Result<std::optional<std::string>> end(const std::string& id, const std::string& json);
    // end() could not reach Redis: the lease stays renewed and the lease thread tries again,
    // then settles the job (Callbacks::end_settled) with nullopt (this node won) or the record
    // of the node that ended it first.
    void defer_end(const Job& job, std::string json);

    // Lease lapsed: the jobs that no node renews any more, ended here as interrupted and marked
    // to be announced by this node. Called by the lease thread; public for the tests.
    std::vector<Job> take_over_lapsed();
    // The jobs this node ended for another and has not yet announced (it may have died before
    // it journaled the event), and the acknowledgement that one's event is journaled now.
    std::vector<Job> to_announce();
    void announced(const std::string& id);

    // --shared-spool: the job joins the work stream, for any node's free worker.
    Status offer(const Job& job);
    // Entries in the work stream that no node has taken yet.
    Result<std::size_t> waiting();
    // The job ended (or is gone): its entry leaves the stream. Nothing without --shared-spool.
    void work_done(const std::string& id);
    // This node's liveness key, now (before it takes work at start).
    Status say_alive();
    Result<bool> alive(const std::string& node);
    // Another node holds the job and is alive (so its program may run there now).
    Result<bool> held_by_other_live_node(const std::string& id);

    // Holder and stream entry of each job, in one round trip.
    Result<std::vector<JobPlace>> places(const std::vector<std::string>& ids);
    // The nodes whose liveness key has been gone for dead_for(): their entries back to the
    // stream (the lease thread's, every half lease). Returns how many entries went back.
    std::size_t requeue_from_dead_nodes();

    struct Callbacks {
        // Journals the final event of a job this node ended for a dead one; false if it could
        // not (the job stays to be announced, and is tried again).
        std::function<bool(const Job&)> announce_taken_over;
        // A deferred end, decided.
        std::function<void(Job, const std::optional<std::string>& theirs)> end_settled;
        // Another node asks this one to cancel or retry a job it holds (ask()).
        std::function<void(const std::string& what, const std::string& id)> asked;
    };
    // The lease thread: renews this node's leases every third of --lease, tries the deferred
    // ends again and, every half of a lease, announces the jobs of dead nodes.
    void start(Callbacks callbacks);
    void stop();

private:
    // One Redis of the store, and this node's connection to it.
    struct Shard {
        BrokerUrl url;
        std::mutex mutex;
        std::unique_ptr<RedisConnection> connection;  // under mutex
        // Under mutex: a connect that failed is not tried again for a moment, so that the
        // callers of a node cut off from Redis fail fast instead of queueing for timeouts.
        std::chrono::steady_clock::time_point retry_connect_at{};
    };
    std::size_t home(const std::string& id) const;  // the shard of a job
    template <typename Call>
    auto with_connection(std::size_t shard, Call call)
        -> decltype(call(std::declval<RedisConnection&>()));
    Result<ReplyPtr> run(std::size_t shard, const std::vector<std::string>& argv);
    Status run_all(std::size_t shard, const std::vector<std::vector<std::string>>& commands);
    // Pipelined, every command's reply or error.
    Result<std::vector<Result<ReplyPtr>>> run_each(
        std::size_t shard, const std::vector<std::vector<std::string>>& commands);
    // The same commands, each on its job's shard, in the order of `ids`.
    Result<std::vector<Result<ReplyPtr>>> run_each_home(
        const std::vector<std::string>& ids, const std::vector<std::vector<std::string>>& commands);
    std::size_t requeue_on(std::size_t shard, const std::string& node);
    std::optional<std::vector<std::string>> nodes_with_work(std::size_t shard);
    void renew_leases();
    std::chrono::milliseconds dead_for() const;
    void settle_deferred_ends();
    void announce_all(const std::vector<Job>& jobs);
    void run_leases();
    void run_listener();
    void hand_to_ask_worker(const std::string& what, const std::string& id);
    void run_asks();
    void renew_if_due();
    bool wait_unless_stopping(std::chrono::milliseconds pause);

    SharedJobsConfig config_;
    int timeout_ms_;
    Callbacks callbacks_;
    std::vector<std::unique_ptr<Shard>> shards_;

    std::mutex leases_mutex_;
    std::condition_variable leases_wake_;
    std::set<std::string> running_here_;       // under leases_mutex_: leases renewed here
    std::map<std::string, int> lapsed_scans_;  // under leases_mutex_: seen without a lease
    // The lease thread's: a node whose liveness key is gone from a shard, and since when.
    std::map<std::pair<std::string, std::size_t>, std::chrono::steady_clock::time_point>
        dead_node_scans_;
    std::map<std::string, std::string> deferred_ends_;  // under leases_mutex_: id -> json
    bool stopping_ = false;                             // under leases_mutex_
    std::thread lease_thread_;
    std::thread listen_thread_;
    std::deque<std::pair<std::string, std::string>> asks_;  // under leases_mutex_: what, id
    std::thread ask_thread_;
    std::chrono::steady_clock::time_point last_renewal_{};  // the lease thread's
    bool left_ = false;  // stop(): this node's liveness key is deleted once
};

}  // namespace rp::app
