#include "job_recovery.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "outbox.h"
#include "roompush/control_codec.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Event names and idempotency keys the recovery journaled, oldest first.
std::vector<std::string> journaled(const std::string& outbox_dir) {
    Outbox outbox(outbox_dir);
    EXPECT_TRUE(outbox.open().ok());
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < outbox.size(); ++i) {
        auto request = decode_request(outbox.line_at(i));
        EXPECT_TRUE(request.ok());
        keys.push_back(request->event + " " + request->id);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
}

class JobRecoveryTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-recovery-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        base_ = pattern;
        store_ = std::make_unique<JobStore>(base_ + "/spool");
        ASSERT_TRUE(store_->prepare().ok());
        pushes_ = std::make_unique<PushSender>(base_ + "/no.sock", store_->outbox_dir(), 1000);
        ASSERT_TRUE(pushes_->open().ok());
    }
    void TearDown() override {
        pushes_.reset();
        fs::remove_all(base_);
    }

    // A job as an earlier run of the app left it in the spool.
    Job left_behind(JobStatus status, int64_t created, bool announced = false) {
        Job job;
        job.id = new_job_id();
        job.room = "R";
        job.item = "i";
        job.status = status;
        job.created_ms = created;
        job.announced = announced;
        if (status != JobStatus::queued) job.started_ms = created + 1;
        if (is_finished(status)) job.finished_ms = created + 2;
        if (status == JobStatus::running) job.progress = 40;
        std::string incoming = store_->incoming_path(job.id);
        std::ofstream(incoming) << "upload";
        EXPECT_TRUE(store_->create(job, incoming).ok());
        return job;
    }

    Job stored(const Job& job) {
        auto loaded = store_->load(job.id);
        EXPECT_TRUE(loaded.ok()) << job.id;
        return std::move(*loaded);
    }

    // Recovers, then lets one worker take what was queued, recording the order.
    RecoveryReport recover() {
        JobRunner runner(config_, *store_, *pushes_, waiters_, stop_);
        JobQueue queue(1, 1, [&](const std::string& id) {
            std::lock_guard lock(mutex_);
            ran_.push_back(id);
            ran_changed_.notify_all();
        });
        RecoveryReport report = recover_jobs(config_, *store_, runner, queue);
        std::size_t expected = report.requeued + report.rerun;
        EXPECT_EQ(queue.depth(), expected);
        queue.start();
        {
            std::unique_lock lock(mutex_);
            EXPECT_TRUE(ran_changed_.wait_for(lock, 10s, [&] { return ran_.size() >= expected; }));
        }
        queue.stop();
        return report;
    }

    std::string base_;
    AppConfig config_;
    std::unique_ptr<JobStore> store_;
    std::unique_ptr<PushSender> pushes_;
    JobWaiters waiters_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable ran_changed_;
    std::vector<std::string> ran_;
};

TEST_F(JobRecoveryTest, QueuedJobsRunAgainOldestFirstPastTheBound) {
    Job second = left_behind(JobStatus::queued, 2000);
    Job third = left_behind(JobStatus::queued, 3000);
    Job first = left_behind(JobStatus::queued, 1000);
    RecoveryReport report = recover();  // a queue of 1 takes all 3
    EXPECT_EQ(report.requeued, 3u);
    EXPECT_EQ(report.interrupted + report.rerun + report.announced + report.removed, 0u);
    EXPECT_EQ(ran_, (std::vector<std::string>{first.id, second.id, third.id}));
    EXPECT_EQ(stored(first).status, JobStatus::queued) << "untouched until a worker runs it";
    EXPECT_TRUE(journaled(store_->outbox_dir()).empty()) << "job.queued went out the first time";
}

TEST_F(JobRecoveryTest, ARunningJobIsReportedInterrupted) {
    Job job = left_behind(JobStatus::running, 1000);
    RecoveryReport report = recover();
    EXPECT_EQ(report.interrupted, 1u);
    EXPECT_EQ(report.requeued + report.rerun, 0u);
    EXPECT_TRUE(ran_.empty());
    Job after = stored(job);
    EXPECT_EQ(after.status, JobStatus::failed);
    ASSERT_TRUE(after.failure.has_value());
    EXPECT_EQ(after.failure->reason, "interrupted");
    EXPECT_GT(after.finished_ms, 0);
    EXPECT_TRUE(after.announced);
    EXPECT_EQ(journaled(store_->outbox_dir()),
              (std::vector<std::string>{"job.failed " + job.id + ":failed"}));
}

TEST_F(JobRecoveryTest, WithRerunARunningJobRunsAgainAsANewAttemptInAnEmptyWorkDir) {
    config_.rerun_interrupted = true;
    Job queued = left_behind(JobStatus::queued, 2000);
    Job job = left_behind(JobStatus::running, 1000);
    std::ofstream(store_->work_dir(job.id) + "/partial.out") << "from the first run";
    RecoveryReport report = recover();
    EXPECT_EQ(report.rerun, 1u);
    EXPECT_EQ(report.requeued, 1u) << "re-runs are not counted twice";
    EXPECT_EQ(report.interrupted, 0u);
    EXPECT_EQ(ran_, (std::vector<std::string>{job.id, queued.id})) << "oldest first, re-runs too";
    Job after = stored(job);
    EXPECT_EQ(after.status, JobStatus::queued);
    EXPECT_EQ(after.attempt, 2);
    EXPECT_EQ(after.started_ms, 0);
    EXPECT_EQ(after.progress, 0);
    EXPECT_TRUE(fs::is_directory(store_->work_dir(job.id)));
    EXPECT_TRUE(fs::is_empty(store_->work_dir(job.id)));
    EXPECT_TRUE(journaled(store_->outbox_dir()).empty());
}

TEST_F(JobRecoveryTest, AFinishedJobWhoseEventWasNeverJournaledIsAnnounced) {
    Job done = left_behind(JobStatus::done, 1000, false);
    Job failed = left_behind(JobStatus::failed, 1000, false);
    Job cancelled = left_behind(JobStatus::cancelled, 1000, false);
    Job known = left_behind(JobStatus::done, 1000, true);
    RecoveryReport report = recover();
    EXPECT_EQ(report.announced, 3u);
    EXPECT_TRUE(stored(done).announced);
    EXPECT_TRUE(stored(failed).announced);
    EXPECT_TRUE(stored(cancelled).announced);
    EXPECT_EQ(stored(done).status, JobStatus::done);
    EXPECT_EQ(stored(cancelled).status, JobStatus::cancelled);
    std::vector<std::string> expected = {"job.done " + done.id + ":done",
                                         "job.failed " + failed.id + ":failed",
                                         "job.cancelled " + cancelled.id + ":cancelled"};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(journaled(store_->outbox_dir()), expected) << "nothing for the announced job";
}

TEST_F(JobRecoveryTest, HalfCreatedJobsAndHalfReceivedUploadsAreRemoved) {
    Job kept = left_behind(JobStatus::done, 1000, true);
    std::string half = store_->job_dir(new_job_id());
    fs::create_directories(half + "/work");  // died before job.json
    std::string garbled = store_->job_dir(new_job_id());
    fs::create_directories(garbled);
    std::ofstream(garbled + "/job.json") << "{\"jobId\":";
    std::ofstream(store_->incoming_path(new_job_id())) << "half an upload";
    std::ofstream(store_->incoming_path(new_job_id())) << "another";
    RecoveryReport report = recover();
    EXPECT_EQ(report.removed, 2u);
    EXPECT_EQ(report.incoming_removed, 2u);
    EXPECT_FALSE(fs::exists(half));
    EXPECT_FALSE(fs::exists(garbled));
    EXPECT_TRUE(fs::is_empty(base_ + "/spool/incoming"));
    EXPECT_EQ(store_->list_ids(), (std::vector<std::string>{kept.id}));
}

TEST_F(JobRecoveryTest, AnEmptySpoolRecoversNothing) {
    RecoveryReport report = recover();
    EXPECT_EQ(report.requeued + report.interrupted + report.rerun + report.announced +
                  report.removed + report.incoming_removed,
              0u);
}

}  // namespace
}  // namespace rp::app
