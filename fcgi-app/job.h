#pragma once
// A job: one upload and one run of the external program, as stored and as served at /jobs/ID.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "roompush/error.h"
#include "roompush/json.h"

namespace rp::app {

enum class JobStatus { queued, running, done, failed };
const char* status_name(JobStatus status);

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
};

// 32 lowercase hex digits from the kernel's random source.
std::string new_job_id();
bool is_valid_job_id(std::string_view id);

JsonPtr job_to_json(const Job& job);
Result<Job> job_from_json(const cJSON* json);

// The `data` of a job.* push: jobId, itemId and what the event is about.
JsonPtr job_event_data(const Job& job);

int64_t now_ms();

}  // namespace rp::app
