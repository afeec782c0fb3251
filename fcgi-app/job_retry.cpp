#include "job_retry.h"

#include <filesystem>

#include "roompush/log.h"

namespace rp::app {

HttpResponse JobRetrier::retry(const std::string& job_id) {
    if (elsewhere_) {
        if (auto here = store_.load(job_id); !here && here.error().code == "not_found") {
            if (auto answer = elsewhere_->retry(job_id)) return std::move(*answer);
        }
    }
    std::lock_guard lock(mutex_);
    auto loaded = store_.load(job_id);
    if (!loaded)
        return error_response(loaded.error().code == "not_found" ? 404 : 500, loaded.error());
    Job job = std::move(*loaded);
    // Not before its final event is journaled (announced): until then the runner still writes
    // the record, and would write the old attempt over this one.
    if ((job.status != JobStatus::failed && job.status != JobStatus::cancelled) || !job.announced) {
        return error_response(
            409, make_error("job_not_failed", "job " + job.id + " is " + status_name(job.status) +
                                                  (job.announced ? "" : " (being finished)") +
                                                  ": only a failed or cancelled job is retried"));
    }
    std::error_code missing;
    if (!std::filesystem::exists(store_.input_path(job.id), missing)) {
        return error_response(410, make_error("input_gone", "job " + job.id + "'s upload is gone"));
    }
    if (SharedJobs* shared = store_.shared()) {
        // Whoever ended it (another node, after this one's lease lapsed), it runs again here.
        if (auto reopened = shared->reopen(job.id); !reopened) {
            return error_response(503, make_error("job_store_unavailable",
                                                  "the job store cannot be reached to reopen job " +
                                                      job.id + ": " + reopened.error().message));
        }
    }
    Job next = std::move(job);
    begin_next_attempt(next);
    if (auto reset = store_.reset_work_dir(next.id); !reset)
        return error_response(500, reset.error());
    if (auto saved = store_.save(next); !saved) return error_response(500, saved.error());
    // The operator decides: past the queue's bounds and the room's cap, like a recovered job.
    dispatch_.readmit(next);
    log_info("job_retried_by_operator").kv("job", next.id).kv("attempt", next.attempt);
    return json_response(202, job_to_json(next).get());
}

}  // namespace rp::app
