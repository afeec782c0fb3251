#pragma once
// Runs one job from the spool to its end: job.started, job.progress..., job.done or job.failed.

#include <atomic>
#include <string>

#include "app_config.h"
#include "job_store.h"
#include "job_waiters.h"
#include "program_output.h"
#include "push_sender.h"

namespace rp::app {

class JobRunner {
public:
    JobRunner(const AppConfig& config, JobStore& store, PushSender& pushes, JobWaiters& waiters,
              const std::atomic<bool>& stop)
        : config_(config), store_(store), pushes_(pushes), waiters_(waiters), stop_(stop) {}

    void run(const std::string& job_id);

    // Saves a finished job, journals its final event, then marks it announced: a crash in
    // between leaves a finished, unannounced job that the next start announces (recovery).
    void finish(Job& job);

private:
    ChildOutcome run_program(Job& job);
    void record_outcome(Job& job, const ChildOutcome& outcome, ProgramOutput& output);
    void publish(const Job& job, std::string_view event, const cJSON* data, PushKind kind);

    const AppConfig& config_;
    JobStore& store_;
    PushSender& pushes_;
    JobWaiters& waiters_;
    const std::atomic<bool>& stop_;
};

}  // namespace rp::app
