#pragma once
// Runs one job from the spool to its end: job.started, job.progress..., job.done or job.failed.

#include <atomic>
#include <string>

#include "app_config.h"
#include "job_store.h"
#include "push_sender.h"

namespace rp::app {

class JobRunner {
public:
    JobRunner(const AppConfig& config, JobStore& store, PushSender& pushes,
              const std::atomic<bool>& stop)
        : config_(config), store_(store), pushes_(pushes), stop_(stop) {}

    void run(const std::string& job_id);

private:
    void finish(Job& job);
    void publish(const Job& job, std::string_view event, const std::string& key);

    const AppConfig& config_;
    JobStore& store_;
    PushSender& pushes_;
    const std::atomic<bool>& stop_;
};

}  // namespace rp::app
