#include "job_sweeper.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace rp::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int64_t kHour = 3600 * 1000;

class JobSweeperTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-sweeper-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        spool_ = pattern;
        store_ = std::make_unique<JobStore>(spool_);
        ASSERT_TRUE(store_->prepare().ok());
    }
    void TearDown() override { fs::remove_all(spool_); }

    std::string job(JobStatus status, int64_t finished_ms, bool announced = true) {
        Job job;
        job.id = new_job_id();
        job.room = "R";
        job.status = status;
        job.created_ms = finished_ms - 10;
        job.finished_ms = is_finished(status) ? finished_ms : 0;
        job.announced = announced;
        std::string incoming = store_->incoming_path(job.id);
        std::ofstream(incoming) << "upload";
        EXPECT_TRUE(store_->create(job, incoming).ok());
        return job.id;
    }

    bool exists(const std::string& id) const { return fs::exists(store_->job_dir(id)); }

    std::string spool_;
    std::unique_ptr<JobStore> store_;
};

TEST_F(JobSweeperTest, OnlyFinishedAnnouncedJobsPastTheirKeepAreRemoved) {
    const int64_t now = 100 * kHour;
    JobSweeper sweeper(*store_, std::chrono::hours(1));
    std::string old_done = job(JobStatus::done, now - 2 * kHour);
    std::string old_failed = job(JobStatus::failed, now - kHour - 1);
    std::string at_keep = job(JobStatus::done, now - kHour);
    std::string just_kept = job(JobStatus::done, now - kHour + 1);
    std::string recent_done = job(JobStatus::done, now - kHour + 1000);
    std::string unannounced = job(JobStatus::done, now - 2 * kHour, false);
    std::string queued = job(JobStatus::queued, now - 2 * kHour);
    std::string running = job(JobStatus::running, now - 2 * kHour);
    std::string half = new_job_id();
    fs::create_directories(store_->job_dir(half));  // no job.json: recovery's business

    EXPECT_EQ(sweeper.sweep(now), 3u);
    for (const std::string& id : {old_done, old_failed, at_keep}) EXPECT_FALSE(exists(id)) << id;
    for (const std::string& id : {just_kept, recent_done, unannounced, queued, running, half}) {
        EXPECT_TRUE(exists(id)) << id;
    }
    EXPECT_EQ(sweeper.sweep(now), 0u) << "nothing more to do";
    EXPECT_EQ(sweeper.sweep(now + 1), 1u) << "just_kept has expired now";
    EXPECT_FALSE(exists(just_kept));
    EXPECT_EQ(sweeper.sweep(now + 1000), 1u) << "recent_done too";
    for (const std::string& id : {unannounced, queued, running, half})
        EXPECT_TRUE(exists(id)) << id;
}

TEST_F(JobSweeperTest, TheThreadSweepsOnItsOwn) {
    std::string expired = job(JobStatus::done, now_ms() - kHour);
    std::string running = job(JobStatus::running, now_ms() - kHour);
    JobSweeper sweeper(*store_, std::chrono::seconds(1));  // a pass every 250 ms
    sweeper.start();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (exists(expired) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    sweeper.stop();
    EXPECT_FALSE(exists(expired));
    EXPECT_TRUE(exists(running));
}

TEST_F(JobSweeperTest, KeepZeroKeepsForever) {
    std::string old_done = job(JobStatus::done, now_ms() - 1000 * kHour);
    JobSweeper sweeper(*store_, std::chrono::seconds(0));
    sweeper.start();                     // no thread: a pass would remove every finished job
    std::this_thread::sleep_for(700ms);  // more than the shortest interval (250 ms), twice
    sweeper.stop();
    EXPECT_TRUE(exists(old_done));
}

TEST_F(JobSweeperTest, StopIsPromptAndRepeatable) {
    JobSweeper sweeper(*store_, std::chrono::hours(24));  // a sweep every 60 s
    sweeper.start();
    auto started = std::chrono::steady_clock::now();
    sweeper.stop();
    sweeper.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "stop does not wait for a pass";
}

}  // namespace
}  // namespace rp::app
