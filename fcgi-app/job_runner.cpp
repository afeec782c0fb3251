#include "job_runner.h"

#include <algorithm>
#include <map>
#include <random>

#include "program_output.h"
#include "roompush/log.h"
#include "roompush/utf8.h"

namespace rp::app {
namespace {

std::string last_line(const std::string& text) {
    std::string trimmed = text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r'))
        trimmed.pop_back();
    std::size_t newline = trimmed.rfind('\n');
    return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

// The message a person sees for a failed job: the program's own JSON error if it gave one,
// else its last line on stderr, else what happened to it.
std::string failure_message(const ChildOutcome& outcome, const cJSON* result) {
    if (result != nullptr) {
        const cJSON* error = cJSON_GetObjectItemCaseSensitive(result, "error");
        auto message = get_string(error, "message");
        if (message && message->has_value()) return **message;
        if (cJSON_IsString(error)) return error->valuestring;
    }
    switch (outcome.kind) {
        case ChildOutcome::Kind::spawn_failed:
            return outcome.error;
        case ChildOutcome::Kind::timeout:
            return "the program ran past its time limit";
        case ChildOutcome::Kind::output_too_large:
            return "the program wrote more than its stdout cap";
        case ChildOutcome::Kind::interrupted:
            return "the app stopped while the program ran";
        case ChildOutcome::Kind::cancelled:
            return "the job was cancelled";
        case ChildOutcome::Kind::signaled:
            return "the program was killed by signal " + std::to_string(outcome.signal);
        case ChildOutcome::Kind::exited:
            break;
    }
    // Pushed to the room like the result, so repaired like its stdout (program_output.h).
    std::string line = repair_utf8(last_line(outcome.stderr));
    if (!line.empty()) return line;
    return "the program exited with status " + std::to_string(outcome.exit_code);
}

std::vector<std::string> program_environment(const Job& job, const std::string& workdir) {
    return {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "HOME=" + workdir,
            "TMPDIR=" + workdir, "ROOMPUSH_JOB=" + job.id};
}

// Once per job, not per line: a program that writes Latin-1 would say so on every line.
void warn_if_repaired(const Job& job, const ProgramOutput& output) {
    if (output.repaired_lines() == 0) return;
    log_warn("program_output_not_utf8")
        .kv("job", job.id)
        .kv("room", job.room)
        .kv("lines", output.repaired_lines())
        .kv("effect", "ill-formed bytes read as U+FFFD");
}

}  // namespace

bool JobRunner::publish(const Job& job, std::string_view event, const cJSON* data, PushKind kind) {
    std::string_view name = event.substr(event.find('.') + 1);  // "job.done" -> "done"
    return pushes_.push(job.room, event, data, job_event_key(job, name), kind);
}

bool JobRunner::cancel_running(const std::string& job_id) {
    std::lock_guard lock(cancels_mutex_);
    auto found = cancels_.find(job_id);
    if (found == cancels_.end()) return false;
    found->second->store(true);
    return true;
}

void JobRunner::run(const std::string& job_id) {
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    {
        std::lock_guard lock(cancels_mutex_);
        cancels_[job_id] = cancel;
    }
    run_held(job_id, *cancel);
    forget_cancel(job_id, cancel.get());
}

// Only this run's entry: the job may be held again already (a retry that came due at once).
void JobRunner::forget_cancel(const std::string& job_id, const std::atomic<bool>* mine) {
    std::lock_guard lock(cancels_mutex_);
    auto found = cancels_.find(job_id);
    if (found != cancels_.end() && found->second.get() == mine) cancels_.erase(found);
}

void JobRunner::run_held(const std::string& job_id, const std::atomic<bool>& cancel) {
    auto loaded = store_.load(job_id);
    if (!loaded) {
        log_error("job_unreadable").kv("job", job_id).kv("error", loaded.error().message);
        return;
    }
    Job job = std::move(*loaded);
    if (is_finished(job.status)) {  // --shared-spool: it ended while it waited in the stream
        if (!job.announced) {
            finish(job);  // its node stopped before it sent the end: one node sends it now
        } else if (SharedJobs* shared = store_.shared()) {
            shared->work_done(job.id);
        }
        return;
    }
    if (job.status == JobStatus::running && (running_elsewhere(job) || !take_over_run(job))) {
        return;
    }
    if (int64_t wait_ms = job.retry_at_ms - now_ms(); wait_ms > 0 && retry_later_) {
        retry_later_(queued_job(job), std::chrono::milliseconds(wait_ms));  // its backoff holds
        return;
    }
    if (cancel.load()) {  // cancelled between the queue and here: it never starts
        job.status = JobStatus::cancelled;
        job.finished_ms = now_ms();
        finish(job);
        return;
    }
    job.status = JobStatus::running;
    job.started_ms = now_ms();
    job.retry_at_ms = 0;
    if (auto saved = store_.save(job); !saved) {
        log_error("job_save_failed").kv("job", job.id).kv("error", saved.error().message);
    }
    if (SharedJobs* shared = store_.shared()) {
        auto theirs = shared->start_running(job.id);
        if (theirs && *theirs) {  // ended by another node while this one was cut off
            adopt(job, **theirs);
            return;
        }
        // Without Redis the job still runs: its end waits for Redis' word (finish()).
        if (!theirs) {
            log_warn("job_lease_not_taken").kv("job", job.id).kv("error", theirs.error().message);
        }
    }
    publish(job, "job.started", job_event_data(job).get(), PushKind::deliver_with_next);
    log_info("job_started").kv("job", job.id).kv("room", job.room).kv("attempt", job.attempt);

    // A progress event's idempotency key is its place among the run's progress events, not its
    // percentage: a program that counts 0-100 once per stage reports 50 twice, and the second
    // must not be taken for a repeat of the first.
    unsigned progress_events = 0;
    ProgramOutput output([&](const Progress& progress) {
        job.progress = progress.percent;
        JsonPtr data = job_event_data(job);
        set_number(data.get(), "progress", progress.percent);
        if (!progress.stage.empty()) set_string(data.get(), "stage", progress.stage);
        // Progress is worth dropping when the outbox is full; the final event is not.
        std::string key =
            job_event_key(job, "progress").append(":").append(std::to_string(++progress_events));
        pushes_.push(job.room, "job.progress", data.get(), key, PushKind::best_effort);
    });
    ChildSpec spec;
    spec.workdir = store_.work_dir(job.id);
    spec.argv = config_.exec.expand({{"input", store_.input_path(job.id)},
                                     {"workdir", spec.workdir},
                                     {"job", job.id},
                                     {"room", job.room},
                                     {"item", job.item}});
    spec.env = program_environment(job, spec.workdir);
    spec.limits = config_.limits;
    ChildOutcome outcome = run_child(
        spec, [&](std::string_view line) { output.add_line(line); }, &stop_, &cancel);
    // A cancel that came as the program ended on its own: the caller was told it ends cancelled.
    if (cancel.load() && outcome.kind != ChildOutcome::Kind::interrupted) {
        outcome.kind = ChildOutcome::Kind::cancelled;
    }
    warn_if_repaired(job, output);

    if (outcome.kind == ChildOutcome::Kind::interrupted &&
        (config_.rerun_interrupted || config_.shared_spool)) {
        // Left `running` in the journal on purpose: the next start runs it again, or with a
        // shared spool whichever node the stream gives it to.
        log_warn("job_interrupted")
            .kv("job", job.id)
            .kv("effect", config_.shared_spool ? "re-run by the next node to take it"
                                               : "re-run at the next start");
        waiters_.finished(job.id);
        return;
    }
    if (outcome.kind != ChildOutcome::Kind::spawn_failed && job.started_ms > 0) {
        figures_.ran(now_ms() - job.started_ms);
    }
    record_outcome(job, outcome, output);
    if (worth_retrying(job, outcome) && retry(job, cancel)) return;
    finish(job);
}

// --shared-spool: an entry of a job that a live node runs (an offer that timed out reached Redis
// after all, and the job ran where it was received) is not run again: the entry is dropped, and
// the job's lease covers it as for a job outside the stream.
bool JobRunner::running_elsewhere(const Job& job) {
    SharedJobs* shared = store_.shared();
    if (!config_.shared_spool || shared == nullptr) return false;
    auto elsewhere = shared->held_by_other_live_node(job.id);
    if (!elsewhere || !*elsewhere) return false;
    log_warn("work_entry_dropped").kv("job", job.id).kv("reason", "a live node runs it");
    shared->work_done(job.id);
    return true;
}

// --shared-spool: a job given to this node while `running` was running on a node that stopped
// (its liveness lapsed, or this node restarted): its run is lost, and it runs again from a
// clean work dir as the next attempt, unless it has had its attempts (a job that brings every
// node down must not go round them for ever). False when it ends here instead.
bool JobRunner::take_over_run(Job& job) {
    if (job.attempt > static_cast<int>(config_.retries)) {
        mark_interrupted(job, "the app node running it stopped, and it has had " +
                                  std::to_string(job.attempt) + " attempts");
        finish(job);
        return false;
    }
    log_warn("job_rerun")
        .kv("job", job.id)
        .kv("room", job.room)
        .kv("attempt", job.attempt + 1)
        .kv("reason", "the node running it stopped");
    begin_next_attempt(job);
    if (auto reset = store_.reset_work_dir(job.id); !reset) {
        log_error("job_save_failed").kv("job", job.id).kv("error", reset.error().message);
    }
    return true;
}

// The program contract's temporary failure (docs/program.md): exit status 75, EX_TEMPFAIL.
bool JobRunner::worth_retrying(const Job& job, const ChildOutcome& outcome) const {
    constexpr int kTemporaryFailure = 75;
    return outcome.kind == ChildOutcome::Kind::exited && outcome.exit_code == kTemporaryFailure &&
           job.attempt <= static_cast<int>(config_.retries) && retry_later_;
}

// The failed attempt is told to the room (job.retrying, its own key), the job goes back to
// `queued` as the next attempt with an empty work dir, and joins the queue when due: backoff
// doubling from --retry-backoff, at most 10 minutes, times a jitter of 0.5-1.5 so that jobs that
// failed together do not come back together.
// False when a cancel came meanwhile: the job is then cancelled instead (the caller finishes it).
bool JobRunner::retry(Job& job, const std::atomic<bool>& cancel) {
    constexpr int64_t kMaxDelayMs = 600000;
    int64_t base = static_cast<int64_t>(config_.retry_backoff_ms) << std::min(job.attempt - 1, 20);
    thread_local std::mt19937 random{std::random_device{}()};
    double jitter = std::uniform_real_distribution<double>(0.5, 1.5)(random);
    auto delay = std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(std::min(base, kMaxDelayMs)) * jitter));
    JsonPtr data = job_event_data(job);
    set_number(data.get(), "attempt", job.attempt);
    set_number(data.get(), "retryInMs", static_cast<double>(delay.count()));
    std::string key = job_event_key(job, "retrying");
    log_warn("job_retrying")
        .kv("job", job.id)
        .kv("room", job.room)
        .kv("attempt", job.attempt)
        .kv("delay_ms", delay.count())
        .kv("error", job.failure ? job.failure->message : "");
    figures_.retried();
    if (SharedJobs* shared = store_.shared()) shared->stop_running(job.id);
    begin_next_attempt(job);
    job.retry_at_ms = now_ms() + delay.count();
    if (auto reset = store_.reset_work_dir(job.id); !reset) {
        log_error("job_save_failed").kv("job", job.id).kv("error", reset.error().message);
    }
    // On disk with job.retrying's sync.
    if (auto saved = store_.save(job, Durability::with_next); !saved) {
        log_error("job_save_failed").kv("job", job.id).kv("error", saved.error().message);
    }
    pushes_.push(job.room, "job.retrying", data.get(), key, PushKind::must_deliver);
    // Handed to the queue under the cancel lock, and no longer held: a DELETE finds the job
    // either here (and it is cancelled now) or in the queue.
    std::lock_guard lock(cancels_mutex_);
    if (cancel.load()) {
        job.status = JobStatus::cancelled;
        job.finished_ms = now_ms();
        return false;
    }
    retry_later_(queued_job(job), delay);
    auto found = cancels_.find(job.id);
    if (found != cancels_.end() && found->second.get() == &cancel) cancels_.erase(found);
    return true;
}

void JobRunner::record_outcome(Job& job, const ChildOutcome& outcome, ProgramOutput& output) {
    job.finished_ms = now_ms();
    if (outcome.kind == ChildOutcome::Kind::cancelled) {
        job.status = JobStatus::cancelled;
        return;
    }
    bool exited_0 = outcome.kind == ChildOutcome::Kind::exited && outcome.exit_code == 0;
    if (exited_0 && output.result() != nullptr) {
        job.status = JobStatus::done;
        job.progress = 100;
        job.result = output.take_result();
        return;
    }
    job.status = JobStatus::failed;
    JobFailure failure;
    failure.reason = exited_0 ? "no_result" : outcome_reason(outcome.kind);
    failure.message = exited_0 ? "the program exited 0 without printing a JSON result"
                               : failure_message(outcome, output.result());
    failure.exit_code = outcome.exit_code;
    failure.signal = outcome.signal;
    job.failure = failure;
    if (output.result()) job.result = output.take_result();  // the program's own error detail
}

// The final state's record, the final event and `announced` go to the journal in this order, and
// the event's sync puts the first two on disk together: a crash never finds the event without
// the state, and finds the state without `announced` only if the event may not have been
// journaled (then the recovery sends it again, under the same idempotency key).
void JobRunner::finish(Job& job) {
    if (SharedJobs* shared = store_.shared()) {
        std::string json = to_json(job_to_json(job, true).get());
        auto theirs = shared->end(job.id, json);
        if (!theirs) {
            // Redis away: no event until Redis says this node's end came first (another node
            // may have taken the job over). The final state waits on disk, not announced, so
            // that a restart asks again.
            log_warn("job_end_deferred").kv("job", job.id).kv("error", theirs.error().message);
            (void)store_.save(job, Durability::now);
            shared->defer_end(job, std::move(json));
            waiters_.finished(job.id);
            return;
        }
        if (*theirs) {
            adopt(job, **theirs);
            return;
        }
    }
    announce(job);
}

// A deferred end, decided (SharedJobs' lease thread).
void JobRunner::settle_end(Job job, const std::optional<std::string>& theirs) {
    if (theirs) {
        adopt(job, *theirs);
    } else {
        announce(job);
    }
}

void JobRunner::announce(Job& job) {
    if (auto saved = store_.save(job, Durability::with_next); !saved) {
        log_error("job_save_failed").kv("job", job.id).kv("error", saved.error().message);
    }
    bool done = job.status == JobStatus::done;
    const char* event = done                                 ? "job.done"
                        : job.status == JobStatus::cancelled ? "job.cancelled"
                                                             : "job.failed";
    publish(job, event, job_event_data(job).get(), PushKind::must_deliver);
    figures_.ended(status_name(job.status));
    job.announced = true;
    (void)store_.save(job, Durability::with_next);
    waiters_.finished(job.id);
    auto line = done                                 ? log_info("job_done")
                : job.status == JobStatus::cancelled ? log_info("job_cancelled")
                                                     : log_warn("job_failed");
    line.kv("job", job.id).kv("room", job.room).kv("ms", job.finished_ms - job.started_ms);
    if (job.failure) line.kv("reason", job.failure->reason).kv("error", job.failure->message);
    if (SharedJobs* shared = store_.shared()) shared->work_done(job.id);
}

// Several app nodes: the first final state written to Redis wins (shared_jobs.h). When another
// node ended the job first (it took over this node's lapsed lease), its record becomes this
// node's, announced: that node sent the final event, this one must not send another (not even
// when that record cannot be read: this node's own then stands, unannounced no more).
void JobRunner::adopt(Job& job, const std::string& theirs) {
    auto adopted = job_from_text(theirs);
    if (adopted) {
        job = std::move(*adopted);
    } else {
        log_error("job_end_unreadable").kv("job", job.id).kv("error", adopted.error().message);
    }
    job.announced = true;
    (void)store_.save(job, Durability::with_next);
    waiters_.finished(job.id);
    log_warn("job_ended_elsewhere")
        .kv("job", job.id)
        .kv("room", job.room)
        .kv("status", status_name(job.status));
    if (SharedJobs* shared = store_.shared()) shared->work_done(job.id);
}

bool JobRunner::adopt_if_ended_elsewhere(Job& job) {
    SharedJobs* shared = store_.shared();
    if (shared == nullptr) return false;
    auto theirs = shared->ended_by_other(job.id);
    if (!theirs || !*theirs) return false;
    adopt(job, **theirs);
    return true;
}

// The final event of a job another node's lease lapsed on, ended here (SharedJobs).
bool JobRunner::announce_taken_over(const Job& job) {
    if (!publish(job, "job.failed", job_event_data(job).get(), PushKind::must_deliver)) {
        return false;
    }
    figures_.ended(status_name(job.status));
    return true;
}

}  // namespace rp::app
