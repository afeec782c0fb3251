#pragma once
// A job's id and status as the app writes them and pushctl checks them (docs/http.md): one
// rule, one place.

#include <string_view>

#include "roompush/error.h"

namespace rp {

enum class JobStatus { queued, running, done, failed, cancelled };
inline constexpr JobStatus kJobStatuses[] = {JobStatus::queued, JobStatus::running, JobStatus::done,
                                             JobStatus::failed, JobStatus::cancelled};

const char* status_name(JobStatus status);
// "bad_job" for a name that is none of them.
Result<JobStatus> status_from(std::string_view name);
bool is_finished(JobStatus status);

// 32 lowercase hex digits (what the app makes from the kernel's random source).
bool is_valid_job_id(std::string_view id);

}  // namespace rp
