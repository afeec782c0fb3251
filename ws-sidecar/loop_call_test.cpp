#include "loop_call.h"

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

// A loop that runs what was posted only when the test says so.
struct ManualLoop {
    std::mutex mutex;
    std::vector<std::function<void()>> tasks;

    void post(std::function<void()> task) {
        std::lock_guard lock(mutex);
        tasks.push_back(std::move(task));
    }
    void run_posted() {
        std::vector<std::function<void()>> batch;
        {
            std::lock_guard lock(mutex);
            batch.swap(tasks);
        }
        for (auto& task : batch) task();
    }
};

TEST(CallOnLoop, AnswersWithTheResultOfTheWorkDoneOnTheLoop) {
    ManualLoop loop;
    std::thread runner([&] {
        std::this_thread::sleep_for(20ms);
        loop.run_posted();
    });
    auto answer = call_on_loop(
        loop, [] { return 42; }, 5s);
    runner.join();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(*answer, 42);
}

TEST(CallOnLoop, WorkTheCallerGaveUpOnIsNeverDoneLater) {
    ManualLoop loop;
    int done = 0;
    auto answer = call_on_loop(
        loop, [&] { return ++done; }, 30ms);
    EXPECT_FALSE(answer.has_value());
    loop.run_posted();  // the loop comes back after the caller answered "unavailable"
    EXPECT_EQ(done, 0);
}

TEST(CallOnLoop, WorkTheLoopTookUpInTimeIsAnsweredEvenIfItFinishesLate) {
    ManualLoop loop;
    std::thread runner([&] {
        std::this_thread::sleep_for(10ms);
        loop.run_posted();
    });
    auto answer = call_on_loop(
        loop,
        [] {
            std::this_thread::sleep_for(150ms);  // started within patience, finished after it
            return 7;
        },
        50ms);
    runner.join();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(*answer, 7);
}

TEST(CallOnLoop, AnExceptionFromTheWorkReachesTheCaller) {
    ManualLoop loop;
    std::thread runner([&] {
        std::this_thread::sleep_for(10ms);
        loop.run_posted();
    });
    auto call = [&] {
        return call_on_loop(
            loop, []() -> int { throw std::runtime_error("broken"); }, 5s);
    };
    EXPECT_THROW(call(), std::runtime_error);
    runner.join();
}

}  // namespace
}  // namespace rp::sidecar
