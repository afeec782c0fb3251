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

TEST(AppMetrics, FullIsOne) {
    PushStats pushes;
    pushes.full = true;
    EXPECT_NE(render_app_metrics(pushes, {}).find("\nroompush_app_outbox_full 1\n"),
              std::string::npos);
}

}  // namespace rp::app
