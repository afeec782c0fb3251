#include "job.h"

#include <sys/random.h>

#include <chrono>
#include <cstdio>

namespace rp::app {

std::string new_job_id() {
    unsigned char bytes[16];
    std::size_t filled = 0;
    while (filled < sizeof bytes) {
        ssize_t got = ::getrandom(bytes + filled, sizeof bytes - filled, 0);
        if (got > 0) filled += static_cast<std::size_t>(got);
    }
    std::string id;
    char hex[3];
    for (unsigned char b : bytes) {
        std::snprintf(hex, sizeof hex, "%02x", b);
        id += hex;
    }
    return id;
}

namespace {

JsonPtr failure_to_json(const JobFailure& failure) {
    JsonPtr error = make_object();
    set_string(error.get(), "reason", failure.reason);
    set_string(error.get(), "message", failure.message);
    if (failure.reason == "exit") set_number(error.get(), "exitCode", failure.exit_code);
    if (failure.signal != 0) set_number(error.get(), "signal", failure.signal);
    return error;
}

}  // namespace

JsonPtr job_to_json(const Job& job, bool stored) {
    JsonPtr json = make_object();
    set_string(json.get(), "jobId", job.id);
    set_string(json.get(), "roomId", job.room);
    set_string(json.get(), "itemId", job.item);
    set_string(json.get(), "status", status_name(job.status));
    set_string(json.get(), "filename", job.filename);
    set_number(json.get(), "size", static_cast<double>(job.size));
    set_number(json.get(), "created", static_cast<double>(job.created_ms));
    if (job.started_ms) set_number(json.get(), "started", static_cast<double>(job.started_ms));
    if (job.finished_ms) set_number(json.get(), "finished", static_cast<double>(job.finished_ms));
    set_number(json.get(), "progress", job.progress);
    if (job.result) set_json(json.get(), "result", clone_json(job.result.get()));
    if (job.failure) set_json(json.get(), "error", failure_to_json(*job.failure));
    if (job.attempt > 1) set_number(json.get(), "attempt", job.attempt);
    if (job.priority) set_number(json.get(), "priority", job.priority);
    if (job.retry_at_ms) set_number(json.get(), "retryAt", static_cast<double>(job.retry_at_ms));
    if (stored) set_bool(json.get(), "announced", job.announced);
    return json;
}

Result<Job> job_from_text(std::string_view text) {
    auto parsed = parse_json(text);
    if (!parsed)
        return make_error("bad_job", "a stored job is not JSON: " + parsed.error().message);
    return job_from_json(parsed->get());
}

Result<Job> job_from_json(const cJSON* json) {
    Job job;
    auto id = require_string(json, "jobId");
    auto room = require_string(json, "roomId");
    auto item = require_string(json, "itemId");
    auto status = require_string(json, "status");
    auto created = require_integer(json, "created");
    if (!id || !room || !item || !status || !created) {
        return make_error("bad_job", "a stored job is missing a field");
    }
    auto parsed_status = status_from(*status);
    if (!parsed_status) return parsed_status.error();
    job.id = *id;
    job.room = *room;
    job.item = *item;
    job.status = *parsed_status;
    job.created_ms = *created;
    if (auto v = get_string(json, "filename"); v && v->has_value()) job.filename = **v;
    if (auto v = get_integer(json, "size"); v && v->has_value())
        job.size = static_cast<uint64_t>(**v);
    if (auto v = get_integer(json, "started"); v && v->has_value()) job.started_ms = **v;
    if (auto v = get_integer(json, "finished"); v && v->has_value()) job.finished_ms = **v;
    if (auto v = get_integer(json, "progress"); v && v->has_value())
        job.progress = static_cast<int>(**v);
    if (auto v = get_integer(json, "attempt"); v && v->has_value())
        job.attempt = static_cast<int>(**v);
    if (auto v = get_integer(json, "retryAt"); v && v->has_value()) job.retry_at_ms = **v;
    if (auto v = get_integer(json, "priority"); v && v->has_value())
        job.priority = static_cast<int>(**v);
    job.announced = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "announced"));
    if (const cJSON* result = cJSON_GetObjectItemCaseSensitive(json, "result")) {
        job.result = clone_json(result);
    }
    if (const cJSON* error = cJSON_GetObjectItemCaseSensitive(json, "error")) {
        JobFailure failure;
        if (auto v = get_string(error, "reason"); v && v->has_value()) failure.reason = **v;
        if (auto v = get_string(error, "message"); v && v->has_value()) failure.message = **v;
        if (auto v = get_integer(error, "exitCode"); v && v->has_value())
            failure.exit_code = static_cast<int>(**v);
        if (auto v = get_integer(error, "signal"); v && v->has_value())
            failure.signal = static_cast<int>(**v);
        job.failure = failure;
    }
    return job;
}

JsonPtr job_event_data(const Job& job) {
    JsonPtr data = make_object();
    set_string(data.get(), "jobId", job.id);
    set_string(data.get(), "itemId", job.item);
    set_string(data.get(), "status", status_name(job.status));
    if (job.result) set_json(data.get(), "result", clone_json(job.result.get()));
    if (job.failure) set_json(data.get(), "error", failure_to_json(*job.failure));
    return data;
}

std::string job_event_key(const Job& job, std::string_view name) {
    std::string key = job.id + ":";
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) about the temporary
    // of "a" + std::to_string(...) in a Release build.
    if (job.attempt > 1) key.append("a").append(std::to_string(job.attempt)).append(":");
    return key.append(name);
}

void mark_interrupted(Job& job, std::string message) {
    job.status = JobStatus::failed;
    job.finished_ms = now_ms();
    JobFailure failure;
    failure.reason = "interrupted";
    failure.message = std::move(message);
    job.failure = failure;
}

void begin_next_attempt(Job& job) {
    job.status = JobStatus::queued;
    job.attempt += 1;
    job.started_ms = job.finished_ms = job.retry_at_ms = 0;
    job.progress = 0;
    job.result.reset();
    job.failure.reset();
    job.announced = false;
}

}  // namespace rp::app
