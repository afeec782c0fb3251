#pragma once
// Runs one job from the spool to its end: job.started, job.progress..., job.done or job.failed.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "app_config.h"
#include "job_figures.h"
#include "job_store.h"
#include "job_waiters.h"
#include "program_output.h"
#include "push_sender.h"

namespace rp::app {

class JobRunner {
public:
    // Where a job to retry goes (JobQueue::push_later), after this long.
    using RetryLater = std::function<void(const QueuedJob& job, std::chrono::milliseconds)>;

    JobRunner(const AppConfig& config, JobStore& store, PushSender& pushes, JobWaiters& waiters,
              const std::atomic<bool>& stop, RetryLater retry_later = {})
        : config_(config),
          store_(store),
          pushes_(pushes),
          waiters_(waiters),
          stop_(stop),
          retry_later_(std::move(retry_later)) {}

    void set_retry_later(RetryLater retry_later) { retry_later_ = std::move(retry_later); }
    const JobFigures& figures() const { return figures_; }

    void run(const std::string& job_id);

    // DELETE /jobs/ID of a job a worker holds: its program is stopped (SIGTERM to its process
    // group, SIGKILL after the kill grace), or never started, and the job ends `cancelled`.
    // False when no worker holds the job.
    bool cancel_running(const std::string& job_id);

    // Saves a finished job, journals its final event, then marks it announced: a crash in
    // between leaves a finished, unannounced job that the next start announces (recovery).
    void finish(Job& job);
    // Several app nodes: true (and the job is the other node's record, announced, and saved
    // so) when another node ended it, e.g. after this node's lease on it lapsed.
    bool adopt_if_ended_elsewhere(Job& job);
    // Several app nodes: journals the final event of a job this node ended for a dead one.
    bool announce_taken_over(const Job& job);
    // Several app nodes: an end that waited for Redis, decided: `theirs` is the record of the
    // node that ended the job first, or nullopt when this node's end stands.
    void settle_end(Job job, const std::optional<std::string>& theirs);

private:
    void run_held(const std::string& job_id, const std::atomic<bool>& cancel);
    bool running_elsewhere(const Job& job);
    bool take_over_run(Job& job);
    bool worth_retrying(const Job& job, const ChildOutcome& outcome) const;
    bool retry(Job& job, const std::atomic<bool>& cancel);
    void forget_cancel(const std::string& job_id, const std::atomic<bool>* mine);
    void record_outcome(Job& job, const ChildOutcome& outcome, ProgramOutput& output);
    bool publish(const Job& job, std::string_view event, const cJSON* data, PushKind kind);
    void announce(Job& job);
    void adopt(Job& job, const std::string& theirs);

    const AppConfig& config_;
    JobStore& store_;
    PushSender& pushes_;
    JobWaiters& waiters_;
    const std::atomic<bool>& stop_;
    RetryLater retry_later_;
    JobFigures figures_;
    std::mutex cancels_mutex_;
    // The jobs the workers hold, and whether each is to be cancelled.
    std::map<std::string, std::shared_ptr<std::atomic<bool>>> cancels_;
};

}  // namespace rp::app
