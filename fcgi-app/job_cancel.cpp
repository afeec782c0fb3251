#include "job_cancel.h"

#include <chrono>
#include <thread>

#include "roompush/log.h"

namespace rp::app {
namespace {

HttpResponse already_ended(const Job& job) {
    return error_response(409, make_error("job_finished", "job " + job.id + " has ended already (" +
                                                              status_name(job.status) +
                                                              "): there is nothing to cancel"));
}

}  // namespace

HttpResponse JobCanceller::cancel(const std::string& job_id) {
    if (elsewhere_) {
        if (auto here = store_.load(job_id); !here && here.error().code == "not_found") {
            if (auto answer = elsewhere_->cancel(job_id)) return std::move(*answer);
        }
    }
    // A worker takes a job from the queue before it registers it as running: in that instant
    // the job is in neither place, so both are asked again for a little while.
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto job = store_.load(job_id);
        if (!job) return error_response(job.error().code == "not_found" ? 404 : 500, job.error());
        if (is_finished(job->status)) return already_ended(*job);
        waiters_.watch(job_id);
        if (queue_.remove(job_id)) {
            waiters_.forget(job_id);
            auto current = store_.load(job_id);  // as it is now: a retry may have moved it on
            if (!current) return error_response(500, current.error());
            return cancel_queued(std::move(*current));
        }
        if (runner_.cancel_running(job_id)) return answer_when_stopped(job_id);
        waiters_.forget(job_id);
        if (config_.shared_spool && elsewhere_) {
            // In the work stream, or just given to a node: the first end written wins
            // (shared_jobs.h), and a node that starts it after this finds it ended.
            if (!held_by_live_node(*job)) return cancel_queued(std::move(*job));
            if (auto answer = elsewhere_->cancel(job_id)) return std::move(*answer);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return error_response(503, make_error("try_again", "job " + job_id +
                                                           " is changing hands between the queue "
                                                           "and a worker; send the DELETE again"));
}

// --shared-spool: a job that is `running` may be waiting in the stream to run again (its node
// died, or this node restarted since): then no program of it runs anywhere, and it is cancelled
// like a queued one. Only a live other node's run is asked to stop.
bool JobCanceller::held_by_live_node(const Job& job) {
    if (job.status != JobStatus::running) return false;
    // Not known (Redis away): asked, and answered as the asking goes.
    auto elsewhere = store_.shared()->held_by_other_live_node(job.id);
    return !elsewhere || *elsewhere;
}

HttpResponse JobCanceller::cancel_queued(Job job) {
    job.status = JobStatus::cancelled;
    job.finished_ms = now_ms();
    runner_.finish(job);  // saves it and sends job.cancelled to the room
    return json_response(200, job_to_json(job).get());
}

// The program has its kill grace to go, and a moment for the runner to save the outcome; a
// job that outlasts that is answered 202 with what it is now (it ends cancelled all the same).
HttpResponse JobCanceller::answer_when_stopped(const std::string& job_id) {
    auto patience =
        std::chrono::milliseconds(config_.limits.kill_grace_ms) + std::chrono::seconds(2);
    bool ended = waiters_.wait(job_id, patience);
    auto job = store_.load(job_id);
    if (!job) return error_response(500, job.error());
    if (!ended) return json_response(202, job_to_json(*job).get());
    if (job->status != JobStatus::cancelled) return already_ended(*job);  // it finished first
    return json_response(200, job_to_json(*job).get());
}

}  // namespace rp::app
