#include "upload_handler.h"

#include <unistd.h>

#include <map>

#include "roompush/log.h"
#include "roompush/room_token.h"
#include "upload_receiver.h"
#include "wait_option.h"

namespace rp::app {

int upload_error_status(const std::string& code) {
    static const std::map<std::string, int> statuses = {
        {"not_multipart", 415},   {"upload_too_large", 413}, {"field_too_large", 413},
        {"length_required", 411}, {"queue_full", 503},       {"spool_error", 500},
        {"io_error", 400},        {"outbox_full", 503},      {"room_busy", 429},
    };
    auto found = statuses.find(code);
    return found == statuses.end() ? 400 : found->second;
}

// ?priority=0..9 (default 0): higher runs first.
Result<int> requested_priority(const std::string& query) {
    std::string text = query_param(query, "priority");
    if (text.empty()) return 0;
    if (text.size() != 1 || text[0] < '0' || text[0] > '9') {
        return make_error("invalid_priority", "priority must be a digit, 0 to 9");
    }
    return text[0] - '0';
}

HttpResponse UploadHandler::refuse(HttpRequest& request, const Error& error,
                                   const std::string& spool_path) {
    if (!spool_path.empty()) ::unlink(spool_path.c_str());  // nothing stays for a refused upload
    drain_body(*request.body, config_.max_upload + (1 << 20));
    int status = upload_error_status(error.code);
    log_info("upload_refused")
        .kv("status", status)
        .kv("code", error.code)
        .kv("peer", request.remote_addr);
    HttpResponse response = error_response(status, error);
    if (status == 503 || status == 429)
        response.headers.emplace_back("Retry-After", std::to_string(config_.retry_after_s));
    return response;
}

Status UploadHandler::receive(HttpRequest& request, const std::string& boundary,
                              UploadReceiver& receiver) {
    MultipartParser parser(boundary, {8192, config_.max_parts}, receiver);
    char buffer[65536];
    std::size_t total = 0;
    for (;;) {
        ssize_t got = request.body->read(buffer, sizeof buffer);
        if (got < 0) return make_error("io_error", "the upload was cut off");
        if (got == 0) break;
        total += static_cast<std::size_t>(got);
        if (total > config_.max_upload) {
            return make_error(
                "upload_too_large",
                "the request is larger than " + std::to_string(config_.max_upload) + " bytes");
        }
        if (auto fed = parser.feed(std::string_view(buffer, static_cast<std::size_t>(got))); !fed)
            return fed;
    }
    if (auto finished = parser.finish(); !finished) return finished;
    return receiver.check_complete();
}

// What can be refused before a byte of the body is read.
Status UploadHandler::check_admission(const HttpRequest& request) const {
    if (!request.content_length) return make_error("length_required", "send a Content-Length");
    if (*request.content_length > config_.max_upload) {
        return make_error("upload_too_large", "the request is larger than " +
                                                  std::to_string(config_.max_upload) + " bytes");
    }
    // A job whose events cannot be journaled would run unseen: refuse it while the sidecar is
    // so far behind that the outbox is full.
    if (pushes_.full()) {
        return make_error("outbox_full", "results cannot be delivered right now; try again later");
    }
    return ok_status();
}

HttpResponse UploadHandler::handle(HttpRequest& request) {
    if (auto admitted = check_admission(request); !admitted)
        return refuse(request, admitted.error(), "");
    auto wait =
        requested_wait(request.query, request.prefer, std::chrono::seconds(config_.max_wait_s));
    if (!wait) return refuse(request, wait.error(), "");
    auto boundary = multipart_boundary(request.content_type);
    if (!boundary) return refuse(request, boundary.error(), "");
    auto priority = requested_priority(request.query);
    if (!priority) return refuse(request, priority.error(), "");

    Job job;
    job.id = new_job_id();
    std::string incoming = store_.incoming_path(job.id);
    UploadReceiver receiver(incoming, {config_.max_upload, config_.max_field});
    if (auto received = receive(request, *boundary, receiver); !received) {
        return refuse(request, received.error(), incoming);
    }
    job.room = receiver.room();
    job.item = receiver.item();
    job.filename = receiver.filename();
    job.size = receiver.file_size();
    job.created_ms = now_ms();
    job.priority = *priority;
    if (auto created = store_.create(job, incoming); !created) {
        store_.remove(job.id);
        return refuse(request, created.error(), incoming);
    }
    if (*wait) waiters_.watch(job.id);
    JobQueue::Admission admission = dispatch_.admit(job);
    if (admission != JobQueue::Admission::accepted) {
        waiters_.forget(job.id);
        store_.remove(job.id);
        return refuse(
            request,
            admission == JobQueue::Admission::room_full
                ? make_error("room_busy", "room " + job.room + " has " +
                                              std::to_string(config_.room_limits.max_room_jobs) +
                                              " jobs queued or running already; try "
                                              "again later")
                : make_error("queue_full", "too many jobs are waiting; try again later"),
            "");
    }
    log_info("job_queued").kv("job", job.id).kv("room", job.room).kv("bytes", job.size);
    if (*wait && wait_for_end(job.id, **wait)) return finished(job.id);
    return accepted(job);
}

// With a shared spool another node may run the job: its end is seen in the job's record (the
// spool is shared), looked at between waits.
bool UploadHandler::wait_for_end(const std::string& job_id, std::chrono::milliseconds wait) {
    if (!config_.shared_spool) return waiters_.wait(job_id, wait);
    constexpr auto kLookEvery = std::chrono::milliseconds(100);
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (bool watching = true;; watching = false) {
        if (!watching) waiters_.watch(job_id);  // each wait() ends its watch
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (waiters_.wait(job_id, std::min(left, kLookEvery))) return true;
        if (waiters_.released()) return false;
        auto job = store_.load(job_id);
        if (job && is_finished(job->status) && job->announced) return true;
        if (left <= kLookEvery) return false;
    }
}

HttpResponse UploadHandler::accepted(const Job& job) {
    JsonPtr body = make_object();
    set_string(body.get(), "jobId", job.id);
    set_string(body.get(), "roomId", job.room);
    set_string(body.get(), "itemId", job.item);
    set_string(body.get(), "status", "queued");
    set_string(body.get(), "ws", "/ws/rooms/" + job.room);
    // The uploader may watch its own room: the token is what the sidecar will ask for.
    if (auto token = tokens_.mint(job.room, now_ms() / 1000))
        set_string(body.get(), "token", *token);
    HttpResponse response = json_response(202, body.get());
    response.headers.emplace_back("Location", "/jobs/" + job.id);
    return response;
}

// 201 with the job as GET /jobs/ID shows it, done or failed.
HttpResponse UploadHandler::finished(const std::string& job_id) {
    auto job = store_.load(job_id);
    if (!job) return error_response(500, job.error());
    JsonPtr body = job_to_json(*job);
    set_string(body.get(), "ws", "/ws/rooms/" + job->room);
    HttpResponse response = json_response(201, body.get());
    response.headers.emplace_back("Location", "/jobs/" + job_id);
    return response;
}

}  // namespace rp::app
