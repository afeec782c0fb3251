#pragma once
// The app's figures as Prometheus text (GET /metrics/app): the outbox and the job queue, the
// same numbers /healthz shows as JSON.

#include <cstddef>
#include <string>

#include "job_figures.h"
#include "push_sender.h"

namespace rp::app {

struct JobGauges {
    std::size_t queued = 0;
    std::size_t running = 0;
};

std::string render_app_metrics(const PushStats& pushes, const JobGauges& jobs,
                               const JobFigures* figures = nullptr);

}  // namespace rp::app
