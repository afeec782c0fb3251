#pragma once
// Which handler answers which request: POST /cad, GET /jobs/ID, GET /jobs/ID/preview.svg,
// POST /push/ROOM, GET /healthz, GET /metrics/app.

#include "app_config.h"
#include "http_types.h"
#include "job_cancel.h"
#include "job_queue.h"
#include "job_retry.h"
#include "job_store.h"
#include "push_handler.h"
#include "push_sender.h"
#include "upload_handler.h"

namespace rp::app {

class HttpRouter {
public:
    HttpRouter(const AppConfig& config, JobStore& store, UploadHandler& uploads,
               PushHandler& http_pushes, const PushSender& pushes, const JobQueue& queue,
               JobCanceller& cancels, JobRetrier* retries = nullptr,
               const JobFigures* figures = nullptr)
        : config_(config),
          store_(store),
          uploads_(uploads),
          http_pushes_(http_pushes),
          pushes_(pushes),
          queue_(queue),
          cancels_(cancels),
          retries_(retries),
          figures_(figures) {}

    HttpResponse route(HttpRequest& request);

private:
    HttpResponse get_job(const std::string& id);
    Result<Job> shared_job(const std::string& id);
    HttpResponse health();
    HttpResponse metrics();

    const AppConfig& config_;
    JobStore& store_;
    UploadHandler& uploads_;
    PushHandler& http_pushes_;
    const PushSender& pushes_;
    const JobQueue& queue_;
    JobCanceller& cancels_;
    JobRetrier* retries_;
    const JobFigures* figures_;
};

}  // namespace rp::app
