#include "job_waiters.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace rp::app {
namespace {

using namespace std::chrono_literals;

// Long enough never to be reached when the test passes, even on a loaded machine.
constexpr auto kPatience = 20s;

TEST(JobWaiters, AJobThatFinishedBeforeTheWaitIsNotMissed) {
    JobWaiters waiters;
    waiters.watch("a");
    waiters.finished("a");
    auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(waiters.wait("a", kPatience));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(JobWaiters, AFinishFromAnotherThreadWakesTheWaiter) {
    JobWaiters waiters;
    waiters.watch("a");
    waiters.watch("b");
    std::thread runner([&] {
        std::this_thread::sleep_for(30ms);
        waiters.finished("a");
    });
    EXPECT_TRUE(waiters.wait("a", kPatience));
    runner.join();
    EXPECT_FALSE(waiters.wait("b", 1ms)) << "only the job that finished";
}

TEST(JobWaiters, TwoWatchersOfOneJobBothHearItAndAForgetTakesOnlyItsOwn) {
    JobWaiters waiters;
    waiters.watch("a");  // an upload's ?wait
    waiters.watch("a");  // a DELETE of the same job
    waiters.watch("a");  // a DELETE that found nothing to do
    waiters.forget("a");
    auto first = std::async(std::launch::async, [&] { return waiters.wait("a", kPatience); });
    auto second = std::async(std::launch::async, [&] { return waiters.wait("a", kPatience); });
    std::this_thread::sleep_for(50ms);
    waiters.finished("a");
    EXPECT_TRUE(first.get());
    EXPECT_TRUE(second.get());
    EXPECT_FALSE(waiters.wait("a", 10ms)) << "both done: the job is not remembered";
}

TEST(JobWaiters, ATimeoutIsFalse) {
    JobWaiters waiters;
    waiters.watch("a");
    EXPECT_FALSE(waiters.wait("a", 20ms));
}

TEST(JobWaiters, WaitForgetsTheJob) {
    JobWaiters waiters;
    waiters.watch("a");
    waiters.finished("a");
    EXPECT_TRUE(waiters.wait("a", kPatience));
    EXPECT_FALSE(waiters.wait("a", 1ms)) << "a second wait sees no finish of its own";
}

TEST(JobWaiters, UnwatchedAndForgottenJobsAreNotRemembered) {
    JobWaiters waiters;
    waiters.finished("never-watched");  // the common case: nobody waits for the job
    EXPECT_FALSE(waiters.wait("never-watched", 1ms));
    waiters.watch("b");
    waiters.forget("b");
    waiters.finished("b");
    EXPECT_FALSE(waiters.wait("b", 1ms));
}

TEST(JobWaiters, ReleaseAllAnswersEveryWaiterAtOnce) {
    JobWaiters waiters;
    waiters.watch("a");
    waiters.watch("b");
    auto a = std::async(std::launch::async, [&] { return waiters.wait("a", kPatience); });
    auto b = std::async(std::launch::async, [&] { return waiters.wait("b", kPatience); });
    std::this_thread::sleep_for(30ms);
    auto released = std::chrono::steady_clock::now();
    waiters.release_all();
    ASSERT_EQ(a.wait_for(10s), std::future_status::ready);
    ASSERT_EQ(b.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(a.get());
    EXPECT_FALSE(b.get());
    EXPECT_LT(std::chrono::steady_clock::now() - released, 10s);
    // A stopping app keeps nobody: a wait that starts afterwards returns at once.
    waiters.watch("c");
    auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(waiters.wait("c", kPatience));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(JobWaiters, AFinishedJobStillCountsAfterRelease) {
    JobWaiters waiters;
    waiters.watch("a");
    waiters.finished("a");
    waiters.release_all();
    EXPECT_TRUE(waiters.wait("a", kPatience));
}

}  // namespace
}  // namespace rp::app
