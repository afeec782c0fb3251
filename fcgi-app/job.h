#pragma once
// A job: one upload and one run of the external program, as stored and as served at /jobs/ID.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "job_queue.h"
#include "roompush/error.h"
#include "roompush/job_names.h"
#include "roompush/json.h"
#include "roompush/wall_clock.h"

namespace rp::app {

struct JobFailure {
    std::string reason;  // exit, signal, timeout, output_too_large, spawn, no_result, interrupted
    std::string message;
    int exit_code = 0;
    int signal = 0;
};

struct Job {
    std::string id;
    std::string room;
    std::string item;
    std::string filename;  // as the client sent it: metadata only, never a path
    uint64_t size = 0;
    JobStatus status = JobStatus::queued;
    int64_t created_ms = 0;
    int64_t started_ms = 0;
    int64_t finished_ms = 0;
    int progress = 0;
    JsonPtr result;
    std::optional<JobFailure> failure;
    // 1 for the first run; a job re-run after an interrupted start counts up, so that its events
    // get idempotency keys of their own (the sidecar would swallow repeats of the old ones).
    int attempt = 1;
    // Queued for a retry after a temporary failure: not before this (ms since the epoch).
    int64_t retry_at_ms = 0;
    int priority = 0;  // ?priority=0..9 of the upload: higher runs first
    // The final event (job.done / job.failed) is in the outbox. Stored only: a job that is
    // finished but not announced (the app died in between) is announced at the next start.
    bool announced = false;
};

// What the job queue needs of a job.
inline QueuedJob queued_job(const Job& job) { return {job.id, job.room, job.priority}; }

// 32 lowercase hex digits from the kernel's random source.
std::string new_job_id();

// The job as GET /jobs/ID serves it; `stored` adds what only the journal needs (announced).
JsonPtr job_to_json(const Job& job, bool stored = false);
Result<Job> job_from_json(const cJSON* json);
// The same from its text (job.json, a journal record, the job store's copy): "bad_job" when it
// is not JSON, or not a job.
Result<Job> job_from_text(std::string_view text);

// The `data` of a job.* push: jobId, itemId and what the event is about.
JsonPtr job_event_data(const Job& job);

// The idempotency key of one of the job's events: "ID:name", or "ID:aN:name" from attempt 2 on.
std::string job_event_key(const Job& job, std::string_view name);

// The job as its next attempt, queued and blank (a retry, a re-run after an interruption, an
// operator's retry): attempt + 1, no times, progress, result or error; its final event not yet
// announced. The caller empties the work dir and saves it.
void begin_next_attempt(Job& job);

// The job as failed with reason `interrupted`: its program stopped with its app (a crash, a
// stop past the grace, or a node whose lease lapsed).
void mark_interrupted(Job& job, std::string message = "the app stopped while the program ran");

}  // namespace rp::app
