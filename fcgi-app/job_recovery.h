#pragma once
// What a starting app does with the jobs an earlier run left in the spool (docs/app.md,
// "Restart recovery"):
//   queued                  -> queued again, oldest first, and run
//   running                 -> job.failed with reason "interrupted"; or, with
//                              --rerun-interrupted, queued again as a new attempt
//   done/failed, unannounced-> its final event is journaled now (the app died in between)
//   no job.json             -> removed (the app died while creating it)
// Uploads half received in SPOOL/incoming are removed.
//
// A shared spool (--shared-spool) holds every node's jobs: a node recovers only the jobs Redis
// says it holds, and the work stream keeps the unfinished ones (work_feeder.h):
//   in the stream           -> left to it (this node takes back what it had been given)
//   queued or running, not  -> offered to the stream (the node stopped between writing the
//   in the stream              job and offering it)
//   ended, unannounced      -> its final event is journaled now

#include <cstddef>

#include "app_config.h"
#include "job_queue.h"
#include "job_runner.h"
#include "job_store.h"

namespace rp::app {

struct RecoveryReport {
    std::size_t requeued = 0;
    std::size_t interrupted = 0;
    std::size_t rerun = 0;
    std::size_t announced = 0;
    std::size_t removed = 0;
    std::size_t incoming_removed = 0;
    std::size_t ended_elsewhere = 0;  // several app nodes: another node ended it meanwhile
};

// Before the workers and the FastCGI threads start.
RecoveryReport recover_jobs(const AppConfig& config, JobStore& store, JobRunner& runner,
                            JobQueue& queue);
// Needs Redis: an error when it cannot be asked which jobs are this node's.
Result<RecoveryReport> recover_shared_jobs(JobStore& store, JobRunner& runner, SharedJobs& shared);

}  // namespace rp::app
