#include "roompush/job_names.h"

#include <string>

namespace rp {

const char* status_name(JobStatus status) {
    switch (status) {
        case JobStatus::queued:
            return "queued";
        case JobStatus::running:
            return "running";
        case JobStatus::done:
            return "done";
        case JobStatus::failed:
            return "failed";
        case JobStatus::cancelled:
            return "cancelled";
    }
    return "queued";
}

Result<JobStatus> status_from(std::string_view name) {
    for (JobStatus status : kJobStatuses) {
        if (name == status_name(status)) return status;
    }
    return make_error("bad_job", "unknown job status " + std::string(name));
}

bool is_finished(JobStatus status) {
    return status == JobStatus::done || status == JobStatus::failed ||
           status == JobStatus::cancelled;
}

bool is_valid_job_id(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace rp
