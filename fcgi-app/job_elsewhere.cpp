#include "job_elsewhere.h"

#include <chrono>
#include <thread>

#include "roompush/json.h"

namespace rp::app {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(50);
// How long a retry elsewhere is given to show its next attempt in Redis.
constexpr auto kRetryPatience = std::chrono::seconds(2);

Error store_unavailable(const Error& error) {
    return make_error("job_store_unavailable", "the job store cannot be reached: " + error.message);
}

HttpResponse job_answer(int status, const Job& job) {
    return json_response(status, job_to_json(job).get());
}

}  // namespace

Result<Job> JobsElsewhere::current(const std::string& job_id) { return shared_.get_job(job_id); }

// nullopt: no other node holds it. Otherwise the node and the job, or the error to answer.
std::optional<Result<JobsElsewhere::Held>> JobsElsewhere::held_elsewhere(
    const std::string& job_id) {
    auto node = shared_.holder(job_id);
    if (!node) return Result<Held>(store_unavailable(node.error()));
    if (!*node || **node == shared_.node()) return std::nullopt;
    auto job = current(job_id);
    if (!job) return Result<Held>(job.error());
    return Result<Held>(Held{**node, std::move(*job)});
}

std::optional<HttpResponse> JobsElsewhere::ask(const Held& held, std::string_view what) {
    auto heard = shared_.ask(held.node, what, held.job.id);
    if (!heard) return error_response(503, store_unavailable(heard.error()));
    if (*heard == 0) {
        return error_response(
            503, make_error("node_unavailable",
                            "job " + held.job.id + " is held by app node " + held.node +
                                ", which does not answer now; try again later (a job it was "
                                "running ends when its lease lapses)"));
    }
    return std::nullopt;
}

std::optional<HttpResponse> JobsElsewhere::cancel(const std::string& job_id) {
    auto held = held_elsewhere(job_id);
    if (!held) return std::nullopt;
    if (!*held) return error_response(503, held->error());
    const Job& job = (*held)->job;
    if (is_finished(job.status)) {
        return error_response(409,
                              make_error("job_finished", "job " + job.id + " has ended already (" +
                                                             status_name(job.status) +
                                                             "): there is nothing to cancel"));
    }
    if (auto refused = ask(**held, "cancel")) return refused;
    // As on the node itself: the kill grace, and a moment to record the end.
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(config_.limits.kill_grace_ms) +
                    std::chrono::seconds(2);
    for (;;) {
        auto now_job = current(job_id);
        if (now_job && is_finished(now_job->status)) {
            if (now_job->status != JobStatus::cancelled) {
                return error_response(
                    409, make_error("job_finished", "job " + job_id + " has ended already (" +
                                                        status_name(now_job->status) +
                                                        "): there is nothing to cancel"));
            }
            return job_answer(200, *now_job);
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return now_job ? job_answer(202, *now_job) : job_answer(202, job);
        }
        std::this_thread::sleep_for(kPoll);
    }
}

std::optional<HttpResponse> JobsElsewhere::retry(const std::string& job_id) {
    auto held = held_elsewhere(job_id);
    if (!held) return std::nullopt;
    if (!*held) return error_response(503, held->error());
    const Job& job = (*held)->job;
    if ((job.status != JobStatus::failed && job.status != JobStatus::cancelled) || !job.announced) {
        return error_response(
            409, make_error("job_not_failed", "job " + job.id + " is " + status_name(job.status) +
                                                  ": only a failed or cancelled job is retried"));
    }
    if (auto refused = ask(**held, "retry")) return refused;
    auto deadline = std::chrono::steady_clock::now() + kRetryPatience;
    for (;;) {
        auto now_job = current(job_id);
        if (now_job && now_job->attempt > job.attempt) return job_answer(202, *now_job);
        if (std::chrono::steady_clock::now() >= deadline) {
            return error_response(
                504,
                make_error("node_slow", "app node " + (*held)->node + " was asked to retry job " +
                                            job_id + " but did not show its next attempt in time"));
        }
        std::this_thread::sleep_for(kPoll);
    }
}

}  // namespace rp::app
