#include "job_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rp::app {
namespace {

using namespace std::chrono_literals;

// What the workers ran, in order; a run can be held until the test opens the gate.
class Recorder {
public:
    void run(const std::string& id) {
        std::unique_lock lock(mutex_);
        started_.push_back(id);
        changed_.notify_all();
        changed_.wait(lock, [&] { return open_; });
        finished_.push_back(id);
        changed_.notify_all();
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    void close() {
        std::lock_guard lock(mutex_);
        open_ = false;
    }
    // Generous: the machine may be loaded; a pass never waits this long.
    bool wait_started(std::size_t count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, 10s, [&] { return started_.size() >= count; });
    }
    bool wait_finished(std::size_t count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, 10s, [&] { return finished_.size() >= count; });
    }
    std::vector<std::string> started() {
        std::lock_guard lock(mutex_);
        return started_;
    }
    std::vector<std::string> finished() {
        std::lock_guard lock(mutex_);
        return finished_;
    }
    std::function<void(const std::string&)> callback() {
        return [this](const std::string& id) { run(id); };
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = true;
    std::vector<std::string> started_;
    std::vector<std::string> finished_;
};

TEST(JobQueue, RefusesPastItsCapacityWithoutAcceptingTheJob) {
    Recorder recorder;
    JobQueue queue(2, 1, recorder.callback());  // not started: nothing leaves the queue
    int accepted = 0;
    EXPECT_TRUE(queue.try_push("a", [&] { ++accepted; }));
    EXPECT_TRUE(queue.try_push("b", [&] { ++accepted; }));
    EXPECT_FALSE(queue.try_push("c", [&] { ++accepted; }));
    EXPECT_EQ(accepted, 2) << "on_accepted runs for accepted jobs only";
    EXPECT_EQ(queue.depth(), 2u);
    EXPECT_EQ(queue.running(), 0u);
}

TEST(JobQueue, ACapacityOfZeroTakesNothing) {
    Recorder recorder;
    JobQueue queue(0, 1, recorder.callback());
    EXPECT_FALSE(queue.try_push("a", [] {}));
    EXPECT_EQ(queue.depth(), 0u);
}

TEST(JobQueue, RecoveredJobsPassTheBoundAndNewOnesWaitForRoom) {
    Recorder recorder;
    JobQueue queue(2, 1, recorder.callback());
    for (const char* id : {"r1", "r2", "r3"}) queue.push_recovered(id);
    EXPECT_EQ(queue.depth(), 3u);
    EXPECT_FALSE(queue.try_push("new", [] {})) << "the queue is over its bound";
    queue.start();
    ASSERT_TRUE(recorder.wait_finished(3));
    EXPECT_TRUE(queue.try_push("new", [] {}));
    ASSERT_TRUE(recorder.wait_finished(4));
    queue.stop();
}

TEST(JobQueue, OneWorkerRunsJobsInTheirOrder) {
    Recorder recorder;
    JobQueue queue(8, 1, recorder.callback());
    queue.push_recovered("r");
    for (const char* id : {"a", "b", "c", "d"}) ASSERT_TRUE(queue.try_push(id, [] {}));
    queue.start();
    ASSERT_TRUE(recorder.wait_finished(5));
    EXPECT_EQ(recorder.finished(), (std::vector<std::string>{"r", "a", "b", "c", "d"}));
    EXPECT_EQ(queue.depth(), 0u);
    queue.stop();
}

TEST(JobQueue, AJobToRetryRunsWhenDueAndInDueOrder) {
    Recorder recorder;
    JobQueue queue(8, 1, recorder.callback());
    queue.start();
    auto now = std::chrono::steady_clock::now();
    queue.push_later(QueuedJob{"late"}, now + 300ms);
    queue.push_later(QueuedJob{"soon"}, now + 100ms);
    queue.push_later(QueuedJob{"gone"}, now + 150ms);
    EXPECT_EQ(queue.depth(), 3u) << "waiting to be retried counts as queued";
    EXPECT_TRUE(queue.remove("gone")) << "a job waiting for its retry can be cancelled";
    EXPECT_FALSE(queue.remove("gone"));
    ASSERT_TRUE(queue.try_push("now", [] {}));
    ASSERT_TRUE(recorder.wait_finished(3));
    auto took = std::chrono::steady_clock::now() - now;
    EXPECT_EQ(recorder.finished(), (std::vector<std::string>{"now", "soon", "late"}));
    EXPECT_GE(took, 300ms) << "not before it is due";
    EXPECT_EQ(queue.depth(), 0u);
    queue.stop();
}

TEST(JobQueue, ARetryCancelledWhileAWorkerSleepsUntilItIsHarmless) {
    Recorder recorder;
    JobQueue queue(8, 1, recorder.callback());
    queue.start();
    queue.push_later(QueuedJob{"retry"}, std::chrono::steady_clock::now() + 150ms);
    std::this_thread::sleep_for(50ms);  // the worker sleeps until the retry is due
    EXPECT_TRUE(queue.remove("retry"));
    std::this_thread::sleep_for(200ms);  // it wakes at the removed entry's time (ASan: no read)
    ASSERT_TRUE(queue.try_push("after", [] {}));
    ASSERT_TRUE(recorder.wait_finished(1));
    EXPECT_EQ(recorder.finished(), std::vector<std::string>{"after"});
    queue.stop();
}

TEST(JobQueue, HigherPriorityRunsFirstAndEqualsInTheirOrder) {
    Recorder recorder;
    JobQueue queue(8, 1, recorder.callback());
    for (auto [id, priority] : std::vector<std::pair<const char*, int>>{
             {"a", 0}, {"b", 5}, {"c", 0}, {"d", 9}, {"e", 5}}) {
        ASSERT_EQ(queue.try_push(QueuedJob{id, "r", priority}, [] {}),
                  JobQueue::Admission::accepted);
    }
    queue.start();
    ASSERT_TRUE(recorder.wait_finished(5));
    EXPECT_EQ(recorder.finished(), (std::vector<std::string>{"d", "b", "e", "a", "c"}));
    queue.stop();
}

TEST(JobQueue, ARoomPastItsCapIsRefusedAndItsBurstLeavesWorkersToOtherRooms) {
    Recorder recorder;
    recorder.close();  // every run waits until the test opens the gate
    JobQueue queue(16, 2, recorder.callback(), RoomLimits{3, 1});
    for (const char* id : {"busy1", "busy2", "busy3"}) {
        ASSERT_EQ(queue.try_push(QueuedJob{id, "busy"}, [] {}), JobQueue::Admission::accepted);
    }
    bool announced = false;
    EXPECT_EQ(queue.try_push(QueuedJob{"busy4", "busy"}, [&] { announced = true; }),
              JobQueue::Admission::room_full);
    EXPECT_FALSE(announced) << "a refused job is not announced";
    ASSERT_EQ(queue.try_push(QueuedJob{"calm1", "calm"}, [] {}), JobQueue::Admission::accepted);
    queue.start();
    ASSERT_TRUE(recorder.wait_started(2));
    // One worker has busy1; the other skips busy2 and busy3 (their room runs its one) for calm1.
    std::vector<std::string> started = recorder.started();
    std::sort(started.begin(), started.end());
    EXPECT_EQ(started, (std::vector<std::string>{"busy1", "calm1"}));
    EXPECT_EQ(queue.running(), 2u);
    recorder.open();
    ASSERT_TRUE(recorder.wait_finished(4));
    EXPECT_EQ(queue.try_push(QueuedJob{"busy5", "busy"}, [] {}), JobQueue::Admission::accepted)
        << "room again once its jobs ran";
    ASSERT_TRUE(recorder.wait_finished(5));
    queue.stop();
}

TEST(JobQueue, WorkersRunJobsAtOnceAndCountThem) {
    Recorder recorder;
    recorder.close();
    JobQueue queue(8, 2, recorder.callback());
    queue.start();
    for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(queue.try_push(id, [] {}));
    ASSERT_TRUE(recorder.wait_started(2));
    EXPECT_EQ(queue.running(), 2u);
    EXPECT_EQ(queue.depth(), 1u) << "two workers, so one job still waits";
    recorder.open();
    ASSERT_TRUE(recorder.wait_finished(3));
    EXPECT_TRUE(queue.wait_idle(10s));
    EXPECT_EQ(queue.running(), 0u);
    queue.stop();
}

TEST(JobQueue, WaitIdleWaitsForTheRunningJob) {
    Recorder recorder;
    recorder.close();
    JobQueue queue(8, 1, recorder.callback());
    queue.start();
    ASSERT_TRUE(queue.try_push("a", [] {}));
    ASSERT_TRUE(recorder.wait_started(1));
    EXPECT_FALSE(queue.wait_idle(20ms)) << "a job is still running";
    std::thread opener([&] {
        std::this_thread::sleep_for(50ms);
        recorder.open();
    });
    EXPECT_TRUE(queue.wait_idle(10s));
    opener.join();
    EXPECT_EQ(recorder.finished(), (std::vector<std::string>{"a"}));
    queue.stop();
}

TEST(JobQueue, AnIdleQueueIsIdleAtOnce) {
    Recorder recorder;
    JobQueue queue(8, 1, recorder.callback());
    EXPECT_TRUE(queue.wait_idle(0ms));
}

TEST(JobQueue, StopTakingLeavesQueuedJobsAndLetsTheRunningOneFinish) {
    Recorder recorder;
    recorder.close();
    JobQueue queue(8, 1, recorder.callback());
    queue.start();
    ASSERT_TRUE(queue.try_push("running", [] {}));
    ASSERT_TRUE(recorder.wait_started(1));
    ASSERT_TRUE(queue.try_push("waiting", [] {}));
    queue.stop_taking();
    EXPECT_FALSE(queue.try_push("late", [] { ADD_FAILURE() << "accepted while stopping"; }));
    recorder.open();
    EXPECT_TRUE(queue.wait_idle(10s));
    queue.join();
    EXPECT_EQ(recorder.started(), (std::vector<std::string>{"running"}));
    EXPECT_EQ(recorder.finished(), (std::vector<std::string>{"running"}));
    EXPECT_EQ(queue.depth(), 1u) << "the queued job stays for the next start";
}

TEST(JobQueue, StopWithoutStartAndTwiceIsHarmless) {
    Recorder recorder;
    JobQueue queue(8, 2, recorder.callback());
    ASSERT_TRUE(queue.try_push("a", [] {}));
    queue.stop();
    queue.stop();
    EXPECT_TRUE(recorder.started().empty());
}

}  // namespace
}  // namespace rp::app
