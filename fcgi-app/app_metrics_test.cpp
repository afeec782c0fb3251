#include "app_metrics.h"

#include <gtest/gtest.h>

namespace rp::app {

TEST(AppMetrics, EachFigureIsOneSampleWithHelpAndType) {
    PushStats pushes;
    pushes.pending = 7;
    pushes.limit = 10;
    pushes.full = false;
    pushes.sent = 42;
    pushes.dropped = 3;
    std::string text = render_app_metrics(pushes, JobGauges{2, 1});
    EXPECT_NE(
        text.find("# TYPE roompush_app_outbox_pending gauge\nroompush_app_outbox_pending 7\n"),
        std::string::npos);
    EXPECT_NE(
        text.find(
            "# TYPE roompush_app_pushes_sent_total counter\nroompush_app_pushes_sent_total 42\n"),
        std::string::npos);
    EXPECT_NE(text.find("\nroompush_app_outbox_full 0\n"), std::string::npos);
    EXPECT_NE(text.find("\nroompush_app_pushes_dropped_total 3\n"), std::string::npos);
    EXPECT_NE(text.find("\nroompush_app_jobs_queued 2\n"), std::string::npos);
    EXPECT_NE(text.find("\nroompush_app_jobs_running 1\n"), std::string::npos);
    EXPECT_EQ(text.back(), '\n');
}

TEST(AppMetrics, JobFiguresAreCountersAndACumulativeRunTimeHistogram) {
    JobFigures figures;
    figures.ended("done");
    figures.ended("done");
    figures.ended("failed");
    figures.ended("cancelled");
    figures.retried();
    figures.ran(50);       // 0.05 s: le 0.1
    figures.ran(100);      // 0.1 s: le 0.1 (bounds are inclusive)
    figures.ran(4000);     // le 5
    figures.ran(7200000);  // two hours: +Inf only
    std::string text = render_app_metrics({}, {}, &figures);
    for (const char* line :
         {"\nroompush_app_jobs_done_total 2\n", "\nroompush_app_jobs_failed_total 1\n",
          "\nroompush_app_jobs_cancelled_total 1\n", "\nroompush_app_jobs_retried_total 1\n",
          "# TYPE roompush_app_job_run_seconds histogram\n",
          "\nroompush_app_job_run_seconds_bucket{le=\"0.1\"} 2\n",
          "\nroompush_app_job_run_seconds_bucket{le=\"2\"} 2\n",
          "\nroompush_app_job_run_seconds_bucket{le=\"5\"} 3\n",
          "\nroompush_app_job_run_seconds_bucket{le=\"1800\"} 3\n",
          "\nroompush_app_job_run_seconds_bucket{le=\"+Inf\"} 4\n",
          "\nroompush_app_job_run_seconds_sum 7204.15\n",
          "\nroompush_app_job_run_seconds_count 4\n"}) {
        EXPECT_NE(text.find(line), std::string::npos) << line << text;
    }
}

TEST(AppMetrics, FullIsOne) {
    PushStats pushes;
    pushes.full = true;
    EXPECT_NE(render_app_metrics(pushes, {}).find("\nroompush_app_outbox_full 1\n"),
              std::string::npos);
}

}  // namespace rp::app
