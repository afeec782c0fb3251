#include "roompush/room_id.h"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(RoomId, AcceptsEveryAllowedCharacter) {
    EXPECT_TRUE(rp::is_valid_room_id("A"));
    EXPECT_TRUE(rp::is_valid_room_id("team-7:drawing_12.v2"));
    EXPECT_TRUE(
        rp::is_valid_room_id("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-"));
}

TEST(RoomId, LengthLimitIsInclusive) {
    EXPECT_TRUE(rp::is_valid_room_id(std::string(128, 'r')));
    EXPECT_FALSE(rp::is_valid_room_id(std::string(129, 'r')));
    EXPECT_FALSE(rp::is_valid_room_id(""));
}

TEST(RoomId, RefusesSeparatorsEncodingsAndControlBytes) {
    for (std::string bad : {"a/b", "a b", "a%20b", "../x", "a?b", "a#b", "a\nb", "é", "a*"}) {
        EXPECT_FALSE(rp::is_valid_room_id(bad)) << bad;
    }
    EXPECT_FALSE(rp::is_valid_room_id(std::string("a\0b", 3)));
}

TEST(RoomId, ErrorNamesTheRule) {
    auto status = rp::check_room_id("a/b");
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, "invalid_room");
    EXPECT_NE(status.error().message.find("A-Z"), std::string::npos);
    EXPECT_NE(rp::check_room_id(std::string(200, 'x')).error().message.find("200"),
              std::string::npos);
}

}  // namespace
