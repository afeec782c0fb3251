#pragma once
// Where a job that is ready to run goes, with its job.queued event: this node's queue, or with
// --shared-spool the work stream, for whichever node has a free worker (work_feeder.h).
//
// Across nodes the outbox's order no longer puts job.queued before job.started (another node
// sends that one): with a shared spool, job.queued is acked by the sidecar before the job is
// offered, or waited for up to a second when the sidecar is slow.

#include "app_config.h"
#include "job.h"
#include "job_queue.h"
#include "push_sender.h"
#include "shared_jobs.h"

namespace rp::app {

class JobDispatch {
public:
    JobDispatch(const AppConfig& config, JobQueue& queue, PushSender& pushes, SharedJobs* shared)
        : config_(config), queue_(queue), pushes_(pushes), shared_(shared) {}

    // A new upload: within the queue's bounds and the room's caps.
    JobQueue::Admission admit(const Job& job);
    // A job the operator runs again: past the bounds, like a recovered one.
    void readmit(const Job& job);

private:
    bool to_stream() const { return config_.shared_spool && shared_ != nullptr; }
    void announce_queued(const Job& job, bool wait_for_ack);
    void offer(const Job& job);

    const AppConfig& config_;
    JobQueue& queue_;
    PushSender& pushes_;
    SharedJobs* shared_;
};

}  // namespace rp::app
