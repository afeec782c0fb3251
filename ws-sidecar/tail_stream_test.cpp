#include "tail_stream.h"

#include <gtest/gtest.h>

#include <thread>

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

TEST(TailStream, HandsOverWhatArrivedInOrder) {
    TailStream stream(1000);
    stream.push(make_frame("one"));
    stream.push(make_frame("two"));
    TailStream::Batch batch = stream.wait(0ms);
    ASSERT_EQ(batch.frames.size(), 2u);
    EXPECT_EQ(batch.frames[0]->text(), "one");
    EXPECT_EQ(batch.frames[1]->text(), "two");
    EXPECT_FALSE(batch.ended);
    EXPECT_TRUE(stream.wait(0ms).frames.empty()) << "taken once";
}

TEST(TailStream, WaitsForAFrameFromAnotherThread) {
    TailStream stream(1000);
    std::thread loop([&] {
        std::this_thread::sleep_for(20ms);
        stream.push(make_frame("late"));
    });
    TailStream::Batch batch = stream.wait(5s);
    loop.join();
    ASSERT_EQ(batch.frames.size(), 1u);
    EXPECT_EQ(batch.frames[0]->text(), "late");
}

TEST(TailStream, FallingBehindByMoreThanTheLimitEndsItAsASlowConsumer) {
    TailStream stream(10);
    stream.push(make_frame("12345"));
    stream.push(make_frame("12345"));  // exactly at the limit: kept
    stream.push(make_frame("x"));      // past it
    TailStream::Batch batch = stream.wait(0ms);
    EXPECT_TRUE(batch.frames.empty()) << "what was queued is dropped";
    EXPECT_TRUE(batch.ended);
    EXPECT_EQ(batch.reason, "slow_consumer");
}

TEST(TailStream, DrainingMakesRoomAgain) {
    TailStream stream(10);
    stream.push(make_frame("1234567890"));
    EXPECT_EQ(stream.wait(0ms).frames.size(), 1u);
    stream.push(make_frame("1234567890"));
    EXPECT_FALSE(stream.wait(0ms).ended);
}

TEST(TailStream, TheFirstEndCountsAndNothingFollowsIt) {
    TailStream stream(1000);
    stream.push(make_frame("before"));
    stream.end("policy");
    stream.end("other");
    stream.push(make_frame("after"));
    TailStream::Batch batch = stream.wait(0ms);
    ASSERT_EQ(batch.frames.size(), 1u);
    EXPECT_EQ(batch.frames[0]->text(), "before");
    EXPECT_TRUE(batch.ended);
    EXPECT_EQ(batch.reason, "policy");
}

}  // namespace
}  // namespace rp::sidecar
