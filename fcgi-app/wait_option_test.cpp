#include "wait_option.h"

#include <gtest/gtest.h>

namespace rp::app {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kCap(100000);

std::optional<milliseconds> wait_of(const std::string& query, const std::string& prefer) {
    auto wait = requested_wait(query, prefer, kCap);
    EXPECT_TRUE(wait.ok()) << query << " / " << prefer;
    return wait ? *wait : std::nullopt;
}

TEST(WaitOption, NoneMeansAnswerAtOnce) {
    EXPECT_EQ(wait_of("", ""), std::nullopt);
    EXPECT_EQ(wait_of("other=1", "respond-async"), std::nullopt);
    EXPECT_EQ(wait_of("wait=0", ""), std::nullopt);
}

TEST(WaitOption, QueryAndPreferInSecondsWithFractions) {
    EXPECT_EQ(wait_of("wait=10", ""), milliseconds(10000));
    EXPECT_EQ(wait_of("a=b&wait=0.5", ""), milliseconds(500));
    EXPECT_EQ(wait_of("", "wait=3"), milliseconds(3000));
    EXPECT_EQ(wait_of("", "respond-async, wait=2"), milliseconds(2000));
    EXPECT_EQ(wait_of("", "handling=lenient; x=y, wait = 4"), std::nullopt)
        << "spaces around = are not RFC 7240";
    EXPECT_EQ(wait_of("", "handling=lenient, wait=4"), milliseconds(4000));
}

TEST(WaitOption, QueryWinsOverPrefer) {
    EXPECT_EQ(wait_of("wait=1", "wait=9"), milliseconds(1000));
}

TEST(WaitOption, CappedSoThatNginxNeverTimesOutFirst) {
    EXPECT_EQ(wait_of("wait=100000", ""), kCap);
    EXPECT_EQ(wait_of("", "wait=1e9"), kCap);
}

TEST(WaitOption, BadQueryIsAnErrorBadPreferIsIgnored) {
    for (const char* query : {"wait=", "wait=abc", "wait=-1", "wait=nan", "wait=inf", "wait=1s"}) {
        auto wait = requested_wait(query, "", kCap);
        ASSERT_FALSE(wait.ok()) << query;
        EXPECT_EQ(wait.error().code, "invalid_wait");
    }
    EXPECT_EQ(wait_of("", "wait=soon"), std::nullopt);
}

}  // namespace
}  // namespace rp::app
