#include "job_figures.h"

#include <cstring>
#include <vector>

#include "roompush/prometheus.h"

namespace rp::app {

void JobFigures::ended(const char* how) {
    if (std::strcmp(how, "done") == 0) {
        done_++;
    } else if (std::strcmp(how, "cancelled") == 0) {
        cancelled_++;
    } else {
        failed_++;
    }
}

void JobFigures::ran(int64_t milliseconds) {
    if (milliseconds < 0) milliseconds = 0;
    double seconds = static_cast<double>(milliseconds) / 1000;
    std::size_t bucket = 0;
    while (bucket < kRunSecondsBounds.size() && seconds > kRunSecondsBounds[bucket]) ++bucket;
    run_counts_[bucket]++;
    run_ms_sum_ += static_cast<uint64_t>(milliseconds);
}

void JobFigures::render(std::string& out) const {
    using enum MetricType;
    append_metric(out, "roompush_app_jobs_done_total", counter, "Jobs that ended with job.done.",
                  done_);
    append_metric(out, "roompush_app_jobs_failed_total", counter,
                  "Jobs that ended with job.failed (after their last retry).", failed_);
    append_metric(out, "roompush_app_jobs_cancelled_total", counter,
                  "Jobs cancelled by DELETE /jobs/ID.", cancelled_);
    append_metric(out, "roompush_app_jobs_retried_total", counter,
                  "Runs that failed temporarily (exit 75) and were scheduled again.", retried_);
    std::vector<uint64_t> counts;
    for (const auto& count : run_counts_) counts.push_back(count.load());
    append_histogram(out, "roompush_app_job_run_seconds",
                     "How long the programs ran, each attempt that started one.", kRunSecondsBounds,
                     counts, static_cast<double>(run_ms_sum_.load()) / 1000);
}

}  // namespace rp::app
