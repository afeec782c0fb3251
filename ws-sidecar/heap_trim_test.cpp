#include "heap_trim.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

using namespace std::chrono_literals;

int trims = 0;
void count_trim() { ++trims; }

class HeapTrimTest : public testing::Test {
protected:
    void SetUp() override { trims = 0; }
    HeapTrim::Clock::time_point start{std::chrono::hours(1)};
    HeapTrim trim{start, count_trim};
};

TEST_F(HeapTrimTest, AQuietSidecarTrimsEvery15Seconds) {
    EXPECT_FALSE(trim.after_turn(10, start + 1s));
    EXPECT_FALSE(trim.after_turn(10, start + 14s));
    EXPECT_TRUE(trim.after_turn(10, start + 15s));
    EXPECT_EQ(trims, 1);
    EXPECT_FALSE(trim.after_turn(10, start + 29s));
    EXPECT_TRUE(trim.after_turn(10, start + 30s));
    EXPECT_EQ(trims, 2);
}

TEST_F(HeapTrimTest, HalfOfAManySessionPeakClosedTrimsSoon) {
    EXPECT_FALSE(trim.after_turn(1000, start + 1s));
    EXPECT_FALSE(trim.after_turn(500, start + 1900ms)) << "not within 2 s of the last trim";
    EXPECT_TRUE(trim.after_turn(500, start + 2s));
    EXPECT_EQ(trims, 1);
    // The peak starts again from what is left: 500 -> 300 is not half of it.
    EXPECT_FALSE(trim.after_turn(300, start + 5s));
    EXPECT_TRUE(trim.after_turn(250, start + 5s));
}

TEST_F(HeapTrimTest, FewerThanHalfClosedWaitsFor15Seconds) {
    EXPECT_FALSE(trim.after_turn(1000, start + 1s));
    EXPECT_FALSE(trim.after_turn(501, start + 5s));
    EXPECT_EQ(trims, 0);
}

TEST_F(HeapTrimTest, ASmallPeakIsNotWorthAnEarlyTrim) {
    EXPECT_FALSE(trim.after_turn(255, start + 1s));
    EXPECT_FALSE(trim.after_turn(0, start + 5s));
    EXPECT_FALSE(trim.after_turn(256, start + 5s));
    EXPECT_TRUE(trim.after_turn(128, start + 5s));
}

}  // namespace
}  // namespace rp::sidecar
