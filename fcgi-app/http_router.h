#pragma once
// Which handler answers which request: POST /cad, GET /jobs/ID, GET /healthz.

#include "app_config.h"
#include "http_types.h"
#include "job_store.h"
#include "upload_handler.h"

namespace rp::app {

class HttpRouter {
public:
    HttpRouter(const AppConfig& config, JobStore& store, UploadHandler& uploads)
        : config_(config), store_(store), uploads_(uploads) {}

    HttpResponse route(HttpRequest& request);

private:
    HttpResponse get_job(const std::string& id);
    HttpResponse health();

    const AppConfig& config_;
    JobStore& store_;
    UploadHandler& uploads_;
};

}  // namespace rp::app
