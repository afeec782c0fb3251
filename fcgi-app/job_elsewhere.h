#pragma once
// DELETE /jobs/ID and POST /jobs/ID/retry of a job another app node holds (docs/app.md,
// "Several app nodes"): that node is asked through Redis (SharedJobs::ask) and does it as if
// the request had come to it; the answer here is the job as Redis then shows it.

#include <optional>
#include <string>
#include <string_view>

#include "app_config.h"
#include "http_types.h"
#include "shared_jobs.h"

namespace rp::app {

class JobsElsewhere {
public:
    JobsElsewhere(const AppConfig& config, SharedJobs& shared) : config_(config), shared_(shared) {}

    // nullopt when no other node holds the job (the caller answers as for an unknown one).
    std::optional<HttpResponse> cancel(const std::string& job_id);
    std::optional<HttpResponse> retry(const std::string& job_id);

private:
    // The node holding the job and the job as Redis has it; or the answer to give instead.
    struct Held {
        std::string node;
        Job job;
    };
    std::optional<Result<Held>> held_elsewhere(const std::string& job_id);
    std::optional<HttpResponse> ask(const Held& held, std::string_view what);
    Result<Job> current(const std::string& job_id);

    const AppConfig& config_;
    SharedJobs& shared_;
};

}  // namespace rp::app
