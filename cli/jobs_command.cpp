// pushctl jobs list|show|cancel|retry: the app's operator routes (docs/http.md) through the
// site, as the machine itself (--app-url).
#include <algorithm>
#include <iostream>

#include "app_call.h"
#include "commands.h"
#include "error_report.h"
#include "format.h"
#include "roompush/job_names.h"
#include "roompush/room_id.h"
#include "table.h"

namespace rp::cli {
namespace {

int cannot_reach(const GlobalOptions& global, const Error& error) {
    if (error.code == "bad_url") return report(global, error, kUsage);
    if (error.code != "connect_failed") return report(global, error, kSidecarError);
    std::string hint =
        "Is the site up? Point pushctl at it with --app-url (tried " + global.app_url + ").";
    return report(global, make_error(error.code, error.message + ". " + hint), kCannotConnect);
}

// The app's answer as JSON, or the error it (or nginx) gave, reported: exit 1.
Result<JsonPtr> answer_json(const AppAnswer& answer) {
    auto body = parse_json(answer.body);
    if (answer.status >= 200 && answer.status < 300 && body) return std::move(*body);
    if (body) {
        const cJSON* error = cJSON_GetObjectItemCaseSensitive(body->get(), "error");
        std::string code = text_field(error, "code");
        if (!code.empty()) return make_error(code, text_field(error, "message"));
    }
    return make_error("http_" + std::to_string(answer.status),
                      "the site answered " + std::to_string(answer.status) + " without JSON");
}

// One call; prints the JSON with --json, else hands it to `show`.
template <class Show>
int call(const GlobalOptions& global, const char* method, const std::string& target, Show show,
         int timeout_ms = 0) {
    auto answer = call_app(global.app_url, method, target, std::max(timeout_ms, global.timeout_ms));
    if (!answer) return cannot_reach(global, answer.error());
    auto json = answer_json(*answer);
    if (!json) return report(global, json.error(), kSidecarError);
    if (global.json) {
        std::cout << to_json(json->get()) << "\n";
        return kOk;
    }
    show(json->get());
    return kOk;
}

std::string error_reason(const cJSON* job) {
    return text_field(cJSON_GetObjectItemCaseSensitive(job, "error"), "reason");
}

void show_job(const cJSON* job) {
    for (const char* key : {"jobId", "roomId", "itemId", "status", "filename"}) {
        std::cout << key << ": " << text_field(job, key) << "\n";
    }
    std::cout << "attempt: " << std::max<int64_t>(1, number_field(job, "attempt")) << "\n";
    for (const char* key : {"created", "started", "finished", "retryAt"}) {
        if (number_field(job, key) > 0)
            std::cout << key << ": " << local_time(number_field(job, key)) << "\n";
    }
    for (const char* key : {"result", "error"}) {
        const cJSON* value = cJSON_GetObjectItemCaseSensitive(job, key);
        if (value) std::cout << key << ": " << json_cell(value, 200) << "\n";
    }
}

}  // namespace

int jobs_command(const GlobalOptions& global, const JobsOptions& options) {
    if (options.action == "list") {
        std::string query = "limit=" + std::to_string(options.limit.value_or(100));
        if (!options.room.empty()) query += "&room=" + options.room;
        if (!options.status.empty()) query += "&status=" + options.status;
        return call(global, "GET", "/jobs?" + query, [](const cJSON* body) {
            Table table({"JOB", "ROOM", "STATUS", "ATTEMPT", "CREATED", "ERROR"});
            const cJSON* job = nullptr;
            cJSON_ArrayForEach(job, cJSON_GetObjectItemCaseSensitive(body, "jobs")) {
                table.add_row({text_field(job, "jobId"), text_field(job, "roomId"),
                               text_field(job, "status"),
                               std::to_string(std::max<int64_t>(1, number_field(job, "attempt"))),
                               local_time(number_field(job, "created")), error_reason(job)});
            }
            table.print(std::cout);
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "truncated"))) {
                std::cout << "(more: raise --limit)\n";
            }
        });
    }
    if (!is_valid_job_id(options.job)) {
        return report(global, make_error("invalid_job", "a job id is 32 lowercase hex digits"),
                      kUsage);
    }
    if (options.action == "show") return call(global, "GET", "/jobs/" + options.job, show_job);
    if (options.action == "cancel") {
        // The app answers once the program is gone: its kill grace (5 s by default) and 2 s.
        constexpr int kCancelPatienceMs = 30000;
        return call(
            global, "DELETE", "/jobs/" + options.job,
            [](const cJSON* job) {
                std::cout << text_field(job, "jobId") << " " << text_field(job, "status") << "\n";
            },
            kCancelPatienceMs);
    }
    return call(global, "POST", "/jobs/" + options.job + "/retry", [](const cJSON* job) {
        std::cout << text_field(job, "jobId") << " queued as attempt "
                  << number_field(job, "attempt") << "\n";
    });
}

// What the command line gives, checked before anything is sent: nothing here can bend the
// request line.
Status check_jobs_options(const JobsOptions& options) {
    if (!options.room.empty()) {
        if (auto valid = check_room_id(options.room); !valid) return valid;
    }
    if (!options.status.empty() && !status_from(options.status)) {
        return make_error("invalid_status",
                          "--status is queued, running, done, failed or cancelled");
    }
    return ok_status();
}

}  // namespace rp::cli
