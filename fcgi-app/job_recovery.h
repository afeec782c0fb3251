#pragma once
// What a starting app does with the jobs an earlier run left in the spool (docs/app.md,
// "Restart recovery"):
//   queued                  -> queued again, oldest first, and run
//   running                 -> job.failed with reason "interrupted"; or, with
//                              --rerun-interrupted, queued again as a new attempt
//   done/failed, unannounced-> its final event is journaled now (the app died in between)
//   no job.json             -> removed (the app died while creating it)
// Uploads half received in SPOOL/incoming are removed.

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

}  // namespace rp::app
