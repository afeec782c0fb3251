#include "job_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "outbox.h"
#include "roompush/control_codec.h"

namespace rp::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Event {
    std::string room;
    std::string event;
    std::string id;
    JsonPtr data;
};

std::vector<Event> events_of(const std::vector<std::string>& lines) {
    std::vector<Event> events;
    for (const std::string& line : lines) {
        auto request = decode_request(line);
        EXPECT_TRUE(request.ok()) << line;
        auto data = parse_json(request->data);
        EXPECT_TRUE(data.ok()) << request->data;
        events.push_back({request->room, request->event, request->id, std::move(*data)});
    }
    return events;
}

// What the runner journaled on disk, oldest first (the sender is never started: nothing leaves).
std::vector<Event> journaled(const std::string& outbox_dir) {
    Outbox outbox(outbox_dir);
    EXPECT_TRUE(outbox.open().ok());
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < outbox.size(); ++i) lines.push_back(outbox.line_at(i));
    return events_of(lines);
}

std::vector<std::string> keys_of(const std::vector<Event>& events) {
    std::vector<std::string> keys;
    for (const Event& event : events) keys.push_back(event.event + " " + event.id);
    return keys;
}

const cJSON* member(const cJSON* object, const char* key) {
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

class JobRunnerTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "rp-runner-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        base_ = pattern;
        store_ = std::make_unique<JobStore>(base_ + "/spool");
        ASSERT_TRUE(store_->prepare().ok());
        // Nobody listens on the socket and the sender is not started: pushes stay journaled.
        pushes_ = std::make_unique<PushSender>(base_ + "/no.sock", store_->outbox_dir(), 1000);
        ASSERT_TRUE(pushes_->open().ok());
        config_.limits.timeout_ms = 30000;
        config_.limits.kill_grace_ms = 500;
    }
    void TearDown() override {
        pushes_.reset();
        fs::remove_all(base_);
    }

    // The program: a shell script in the test's directory, given the upload as $1.
    void program(const std::string& script) {
        std::string path = base_ + "/program.sh";
        std::ofstream(path) << script << "\n";
        auto exec = ArgvTemplate::parse("/bin/sh " + path + " {input}");
        ASSERT_TRUE(exec.ok());
        config_.exec = *exec;
    }

    Job queued_job(int attempt = 1) {
        Job job;
        job.id = new_job_id();
        job.room = "R";
        job.item = "7";
        job.filename = "part.stl";
        job.size = 12;
        job.created_ms = now_ms();
        job.attempt = attempt;
        std::string incoming = store_->incoming_path(job.id);
        std::ofstream(incoming) << "hello upload";
        EXPECT_TRUE(store_->create(job, incoming).ok());
        return job;
    }

    Job run(const Job& job) {
        JobRunner runner(config_, *store_, *pushes_, waiters_, stop_);
        waiters_.watch(job.id);
        runner.run(job.id);
        auto stored = store_->load(job.id);
        EXPECT_TRUE(stored.ok());
        return std::move(*stored);
    }

    std::string base_;
    AppConfig config_;
    std::unique_ptr<JobStore> store_;
    std::unique_ptr<PushSender> pushes_;
    JobWaiters waiters_;
    std::atomic<bool> stop_{false};
};

TEST_F(JobRunnerTest, ADoneJobHasItsResultAndEveryEventInOrder) {
    program(R"sh(echo '{"progress":10,"stage":"reading"}'
echo 'a line that is not JSON'
echo '{"progress":60}'
echo "$ROOMPUSH_JOB" > seen-job
printf '{"bytes":%s}\n' "$(wc -c < "$1")")sh");
    Job job = queued_job();
    Job done = run(job);
    EXPECT_EQ(done.status, JobStatus::done);
    EXPECT_EQ(done.progress, 100);
    ASSERT_TRUE(done.result);
    EXPECT_EQ(to_json(done.result.get()), R"({"bytes":12})") << "the program read the upload";
    EXPECT_FALSE(done.failure.has_value());
    EXPECT_GT(done.started_ms, 0);
    EXPECT_GE(done.finished_ms, done.started_ms);
    EXPECT_TRUE(done.announced);
    EXPECT_TRUE(waiters_.wait(job.id, 1ms)) << "a ?wait request learns that it finished";

    std::ifstream seen(store_->work_dir(job.id) + "/seen-job");
    std::string seen_id;
    seen >> seen_id;
    EXPECT_EQ(seen_id, job.id) << "run in the job's work dir, with ROOMPUSH_JOB";

    auto events = events_of(pushes_->waiting());
    EXPECT_EQ(keys_of(events), (std::vector<std::string>{
                                   "job.started " + job.id + ":started",
                                   "job.progress " + job.id + ":progress:1",
                                   "job.progress " + job.id + ":progress:2",
                                   "job.done " + job.id + ":done",
                               }));
    // Progress is best effort: kept in memory, not synced to disk (docs/app.md).
    EXPECT_EQ(keys_of(journaled(store_->outbox_dir())),
              (std::vector<std::string>{"job.started " + job.id + ":started",
                                        "job.done " + job.id + ":done"}));
    ASSERT_EQ(events.size(), 4u);
    for (const Event& event : events) EXPECT_EQ(event.room, "R");
    EXPECT_STREQ(member(events[0].data.get(), "status")->valuestring, "running");
    EXPECT_EQ(member(events[1].data.get(), "progress")->valueint, 10);
    EXPECT_STREQ(member(events[1].data.get(), "stage")->valuestring, "reading");
    EXPECT_EQ(member(events[2].data.get(), "stage"), nullptr);
    EXPECT_STREQ(member(events[3].data.get(), "status")->valuestring, "done");
    EXPECT_STREQ(member(events[3].data.get(), "itemId")->valuestring, "7");
    EXPECT_EQ(member(member(events[3].data.get(), "result"), "bytes")->valueint, 12);
}

TEST_F(JobRunnerTest, ANonZeroExitFailsWithTheCodeAndTheLastLineOfStderr) {
    program(R"(echo '{"progress":5}'
echo 'first complaint' >&2
echo 'it broke' >&2
exit 3)");
    Job job = queued_job();
    Job failed = run(job);
    EXPECT_EQ(failed.status, JobStatus::failed);
    ASSERT_TRUE(failed.failure.has_value());
    EXPECT_EQ(failed.failure->reason, "exit");
    EXPECT_EQ(failed.failure->exit_code, 3);
    EXPECT_EQ(failed.failure->message, "it broke");
    EXPECT_EQ(failed.progress, 5) << "as far as it got";
    EXPECT_TRUE(failed.announced);

    auto events = events_of(pushes_->waiting());
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[2].event, "job.failed");
    EXPECT_EQ(events[2].id, job.id + ":failed");
    const cJSON* error = member(events[2].data.get(), "error");
    ASSERT_NE(error, nullptr);
    EXPECT_STREQ(member(error, "reason")->valuestring, "exit");
    EXPECT_EQ(member(error, "exitCode")->valueint, 3);
}

TEST_F(JobRunnerTest, TheProgramsOwnErrorMessageWinsAndItsDetailIsKept) {
    program(R"(echo '{"error":{"message":"bad facet at 3"},"line":3}'
echo 'noise' >&2
exit 2)");
    Job failed = run(queued_job());
    EXPECT_EQ(failed.status, JobStatus::failed);
    EXPECT_EQ(failed.failure->message, "bad facet at 3");
    ASSERT_TRUE(failed.result);
    EXPECT_EQ(member(failed.result.get(), "line")->valueint, 3);
}

TEST_F(JobRunnerTest, ExitZeroWithoutAResultIsAFailure) {
    program("echo '{\"progress\":50}'; echo done");
    Job failed = run(queued_job());
    EXPECT_EQ(failed.status, JobStatus::failed);
    EXPECT_EQ(failed.failure->reason, "no_result");
}

TEST_F(JobRunnerTest, ASignalIsNamed) {
    program("kill -KILL $$");
    Job failed = run(queued_job());
    EXPECT_EQ(failed.status, JobStatus::failed);
    EXPECT_EQ(failed.failure->reason, "signal");
    EXPECT_EQ(failed.failure->signal, SIGKILL);
    EXPECT_EQ(failed.failure->message, "the program was killed by signal 9");
}

TEST_F(JobRunnerTest, AProgramPastItsTimeLimitFailsWithTimeout) {
    config_.limits.timeout_ms = 300;
    config_.limits.kill_grace_ms = 300;
    program("echo '{\"progress\":1}'; sleep 30; echo '{\"late\":true}'");
    Job failed = run(queued_job());
    EXPECT_EQ(failed.status, JobStatus::failed);
    EXPECT_EQ(failed.failure->reason, "timeout");
    EXPECT_FALSE(failed.result);
    EXPECT_TRUE(failed.announced);
}

TEST_F(JobRunnerTest, StdoutPastTheCapFails) {
    config_.limits.max_stdout_bytes = 4096;
    program("yes '{\"progress\":1}'");
    Job failed = run(queued_job());
    EXPECT_EQ(failed.status, JobStatus::failed);
    EXPECT_EQ(failed.failure->reason, "output_too_large");
}

TEST_F(JobRunnerTest, AProgramThatCannotStartIsASpawnFailure) {
    auto exec = ArgvTemplate::parse(base_ + "/missing-program {input}");
    ASSERT_TRUE(exec.ok());
    config_.exec = *exec;
    Job failed = run(queued_job());
    EXPECT_EQ(failed.status, JobStatus::failed);
    EXPECT_EQ(failed.failure->reason, "spawn");
    EXPECT_NE(failed.failure->message.find("missing-program"), std::string::npos);
}

TEST_F(JobRunnerTest, AStoppingAppInterruptsTheProgramAndReportsIt) {
    program("sleep 30");
    stop_ = true;
    Job job = queued_job();
    Job failed = run(job);
    EXPECT_EQ(failed.status, JobStatus::failed);
    EXPECT_EQ(failed.failure->reason, "interrupted");
    EXPECT_TRUE(failed.announced);
    auto events = journaled(store_->outbox_dir());
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].id, job.id + ":failed");
}

TEST_F(JobRunnerTest, WithRerunAnInterruptedJobStaysRunningForTheNextStart) {
    config_.rerun_interrupted = true;
    program("sleep 30");
    stop_ = true;
    Job job = queued_job();
    Job left = run(job);
    EXPECT_EQ(left.status, JobStatus::running);
    EXPECT_FALSE(left.failure.has_value());
    EXPECT_FALSE(left.announced);
    EXPECT_EQ(keys_of(events_of(pushes_->waiting())),
              (std::vector<std::string>{"job.started " + job.id + ":started"}))
        << "no final event: the next start runs it again";
}

TEST_F(JobRunnerTest, ASecondAttemptHasKeysOfItsOwn) {
    program("echo '{\"progress\":40}'; echo '{\"ok\":true}'");
    Job job = queued_job(2);
    Job done = run(job);
    EXPECT_EQ(done.status, JobStatus::done);
    EXPECT_EQ(done.attempt, 2);
    EXPECT_EQ(keys_of(events_of(pushes_->waiting())),
              (std::vector<std::string>{"job.started " + job.id + ":a2:started",
                                        "job.progress " + job.id + ":a2:progress:1",
                                        "job.done " + job.id + ":a2:done"}));
}

TEST_F(JobRunnerTest, APercentageSeenAgainInALaterStageIsANewEventNotARepeat) {
    program(R"(echo '{"progress":50,"stage":"a"}'; echo '{"progress":100,"stage":"a"}'
echo '{"progress":50,"stage":"b"}'; echo '{"ok":true}')");
    Job job = queued_job();
    run(job);
    EXPECT_EQ(keys_of(events_of(pushes_->waiting())),
              (std::vector<std::string>{
                  "job.started " + job.id + ":started", "job.progress " + job.id + ":progress:1",
                  "job.progress " + job.id + ":progress:2",
                  "job.progress " + job.id + ":progress:3", "job.done " + job.id + ":done"}))
        << "with the percentage as its key, the second 50 was taken for the first";
}

TEST_F(JobRunnerTest, AJobThatCannotBeLoadedIsSkipped) {
    program("echo '{\"ok\":true}'");
    JobRunner runner(config_, *store_, *pushes_, waiters_, stop_);
    runner.run(new_job_id());
    EXPECT_TRUE(journaled(store_->outbox_dir()).empty());
}

}  // namespace
}  // namespace rp::app
