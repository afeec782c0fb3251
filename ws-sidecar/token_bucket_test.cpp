#include "token_bucket.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

constexpr int64_t kStart = 1'000'000;

TEST(TokenBucket, AllowsTheBurstThenTheRate) {
    TokenRate rate{.per_second = 2, .burst = 3};
    TokenBucket bucket;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.take(rate, kStart)) << i;
    EXPECT_FALSE(bucket.take(rate, kStart)) << "the burst is spent";
    EXPECT_EQ(bucket.wait_ms(rate), 501);
    EXPECT_FALSE(bucket.take(rate, kStart + 400));
    EXPECT_TRUE(bucket.take(rate, kStart + 500)) << "half a second gives one token at 2/s";
    EXPECT_FALSE(bucket.take(rate, kStart + 500));
}

TEST(TokenBucket, RefillsNoFurtherThanTheBurst) {
    TokenRate rate{.per_second = 100, .burst = 2};
    TokenBucket bucket;
    EXPECT_TRUE(bucket.take(rate, kStart));
    int granted = 0;
    for (int i = 0; i < 10; ++i) granted += bucket.take(rate, kStart + 60'000) ? 1 : 0;
    EXPECT_EQ(granted, 2) << "a minute idle is worth `burst`, not 6,000";
}

TEST(TokenBucket, AClockThatGoesBackGrantsNothingExtra) {
    TokenRate rate{.per_second = 1, .burst = 1};
    TokenBucket bucket;
    EXPECT_TRUE(bucket.take(rate, kStart));
    EXPECT_FALSE(bucket.take(rate, kStart - 5000));
}

}  // namespace
}  // namespace rp::sidecar
