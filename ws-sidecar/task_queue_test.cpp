#include "task_queue.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace rp::sidecar {
namespace {

TEST(TaskQueue, NothingRunsUntilTheLoopAsks) {
    TaskQueue queue;
    int ran = 0;
    queue.post([&] { ++ran; });
    EXPECT_EQ(ran, 0);
    EXPECT_EQ(queue.run_posted(), 1u);
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(queue.run_posted(), 0u) << "a task runs once";
    EXPECT_EQ(ran, 1);
}

TEST(TaskQueue, TasksRunInTheOrderTheyWerePosted) {
    TaskQueue queue;
    std::vector<int> order;
    for (int i = 0; i < 5; ++i) queue.post([&order, i] { order.push_back(i); });
    queue.run_posted();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TaskQueue, ATaskThatThrowsDoesNotDropTheOthers) {
    TaskQueue queue;
    std::vector<int> order;
    queue.post([&] { order.push_back(1); });
    queue.post([] { throw std::runtime_error("this request failed"); });
    queue.post([&] { order.push_back(3); });
    EXPECT_EQ(queue.run_posted(), 3u);
    EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

// What a task posts (expiry going on in the next turn, say) waits for the next call: one call
// never runs for ever.
TEST(TaskQueue, WhatATaskPostsRunsOnTheNextCall) {
    TaskQueue queue;
    int ran = 0;
    queue.post([&] {
        ++ran;
        queue.post([&] { ran += 10; });
    });
    EXPECT_EQ(queue.run_posted(), 1u);
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(queue.run_posted(), 1u);
    EXPECT_EQ(ran, 11);
}

TEST(TaskQueue, EveryTaskPostedFromManyThreadsRunsOnceOnTheLoopThread) {
    TaskQueue queue;
    constexpr int kThreads = 4;
    constexpr int kEach = 2000;
    std::vector<int> seen(kThreads * kEach, 0);  // written by the loop thread only
    std::vector<std::thread> posters;
    for (int t = 0; t < kThreads; ++t) {
        posters.emplace_back([&queue, &seen, t] {
            for (int i = 0; i < kEach; ++i) queue.post([&seen, t, i] { ++seen[t * kEach + i]; });
        });
    }
    std::size_t ran = 0;
    while (ran < seen.size()) ran += queue.run_posted();
    for (auto& poster : posters) poster.join();
    ran += queue.run_posted();
    EXPECT_EQ(ran, seen.size());
    for (int count : seen) ASSERT_EQ(count, 1);
}

// The owner wakes the loop only when post() says so: once per burst, since the loop takes
// the whole queue.
TEST(TaskQueue, OnlyThePostIntoAnEmptyQueueAsksForAWakeUp) {
    TaskQueue queue;
    EXPECT_TRUE(queue.post([] {}));
    EXPECT_FALSE(queue.post([] {}));
    EXPECT_FALSE(queue.post([] {}));
    EXPECT_EQ(queue.run_posted(), 3u);
    EXPECT_TRUE(queue.post([] {}));
}

}  // namespace
}  // namespace rp::sidecar
