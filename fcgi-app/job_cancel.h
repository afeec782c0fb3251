#pragma once
// DELETE /jobs/ID (docs/http.md): a queued job is taken out of the queue, a running one has its
// program stopped (SIGTERM to its process group, SIGKILL after --kill-grace); either ends
// `cancelled`, and the room gets `job.cancelled` through the outbox like any final event. A job
// that has ended already is `409 job_finished`.

#include <string>

#include "app_config.h"
#include "http_types.h"
#include "job_elsewhere.h"
#include "job_queue.h"
#include "job_runner.h"
#include "job_store.h"
#include "job_waiters.h"

namespace rp::app {

class JobCanceller {
public:
    JobCanceller(const AppConfig& config, JobStore& store, JobQueue& queue, JobRunner& runner,
                 JobWaiters& waiters)
        : config_(config), store_(store), queue_(queue), runner_(runner), waiters_(waiters) {}

    // Several app nodes: a job this node does not hold is cancelled by the node that does.
    void reach_other_nodes(JobsElsewhere* elsewhere) { elsewhere_ = elsewhere; }

    HttpResponse cancel(const std::string& job_id);

private:
    HttpResponse cancel_queued(Job job);
    bool held_by_live_node(const Job& job);
    HttpResponse answer_when_stopped(const std::string& job_id);

    const AppConfig& config_;
    JobStore& store_;
    JobQueue& queue_;
    JobRunner& runner_;
    JobWaiters& waiters_;
    JobsElsewhere* elsewhere_ = nullptr;
};

}  // namespace rp::app
