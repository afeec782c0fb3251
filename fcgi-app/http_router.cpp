#include "http_router.h"

#include "app_metrics.h"
#include "job_listing.h"
#include "job_preview.h"
#include "roompush/prometheus.h"
#include "roompush/unix_socket.h"

namespace rp::app {
namespace {

HttpResponse method_not_allowed(HttpRequest& request, const char* allow) {
    drain_body(*request.body, 1 << 20);
    HttpResponse response = error_response(
        405,
        make_error("method_not_allowed", request.method + " is not allowed here; use " + allow));
    response.headers.emplace_back("Allow", allow);
    return response;
}

JsonPtr outbox_json(const PushStats& stats) {
    JsonPtr outbox = make_object();
    set_number(outbox.get(), "pending", static_cast<double>(stats.pending));
    set_number(outbox.get(), "limit", static_cast<double>(stats.limit));
    set_bool(outbox.get(), "full", stats.full);
    set_number(outbox.get(), "sent", static_cast<double>(stats.sent));
    set_number(outbox.get(), "retries", static_cast<double>(stats.retries));
    set_number(outbox.get(), "refused", static_cast<double>(stats.refused));
    set_number(outbox.get(), "dropped", static_cast<double>(stats.dropped));
    set_number(outbox.get(), "failed", static_cast<double>(stats.failed));
    return outbox;
}

JsonPtr jobs_json(const JobQueue& queue) {
    JsonPtr jobs = make_object();
    set_number(jobs.get(), "queued", static_cast<double>(queue.depth()));
    set_number(jobs.get(), "running", static_cast<double>(queue.running()));
    return jobs;
}

}  // namespace

HttpResponse HttpRouter::route(HttpRequest& request) {
    constexpr std::string_view kJobs = "/jobs/";
    if (request.path == "/cad") {
        if (request.method != "POST") return method_not_allowed(request, "POST");
        return uploads_.handle(request);
    }
    if (request.path == "/jobs") {
        if (request.method != "GET") return method_not_allowed(request, "GET");
        drain_body(*request.body, 1 << 20);
        return list_jobs(store_, request.query);
    }
    if (request.path.compare(0, kJobs.size(), kJobs) == 0) {
        std::string id = request.path.substr(kJobs.size());
        constexpr std::string_view kPreview = "/preview.svg";
        bool preview = id.size() > kPreview.size() && id.ends_with(kPreview);
        constexpr std::string_view kRetry = "/retry";
        if (retries_ && id.size() > kRetry.size() && id.ends_with(kRetry)) {
            if (request.method != "POST") return method_not_allowed(request, "POST");
            drain_body(*request.body, 1 << 20);
            std::string job_id = id.substr(0, id.size() - kRetry.size());
            if (!is_valid_job_id(job_id)) {
                return error_response(404, make_error("not_found", "no job " + job_id));
            }
            return retries_->retry(job_id);
        }
        if (request.method == "DELETE" && !preview) {
            drain_body(*request.body, 1 << 20);
            if (!is_valid_job_id(id)) {
                return error_response(404, make_error("not_found", "no job " + id));
            }
            return cancels_.cancel(id);
        }
        if (request.method != "GET")
            return method_not_allowed(request, preview ? "GET" : "GET, DELETE");
        if (preview) {
            return preview_response(store_, id.substr(0, id.size() - kPreview.size()));
        }
        return get_job(id);
    }
    constexpr std::string_view kPush = "/push/";
    if (request.path.compare(0, kPush.size(), kPush) == 0) {
        if (request.method != "POST") return method_not_allowed(request, "POST");
        return http_pushes_.handle(request, request.path.substr(kPush.size()));
    }
    if (request.path == "/healthz") {
        if (request.method != "GET") return method_not_allowed(request, "GET");
        return health();
    }
    if (request.path == "/metrics/app") {
        if (request.method != "GET") return method_not_allowed(request, "GET");
        return metrics();
    }
    drain_body(*request.body, 1 << 20);
    return error_response(404, make_error("not_found", "nothing at " + request.path));
}

HttpResponse HttpRouter::get_job(const std::string& id) {
    auto job = store_.load(id);
    if (!job && job.error().code == "not_found" && store_.shared() && is_valid_job_id(id)) {
        job = shared_job(id);
    }
    if (!job) {
        int status = job.error().code == "not_found"               ? 404
                     : job.error().code == "job_store_unavailable" ? 503
                                                                   : 500;
        return error_response(status, job.error());
    }
    return json_response(200, job_to_json(*job).get());
}

// Several app nodes: a job another node holds, as it last stored it in Redis.
Result<Job> HttpRouter::shared_job(const std::string& id) { return store_.shared()->get_job(id); }

HttpResponse HttpRouter::metrics() {
    HttpResponse response;
    response.headers.emplace_back("Content-Type", std::string(kPrometheusContentType));
    response.body =
        render_app_metrics(pushes_.stats(), JobGauges{queue_.depth(), queue_.running()}, figures_);
    return response;
}

HttpResponse HttpRouter::health() {
    JsonPtr body = make_object();
    auto spool = store_.check_writable();
    auto sidecar = connect_unix(config_.control_socket);
    PushStats pushes = pushes_.stats();
    set_string(body.get(), "spool", spool ? "ok" : spool.error().message);
    set_string(body.get(), "sidecar", sidecar ? "ok" : sidecar.error().message);
    set_json(body.get(), "outbox", outbox_json(pushes));
    set_json(body.get(), "jobs", jobs_json(queue_));
    bool healthy = spool.ok() && sidecar.ok() && !pushes.full;
    set_bool(body.get(), "ok", healthy);
    return json_response(healthy ? 200 : 503, body.get());
}

}  // namespace rp::app
