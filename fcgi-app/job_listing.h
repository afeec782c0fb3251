#pragma once
// GET /jobs?room=R&status=S&limit=N (docs/http.md): the operator's list of stored jobs, newest
// first, for the machine itself only (the shipped site's /push rule); with several app nodes,
// every node's jobs, from Redis.

#include <string>

#include "http_types.h"
#include "job_store.h"

namespace rp::app {

HttpResponse list_jobs(const JobStore& store, const std::string& query);

}  // namespace rp::app
