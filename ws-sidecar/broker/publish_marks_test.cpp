#include "publish_marks.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

constexpr const char* kMinute1 = "rp:{a}:own:1";
constexpr const char* kMinute2 = "rp:{a}:own:2";

// What the broker does: ask for the flags, and mark them told once Redis ran the publish.
std::string run(PublishMarks& marks, const std::string& room, std::string_view own_hash,
                int64_t now_ms) {
    std::string flags = marks.flags(room, own_hash, now_ms);
    marks.told(room, own_hash, flags, now_ms);
    return flags;
}

TEST(PublishMarks, TheFirstPublishToARoomExpiresAndRenews) {
    PublishMarks marks(600);  // renewed every 60 s
    EXPECT_EQ(run(marks, "a", kMinute1, 0), "er");
    EXPECT_EQ(run(marks, "a", kMinute1, 1000), "");
    EXPECT_EQ(run(marks, "b", "", 1000), "r");  // the caller's own id: no hash to expire
    EXPECT_EQ(run(marks, "b", "", 2000), "");
}

TEST(PublishMarks, ANewMinuteExpiresItsOwnHash) {
    PublishMarks marks(600);
    EXPECT_EQ(run(marks, "a", kMinute1, 0), "er");
    EXPECT_EQ(run(marks, "a", kMinute2, 30000), "e");
    EXPECT_EQ(run(marks, "a", kMinute2, 30001), "");
    EXPECT_EQ(run(marks, "a", "", 30002), "");  // with an id of the caller's: nothing to expire
}

TEST(PublishMarks, TheRoomIsRenewedOnceATenthOfItsTtlHasPassed) {
    PublishMarks marks(600);
    EXPECT_EQ(run(marks, "a", "", 0), "r");
    EXPECT_EQ(run(marks, "a", "", 59999), "");
    EXPECT_EQ(run(marks, "a", "", 60000), "r");
    EXPECT_EQ(run(marks, "a", "", 60001), "");
}

TEST(PublishMarks, NothingCountsAsToldUntilRedisRanIt) {
    PublishMarks marks(600);
    // Two publishes flagged before either is answered: both carry the flags.
    EXPECT_EQ(marks.flags("a", kMinute1, 0), "er");
    EXPECT_EQ(marks.flags("a", kMinute1, 1), "er");
    // The first failed (never told); the second ran.
    marks.told("a", kMinute1, "er", 1);
    EXPECT_EQ(marks.flags("a", kMinute1, 2), "");
}

TEST(PublishMarks, WhatWasNotFlaggedIsNotTold) {
    PublishMarks marks(600);
    run(marks, "a", kMinute1, 0);
    marks.told("a", kMinute2, "", 70000);  // ran without flags: renews nothing, expires nothing
    EXPECT_EQ(marks.flags("a", kMinute2, 70001), "er");
}

TEST(PublishMarks, ANewConnectionForgetsEverything) {
    PublishMarks marks(600);
    run(marks, "b", kMinute1, 0);
    marks.forget_all();
    EXPECT_EQ(marks.flags("b", kMinute1, 2), "er");
}

TEST(PublishMarks, TooManyRoomsForgetsThemAll) {
    PublishMarks marks(600);
    for (std::size_t i = 0; i < PublishMarks::kMaxRooms; ++i) run(marks, std::to_string(i), "", 0);
    EXPECT_EQ(marks.size(), PublishMarks::kMaxRooms);
    EXPECT_EQ(run(marks, "0", "", 1), "");  // one it knows: nothing forgotten
    EXPECT_EQ(run(marks, "new", "", 1), "r");
    EXPECT_EQ(marks.size(), 1u);
    EXPECT_EQ(run(marks, "0", "", 2), "r");
}

TEST(PublishMarks, OnlyALeadingNMeansFirstSend) {
    EXPECT_TRUE(is_first_send("n"));
    EXPECT_TRUE(is_first_send("ner"));
    EXPECT_FALSE(is_first_send("er"));
    EXPECT_FALSE(is_first_send(""));
}

}  // namespace
}  // namespace rp::sidecar
