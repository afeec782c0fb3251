#include "app_metrics.h"

#include "disk_io.h"
#include "roompush/prometheus.h"

namespace rp::app {

std::string render_app_metrics(const PushStats& pushes, const JobGauges& jobs,
                               const JobFigures* figures) {
    using enum MetricType;
    std::string out;
    out.reserve(2048);
    append_metric(out, "roompush_app_outbox_pending", gauge,
                  "Pushes journaled in the outbox, not yet taken by the sidecar.", pushes.pending);
    append_metric(out, "roompush_app_outbox_limit", gauge, "The outbox's --outbox-limit.",
                  pushes.limit);
    append_metric(out, "roompush_app_outbox_full", gauge,
                  "1 while the outbox is full: uploads and HTTP pushes are refused.", pushes.full);
    append_metric(out, "roompush_app_pushes_sent_total", counter, "Pushes the sidecar acked.",
                  pushes.sent);
    append_metric(out, "roompush_app_push_retries_total", counter,
                  "Sends that found the sidecar away.", pushes.retries);
    append_metric(out, "roompush_app_pushes_refused_total", counter,
                  "Pushes the sidecar refused as bad requests (dropped, logged).", pushes.refused);
    append_metric(out, "roompush_app_pushes_dropped_total", counter,
                  "Progress pushes dropped while the outbox was full.", pushes.dropped);
    append_metric(out, "roompush_app_pushes_failed_total", counter,
                  "Pushes that could not be written to the outbox.", pushes.failed);
    append_metric(out, "roompush_app_jobs_queued", gauge, "Jobs waiting for a worker.",
                  jobs.queued);
    append_metric(out, "roompush_app_jobs_running", gauge, "Jobs whose program runs now.",
                  jobs.running);
    append_metric(out, "roompush_app_fsyncs_total", counter,
                  "fsync, fdatasync and syncfs calls on the app's files (uploads, the journal).",
                  file_syncs());
    if (figures) figures->render(out);
    return out;
}

}  // namespace rp::app
