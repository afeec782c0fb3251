#pragma once
// POST /jobs/ID/retry (docs/http.md): an operator runs a failed or cancelled job again, as its
// next attempt, from the input the spool still holds.

#include <mutex>
#include <string>

#include "http_types.h"
#include "job_dispatch.h"
#include "job_elsewhere.h"
#include "job_store.h"

namespace rp::app {

class JobRetrier {
public:
    JobRetrier(JobStore& store, JobDispatch& dispatch) : store_(store), dispatch_(dispatch) {}

    // Several app nodes: a job this node does not hold is retried by the node that does.
    void reach_other_nodes(JobsElsewhere* elsewhere) { elsewhere_ = elsewhere; }

    HttpResponse retry(const std::string& job_id);

private:
    JobStore& store_;
    JobDispatch& dispatch_;
    std::mutex mutex_;  // two retries of one job at once must not both queue it
    JobsElsewhere* elsewhere_ = nullptr;
};

}  // namespace rp::app
