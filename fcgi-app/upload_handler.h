#pragma once
// POST /cad: stream the upload into the spool, create the job, queue it, answer 202.

#include "app_config.h"
#include "http_types.h"
#include "job_queue.h"
#include "job_store.h"
#include "push_sender.h"

namespace rp::app {

class UploadHandler {
public:
    UploadHandler(const AppConfig& config, JobStore& store, JobQueue& queue, PushSender& pushes)
        : config_(config), store_(store), queue_(queue), pushes_(pushes) {}

    HttpResponse handle(HttpRequest& request);

private:
    HttpResponse refuse(HttpRequest& request, const Error& error, const std::string& spool_path);
    Status receive(HttpRequest& request, const std::string& boundary, class UploadReceiver& receiver);
    HttpResponse accepted(const Job& job);

    const AppConfig& config_;
    JobStore& store_;
    JobQueue& queue_;
    PushSender& pushes_;
};

// The HTTP status for an error code of the upload path.
int upload_error_status(const std::string& code);

}  // namespace rp::app
