#pragma once
// GET /jobs/ID/preview.svg: the picture the program wrote into the job's work dir. The app
// serves it, not nginx from the spool, so that nginx's user needs no access to the spool (the
// uploads and results of every job).

#include <cstddef>
#include <string>

#include "http_types.h"
#include "job_store.h"

namespace rp::app {

inline constexpr std::size_t kMaxPreviewBytes = 8 << 20;

// 200 with the SVG and headers that treat it as hostile (no script, no outside references,
// never sniffed); 404 JSON when the job or its preview does not exist.
HttpResponse preview_response(const JobStore& store, const std::string& job_id);

}  // namespace rp::app
