#include "publish_marks.h"

#include <gtest/gtest.h>

namespace rp::sidecar {
namespace {

constexpr const char* kMinute1 = "rp:{a}:own:1";
constexpr const char* kMinute2 = "rp:{a}:own:2";

TEST(PublishMarks, TheFirstPublishToARoomExpiresAndRenews) {
    PublishMarks marks(600);  // renewed every 60 s
    EXPECT_EQ(marks.flags("a", kMinute1, 0), "er");
    EXPECT_EQ(marks.flags("a", kMinute1, 1000), "");
    EXPECT_EQ(marks.flags("b", "", 1000), "r");  // the caller's own id: no hash to expire
    EXPECT_EQ(marks.flags("b", "", 2000), "");
}

TEST(PublishMarks, ANewMinuteExpiresItsOwnHash) {
    PublishMarks marks(600);
    EXPECT_EQ(marks.flags("a", kMinute1, 0), "er");
    EXPECT_EQ(marks.flags("a", kMinute2, 30000), "e");
    EXPECT_EQ(marks.flags("a", kMinute2, 30001), "");
    EXPECT_EQ(marks.flags("a", "", 30002), "");  // with an id of the caller's: nothing to expire
}

TEST(PublishMarks, TheRoomIsRenewedOnceATenthOfItsTtlHasPassed) {
    PublishMarks marks(600);
    EXPECT_EQ(marks.flags("a", "", 0), "r");
    EXPECT_EQ(marks.flags("a", "", 59999), "");
    EXPECT_EQ(marks.flags("a", "", 60000), "r");
    EXPECT_EQ(marks.flags("a", "", 60001), "");
}

TEST(PublishMarks, AFailedPublishOrANewConnectionForgets) {
    PublishMarks marks(600);
    marks.flags("a", kMinute1, 0);
    marks.flags("b", kMinute1, 0);
    marks.forget("a");
    EXPECT_EQ(marks.flags("a", kMinute1, 1), "er");
    EXPECT_EQ(marks.flags("b", kMinute1, 1), "");
    marks.forget_all();
    EXPECT_EQ(marks.flags("b", kMinute1, 2), "er");
}

TEST(PublishMarks, TooManyRoomsForgetsThemAll) {
    PublishMarks marks(600);
    for (std::size_t i = 0; i < PublishMarks::kMaxRooms; ++i) marks.flags(std::to_string(i), "", 0);
    EXPECT_EQ(marks.size(), PublishMarks::kMaxRooms);
    EXPECT_EQ(marks.flags("0", "", 1), "");  // one it knows: nothing forgotten
    EXPECT_EQ(marks.flags("new", "", 1), "r");
    EXPECT_EQ(marks.size(), 1u);
    EXPECT_EQ(marks.flags("0", "", 2), "r");
}

TEST(PublishMarks, OnlyALeadingNMeansFirstSend) {
    EXPECT_TRUE(is_first_send("n"));
    EXPECT_TRUE(is_first_send("ner"));
    EXPECT_FALSE(is_first_send("er"));
    EXPECT_FALSE(is_first_send(""));
}

}  // namespace
}  // namespace rp::sidecar
