#include "job_recovery.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>
#include <vector>

#include "roompush/log.h"

namespace rp::app {
namespace {

// A new attempt from a clean slate: the old run's partial output must not leak into it.
Status prepare_rerun(JobStore& store, Job& job) {
    begin_next_attempt(job);
    if (auto reset = store.reset_work_dir(job.id); !reset) return reset;
    return store.save(job);
}

void log_report(const RecoveryReport& report) {
    log_info("recovered")
        .kv("requeued", report.requeued)
        .kv("interrupted", report.interrupted)
        .kv("rerun", report.rerun)
        .kv("announced", report.announced)
        .kv("ended_elsewhere", report.ended_elsewhere)
        .kv("removed", report.removed)
        .kv("incoming_removed", report.incoming_removed);
}

}  // namespace

Result<RecoveryReport> recover_shared_jobs(JobStore& store, JobRunner& runner, SharedJobs& shared) {
    RecoveryReport report;
    report.incoming_removed = store.clear_incoming();
    std::vector<std::string> ids = store.list_ids();
    auto places = shared.places(ids);
    if (!places) return places.error();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const JobPlace& place = (*places)[i];
        if (place.holder != shared.node()) continue;
        // Another node may be creating a job of the same directory: only this node's go.
        auto loaded = store.load(ids[i]);
        if (!loaded) {
            log_warn("job_unreadable_at_start")
                .kv("job", ids[i])
                .kv("error", loaded.error().message);
            continue;
        }
        Job& job = *loaded;
        if (runner.adopt_if_ended_elsewhere(job)) {
            report.ended_elsewhere++;
        } else if (!is_finished(job.status)) {
            if (place.in_stream) continue;  // the stream gives it to a node (maybe this one)
            if (auto offered = shared.offer(job); !offered) return offered.error();
            report.requeued++;
        } else if (!job.announced) {
            runner.finish(job);
            report.announced++;
        }
    }
    log_report(report);
    return report;
}

RecoveryReport recover_jobs(const AppConfig& config, JobStore& store, JobRunner& runner,
                            JobQueue& queue) {
    RecoveryReport report;
    report.incoming_removed = store.clear_incoming();
    std::vector<std::pair<int64_t, std::string>> to_queue;  // (created, id)
    std::map<std::string, Job> queued;                      // id -> the job
    for (const std::string& id : store.list_ids()) {
        auto loaded = store.load(id);
        if (!loaded) {
            log_warn("job_removed_at_start").kv("job", id).kv("error", loaded.error().message);
            store.remove(id);
            report.removed++;
            continue;
        }
        Job& job = *loaded;
        if (job.status == JobStatus::running && runner.adopt_if_ended_elsewhere(job)) {
            report.ended_elsewhere++;
            continue;
        }
        if (job.status == JobStatus::queued) {
            to_queue.emplace_back(job.created_ms, id);
            queued[id] = std::move(job);
        } else if (job.status == JobStatus::running && config.rerun_interrupted) {
            if (auto ready = prepare_rerun(store, job); !ready) {
                log_error("job_rerun_failed").kv("job", id).kv("error", ready.error().message);
                continue;
            }
            to_queue.emplace_back(job.created_ms, id);
            queued[id] = std::move(job);
            report.rerun++;
        } else if (job.status == JobStatus::running) {
            mark_interrupted(job);
            runner.finish(job);
            report.interrupted++;
        } else if (!job.announced) {
            runner.finish(job);
            report.announced++;
        }
    }
    std::sort(to_queue.begin(), to_queue.end());
    for (const auto& [created, id] : to_queue) {
        // A retry keeps its backoff across a restart.
        const Job& job = queued.at(id);
        int64_t wait_ms = job.retry_at_ms - now_ms();
        if (wait_ms > 0) {
            queue.push_later(queued_job(job),
                             std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms));
        } else {
            queue.push_recovered(queued_job(job));
        }
    }
    report.requeued = to_queue.size() - report.rerun;
    log_report(report);
    return report;
}

}  // namespace rp::app
