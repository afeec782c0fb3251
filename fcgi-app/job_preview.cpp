#include "job_preview.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "job.h"

namespace rp::app {
namespace {

HttpResponse no_preview() {
    return error_response(404, make_error("not_found",
                                          "no preview for this job (unknown job, not "
                                          "finished yet, or the program wrote none)"));
}

}  // namespace

HttpResponse preview_response(const JobStore& store, const std::string& job_id) {
    if (!is_valid_job_id(job_id)) return no_preview();
    std::ifstream file(store.work_dir(job_id) + "/preview.svg", std::ios::binary);
    if (!file) return no_preview();
    HttpResponse response;
    response.body.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    if (file.bad()) {
        return error_response(500, make_error("internal", "the preview could not be read"));
    }
    if (response.body.size() > kMaxPreviewBytes) {
        return error_response(
            500, make_error("preview_too_large", "the program wrote a preview larger than 8 MiB"));
    }
    response.headers = {
        {"Content-Type", "image/svg+xml"},
        {"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"},
        {"X-Content-Type-Options", "nosniff"},
        {"Cache-Control", "no-cache"},
    };
    return response;
}

}  // namespace rp::app
